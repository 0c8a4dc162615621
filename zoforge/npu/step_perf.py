"""A training step with its GEMMs on the NPU, predicted from a step measured on the CPU.

The CPU step is measured (the host's numpy GPT-2, ``benchmarks/npu_perf_model.py``) with a backend
that records every GEMM the model makes: its shape, which operand is a weight, and its CPU time, and
how many weight elements the resident-weight cache would convert (once per update and layout, as
zoforge/host/npu_buffers.py does). The NPU step is then

    CPU step - CPU GEMM time + sum over GEMMs of the predicted NPU call (array + host per call)
             + the predicted weight conversions

with no overlap between host and array (the backends run calls one after the other). Attention's
stacked products and everything that is not a GEMM stay on the CPU at their measured time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .design import GemmSpec, Shape, device_shape, perturbed_shape
from .perf import convert_s, predict

__all__ = ["GemmCall", "StepRecord", "StepPrediction", "predict_step"]


@dataclass(frozen=True)
class GemmCall:
    shape: Shape
    weight: str | None           # "A" or "B": the operand inside the weight vector; None: activations
    cpu_s: float
    perturbed: bool = False      # the tiles perturb the weight (B) of this call (a ``perturb=`` design)


@dataclass
class StepRecord:
    """One measured CPU step."""
    step_s: float
    calls: list[GemmCall] = field(default_factory=list)
    converted_elems: int = 0     # weight elements the resident cache converts in this step

    @property
    def gemm_s(self) -> float:
        return sum(call.cpu_s for call in self.calls)


@dataclass(frozen=True)
class StepPrediction:
    cpu_step_s: float
    cpu_gemm_s: float
    array_s: float               # the array's share of the offloaded GEMMs
    host_call_s: float           # per-call host work (dispatch, activation conversion, C out)
    convert_s: float             # resident weight conversions
    resident: bool

    @property
    def npu_gemm_s(self) -> float:
        return self.array_s + self.host_call_s + self.convert_s

    @property
    def step_s(self) -> float:
        return self.cpu_step_s - self.cpu_gemm_s + self.npu_gemm_s

    @property
    def gemm_speedup(self) -> float:
        return self.cpu_gemm_s / self.npu_gemm_s

    @property
    def speedup(self) -> float:
        return self.cpu_step_s / self.step_s


def predict_step(spec: GemmSpec, record: StepRecord, *, resident: bool = True) -> StepPrediction:
    """``resident=False`` prices the reference host: both operands converted on every call."""
    array = host = 0.0
    cache: dict[tuple, object] = {}
    for call in record.calls:
        run, transposed = ((perturbed_shape(spec, call.shape), False) if call.perturbed
                           else device_shape(spec, call.shape))
        role = call.weight if resident else None
        if role and transposed:              # C^T = B^T A^T: the weight changes sides
            role = "A" if role == "B" else "B"
        key = (run, role, call.perturbed)
        if key not in cache:
            cache[key] = predict(spec, run, resident=role, perturbed=call.perturbed)
        pr = cache[key]
        array += pr.array_s
        host += pr.host_s
    conv = convert_s(spec, record.converted_elems) if resident else 0.0
    return StepPrediction(record.step_s, record.gemm_s, array, host, conv, resident)
