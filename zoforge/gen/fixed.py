"""Fixed-point gateware shared by the datapath blocks: :func:`round_shift` and :func:`fit_value`
mirror :func:`zoforge.golden.fixed.shift_round` and :func:`zoforge.golden.fixed.fit` bit for bit;
:func:`overflow_counter` counts flagged overflows without ever wrapping."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Value, signed, unsigned
from amaranth.lib import data

from ..golden.fixed import FixedFormat

__all__ = ["round_shift", "fit_value", "overflow_counter", "weights_out_layout"]


def round_shift(x: Value, k: int, rounding: str, rnd: Value | None = None) -> Value:
    """``x / 2**k`` rounded like :func:`zoforge.golden.fixed.shift_round` (``x`` signed); ``rnd``
    holds the ``k`` random bits of stochastic rounding."""
    if k <= 0:
        return x << -k
    if len(x) < k + 2:                                   # room for bit k and the carry
        x = Cat(x, x[-1].replicate(k + 2 - len(x))).as_signed()
    if rounding == "floor":
        return x >> k
    if rounding == "half_up":
        return (x + (1 << (k - 1))) >> k
    if rounding == "nearest_even":
        # A carry leaves the low k bits iff r > half, or r == half and the quotient is odd.
        return (x + ((1 << (k - 1)) - 1) + x[k]) >> k
    if rounding == "stochastic":
        return (x + rnd[:k]) >> k
    raise ValueError(f"round_shift: rounding={rounding!r} is unknown")


def fit_value(v: Value, fmt: FixedFormat, overflow: str) -> tuple[Value, Value]:
    """``(code, overflowed)``: ``v`` wrapped or saturated into ``fmt`` (``code`` has ``fmt.bits``)."""
    over, under = v > fmt.max_code, v < fmt.min_code
    if overflow == "saturate":
        v = Mux(over, fmt.max_code, Mux(under, fmt.min_code, v))
    return v[:fmt.bits], over | under


def overflow_counter(m: Module, count: Value, clear: Value, out, flags: Value) -> None:
    """``count`` += number of set ``flags`` on every transfer on ``out``, saturating at its maximum
    (so it never wraps back and hides overflows); ``clear`` restarts it from this cycle's flags."""
    add = Mux(out.valid & out.ready, sum(flags[i] for i in range(len(flags))), 0)
    total = Mux(clear, 0, count) + add
    top = (1 << len(count)) - 1
    m.d.sync += count.eq(Mux(total > top, top, total))


def weights_out_layout(fmt: FixedFormat, lanes: int) -> data.StructLayout:
    return data.StructLayout({"w": data.ArrayLayout(signed(fmt.bits), lanes), "sat": unsigned(lanes)})
