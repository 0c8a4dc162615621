"""The GEMM design for the NPU: one spec (``gemm:...``) plus the set of (M, K, N) shapes it serves.

The spec fixes everything that goes into the xclbin: device, array part used (cols x rows cores), the
per-core tile m x k x n, dtypes, B's layout and the fifo depth. The shapes are not part of the spec
string: one xclbin serves many shapes through run-time parameters and one instruction stream per shape
(the reference design, docs/references.md#npu-reference-design), so :class:`GemmDesign` pairs a spec with them.

Validation is eager at both levels: a :class:`GemmSpec` that exists fits the hardware (rules that need
no shape, see :mod:`.validate`), and a :class:`GemmDesign` that exists can run every shape it lists.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from ..golden.spec import Spec, SpecError, param, preset, register
from .hardware import DEVICES, DTYPE_BYTES, MAC_DIMS
from .perturb import pool_presets

__all__ = ["GemmSpec", "GemmDesign", "DesignError", "Shape", "Matmul", "gpt2_matmuls", "gpt2_shapes", "device_shape",
           "parse_shape", "parse_shapes"]

# Spec keys that are Python keywords: field name -> key in the spec string.
_KEYS = {"dtype_in": "in", "dtype_out": "out"}
_FIELDS = {v: k for k, v in _KEYS.items()}
# Input -> output dtypes the emulated micro-kernels model (narrower integer outputs would need the
# kernels' saturation behaviour, which is not documented; see docs/references.md#npu-mm-kernel).
DTYPE_PAIRS = {"bf16": ("f32", "bf16"), "i8": ("i32",), "i16": ("i32",)}


class DesignError(SpecError):
    """A design cannot run a shape it lists; one line naming the shape and the rule."""


@register
@dataclass(frozen=True, kw_only=True, init=False)
class GemmSpec(Spec):
    """Whole-array GEMM C = A @ B on a Ryzen AI NPU; each core computes m x n tiles of C, k at a time."""

    KIND = "gemm"
    SUMMARY = "NPU GEMM tile design (IRON): cols x rows cores, m x k x n per core, bf16/int inputs"

    device: str = param("npu1", choices=tuple(DEVICES), doc="npu1 = Phoenix/Hawk Point, npu2 = Strix")
    cols: int = param(4, lo=1, hi=8, doc="array columns used", shown="an integer in [1, 4] (npu1) or [1, 8] (npu2)")
    rows: int = param(4, lo=1, hi=4, doc="compute rows used per column")
    m: int = param(64, lo=1, hi=1024, doc="rows of A and C per core tile", shown="a multiple of the micro-tile in [1, 1024]")
    k: int = param(64, lo=1, hi=1024, doc="reduction depth per kernel call", shown="a multiple of the micro-tile in [1, 1024]")
    n: int = param(32, lo=1, hi=1024, doc="columns of B and C per core tile", shown="a multiple of the micro-tile in [1, 1024]")
    dtype_in: str = param("bf16", choices=tuple(DTYPE_PAIRS), doc="A and B element type (key `in`)")
    dtype_out: str = param("f32", choices=("f32", "bf16", "i32"), doc="C element type (key `out`)")
    b_layout: str = param("col", choices=("col", "row"), doc="B in host memory: col = (N, K) like llm.c weights")
    depth: int = param(2, lo=1, hi=4, doc="objects per fifo (2 = double buffering)")
    c_depth: int = param(0, lo=0, hi=4, doc="objects per C fifo; 0 = depth. 1 frees L1 for a wider n: "
                                            "fewer column blocks, so A crosses the shim fewer times")
    rounding: str = param("rne", choices=("rne", "trunc"), doc="fp32 -> bf16 of C after each call (out=bf16)")
    perturb: str = param("none", choices=("none", *pool_presets()),
                         doc="PeZO perturbation of B inside the tile: none or a pool preset's name")

    def __init__(self, **values):
        # Accept both spec-string keys (in, out) and field names, so parse() and replace() both work.
        for f in dataclasses.fields(self):
            key = _KEYS.get(f.name, f.name)
            if key in values and f.name in values and key != f.name:
                raise TypeError(f"gemm: both {key!r} and {f.name!r} given")
            value = values.pop(key, values.pop(f.name, f.default))
            object.__setattr__(self, f.name, value)
        if values:
            raise TypeError(f"gemm: unknown parameter(s) {', '.join(values)}")
        self.__post_init__()

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            f.metadata["allowed"].check(self.KIND, _KEYS.get(f.name, f.name), getattr(self, f.name))
        self.validate()

    @classmethod
    def parameters(cls):
        return [(_KEYS.get(name, name), default, allowed) for name, default, allowed in super().parameters()]

    def __str__(self) -> str:
        # perturb=none is left out, so the text of every design without it is what it always was
        return f"{self.KIND}:" + ",".join(f"{_KEYS.get(f.name, f.name)}={getattr(self, f.name)}"
                                          for f in dataclasses.fields(self)
                                          if not (f.name == "perturb" and self.perturb == "none"))

    def fail(self, name: str, message: str) -> None:
        raise SpecError(f"{self.KIND}: {_KEYS.get(name, name)}={getattr(self, _FIELDS.get(name, name))} {message}")

    def validate(self) -> None:
        from .validate import spec_violations     # the validator reads the spec; import late
        found = spec_violations(self)
        if found:
            raise SpecError(f"{self.KIND}: {found[0].message}{_more(found)}")

    # ---- derived values -------------------------------------------------------------------------
    @property
    def cores(self) -> int:
        return self.cols * self.rows

    @property
    def c_fifo_depth(self) -> int:
        return self.c_depth or self.depth

    @property
    def mac_dims(self) -> tuple[int, int, int]:
        """(r, s, t): the micro-kernel's MAC shape; L1 tiles are blocked in r x s, s x t, r x t."""
        return MAC_DIMS[self.device][self.dtype_in]

    @property
    def bytes_in(self) -> int:
        return DTYPE_BYTES[self.dtype_in]

    @property
    def bytes_out(self) -> int:
        return DTYPE_BYTES[self.dtype_out]

    @property
    def is_integer(self) -> bool:
        return self.dtype_in != "bf16"

    @property
    def block(self) -> tuple[int, int, int]:
        """(M, K, N) granularity of the shapes this design can run."""
        return (self.m * self.rows, self.k * self.depth, self.n * self.cols)

    @property
    def pezo(self):
        """The pezo spec of the fused perturbation (None without one)."""
        from .perturb import pezo_spec
        return pezo_spec(self.perturb)

    @property
    def a_memtiles(self) -> int:
        """Memtiles that receive A: one per row group; each serves rows // a_memtiles rows."""
        return min(self.cols, self.rows)


def _more(found) -> str:
    """' (and 3 more: l1_capacity x2, locks)' for the violations after the first."""
    if len(found) < 2:
        return ""
    counts = Counter(v.rule for v in found[1:])
    return f" (and {len(found) - 1} more: " + ", ".join(r if c == 1 else f"{r} x{c}" for r, c in counts.items()) + ")"


class Shape(NamedTuple):
    M: int
    K: int
    N: int

    def __str__(self) -> str:
        return f"{self.M}x{self.K}x{self.N}"

    @property
    def flops(self) -> int:
        return 2 * self.M * self.K * self.N


_SHAPE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*$")
MAX_DIM = 1 << 20


def parse_shape(text: str) -> Shape:
    """``MxKxN`` -> Shape; one-line SpecError otherwise."""
    from ..errors import shown
    match = _SHAPE.match(text or "")
    if not match:
        raise SpecError(f"shape: {shown(text)} is malformed; write MxKxN with positive integers, e.g. 256x768x2304")
    for name, digits in zip("MKN", match.groups()):      # a huge number is refused before int() reads it
        if len(digits.lstrip("0")) > len(str(MAX_DIM)) or not 1 <= int(digits) <= MAX_DIM:
            raise SpecError(f"shape: {name}={shown(digits)} in {shown(text)} is out of range; "
                            f"{name} must be in [1, {MAX_DIM}]")
    return Shape(*(int(g) for g in match.groups()))


def parse_shapes(text: str) -> tuple[Shape, ...]:
    """Comma-separated ``MxKxN`` list, or ``gpt2`` / ``gpt2:BT`` for the GPT-2 124M shapes at B*T."""
    text = (text or "").strip()
    if text == "gpt2" or text.startswith("gpt2:"):
        raw = text.partition(":")[2] or "256"
        if not raw.isdecimal() or len(raw) > 8 or not 1 <= int(raw) <= MAX_DIM:
            raise SpecError(f"shapes: {text!r} is malformed; write gpt2 or gpt2:BT with BT in [1, {MAX_DIM}]")
        return gpt2_shapes(int(raw))
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise SpecError("shapes: empty; write MxKxN[,MxKxN...] or gpt2[:BT]")
    return tuple(dict.fromkeys(parse_shape(t) for t in items))


class Matmul(NamedTuple):
    """One llm.c matmul as a GEMM C[M,N] (+)= A[M,K] @ B[K,N]."""
    name: str
    shape: Shape
    a_transposed: bool      # A is stored (K, M) (dW = dout^T @ inp)
    b_layout: str           # how B sits in memory: col = (N, K) row-major, like llm.c weights
    accumulate: bool        # llm.c's backward uses +=


def gpt2_matmuls(bt: int = 256, *, channels: int = 768, vocab: int = 50304,
                 lm_head: bool = True) -> list[Matmul]:
    """Every matmul of one GPT-2 layer (forward and backward) and the LM head, as llm.c does them
    (docs/references.md#npu-gpt2-matmuls): forward out = inp @ W^T (W is (OC, C)), dinp += dout @ W,
    dW += dout^T @ inp. Attention's QK^T and att@V are loops in llm.c, not matmuls."""
    layers = [("qkv", 3 * channels, channels), ("attproj", channels, channels),
              ("fc", 4 * channels, channels), ("fcproj", channels, 4 * channels)]
    if lm_head:
        layers.append(("lm_head", vocab, channels))
    out = []
    for name, oc, c in layers:
        out.append(Matmul(f"{name}.fwd", Shape(bt, c, oc), False, "col", False))
        out.append(Matmul(f"{name}.dinp", Shape(bt, oc, c), False, "row", True))
        out.append(Matmul(f"{name}.dweight", Shape(oc, bt, c), True, "row", True))
    return out


def gpt2_shapes(bt: int = 256, *, lm_head: bool = False, channels: int = 768) -> tuple[Shape, ...]:
    """The distinct GEMM shapes of GPT-2 124M's transformer blocks at B*T = ``bt`` (9 at B*T = 256:
    exactly the reference design's prebuilt list); ``lm_head`` adds the three (768 -> 50304) ones."""
    return tuple(dict.fromkeys(mm.shape for mm in gpt2_matmuls(bt, channels=channels, lm_head=lm_head)))


def device_shape(spec: GemmSpec, shape) -> tuple[Shape, bool]:
    """The GEMM the array runs for C = A @ B of ``shape``, and whether it is the transposed product.

    A shape that divides into the design's blocks runs as it is; otherwise C^T = B^T @ A^T when that
    divides (GPT-2's LM-head weight gradient: 50304x256x768 runs as 768x256x50304); otherwise the shape
    padded with zeros up to the blocks (zero rows and columns are cut off, zero depth adds exact zeros),
    in the orientation that pads less."""
    shape = Shape(*shape)
    rows, depth, cols = spec.m * spec.rows, spec.k * spec.depth, spec.n * spec.cols

    def up(v: int, step: int) -> int:
        return -(-v // step) * step

    plain = Shape(up(shape.M, rows), up(shape.K, depth), up(shape.N, cols))
    flipped = Shape(up(shape.N, rows), up(shape.K, depth), up(shape.M, cols))
    if plain == shape:
        return shape, False
    if flipped == Shape(shape.N, shape.K, shape.M) or flipped.flops < plain.flops:
        return flipped, True
    return plain, False


def perturbed_shape(spec: GemmSpec, shape) -> Shape:
    """The run of a product whose weight B the tiles perturb: never transposed (only B objects are
    perturbed) and never padded in depth (the tile's stream positions count the real K); M and N are
    padded up to the blocks."""
    shape = Shape(*shape)
    rows, cols = spec.m * spec.rows, spec.n * spec.cols
    return Shape(-(-shape.M // rows) * rows, shape.K, -(-shape.N // cols) * cols)


@dataclass(frozen=True)
class GemmDesign:
    """A spec and the shapes one xclbin built from it serves (one instruction stream per shape)."""

    spec: GemmSpec
    shapes: tuple[Shape, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.spec, GemmSpec):
            raise DesignError(f"design: spec {self.spec!s} is not a gemm spec")
        shapes = tuple(dict.fromkeys(Shape(*s) for s in self.shapes))
        if not shapes:
            raise DesignError("design: no shapes; a design serves at least one MxKxN shape")
        object.__setattr__(self, "shapes", shapes)
        from .validate import shape_violations
        for shape in shapes:
            found = shape_violations(self.spec, shape)
            if found:
                raise DesignError(f"design: shape {shape} cannot run on {self.spec}: {found[0].message}{_more(found)}")

    def serves(self, shape) -> bool:
        return Shape(*shape) in self.shapes


preset("npu1-gpt2", "gemm:device=npu1,cols=4,rows=4,m=64,k=64,n=32,in=bf16,out=f32,b_layout=col",
       "the reference GPT-2 offload tile: bf16 in, fp32 out, 64x64x32 per core, 4x4 cores (Phoenix)")
preset("npu2-gpt2", "gemm:device=npu2,cols=8,rows=4,m=64,k=64,n=32,in=bf16,out=f32,b_layout=col",
       "the GPT-2 tile on all 8 columns of Strix")
preset("npu1-gpt2-n64", "gemm:device=npu1,cols=4,rows=4,m=64,k=64,n=64,in=bf16,out=f32,b_layout=col,c_depth=1",
       "the reference tile with n=64 (C single-buffered to fit L1): A crosses the shim half as often")
preset("npu1-gpt2-pezo", "gemm:device=npu1,cols=4,rows=4,m=64,k=64,n=32,in=bf16,out=f32,b_layout=col,perturb=pezo-pool-norm",
       "the GPT-2 tile with PeZO's pool perturbation of the weights inside the tile (ZO forwards)")
preset("npu1-i16", "gemm:device=npu1,cols=4,rows=4,m=64,k=64,n=32,in=i16,out=i32,b_layout=row",
       "integer tile for bit-exact checks (i16 in, i32 out)")
