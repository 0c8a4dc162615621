"""Update-unit gateware equals its model on whole streams with random gaps, per-word scalars and
decay enables, including LFSR stochastic rounding with a runtime reseed."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.gen.stream_bench import pack_rows, run_streams, unpack_rows
from tests.golden.test_update import random_codes, update_specs
from tests.util import MIN_OUTPUTS
from zoforge.golden.spec import parse


def check_update(spec, numbers, seed, *, reseed=None):
    """Random weights, perturbations, scalars c and decay enables per word; ``reseed`` loads that LFSR
    seed through the ``seed`` stream before the first word."""
    rng = np.random.default_rng(seed)
    beats = math.ceil(numbers / spec.lanes)
    w = random_codes(rng, spec.w_format, (beats, spec.lanes))
    z = random_codes(rng, spec.z_format, (beats, spec.lanes))
    c = random_codes(rng, spec.c_format, beats)
    en = rng.integers(0, 2, beats)
    dut = spec.create()

    async def load_seed(ctx):
        ctx.set(dut.seed.payload.as_value(), pack_rows(([spec.seed_vector(reseed)], spec.rng_width))[0])
        ctx.set(dut.seed.valid, 1)
        await ctx.tick().until(dut.seed.ready)
        ctx.set(dut.seed.valid, 0)

    got, final = run_streams(dut, {"w_in": pack_rows((w, spec.w_bits)), "z": pack_rows((z, spec.z_bits))},
                             {"w_out": beats}, side=[(dut.c, "w_in", c), (dut.decay_en, "w_in", en)],
                             rng_seed=seed, prologue=load_seed if reseed else None, observe=[dut.sat_count])
    out, sat = unpack_rows(got["w_out"], (spec.lanes, spec.w_bits, True), (1, spec.lanes, False))
    expected, flags = spec.golden(w, z, c, decay_en=en, seed=reseed)
    assert (out == expected).all(), str(spec)
    assert (sat[:, 0] == (flags * (1 << np.arange(spec.lanes))).sum(axis=1)).all()
    assert final["sat_count"] == min(int(flags.sum()), (1 << spec.count_bits) - 1)


def test_presets_equal_golden():
    for text in ["update16", "update16-wd"]:
        check_update(parse(text), MIN_OUTPUTS, seed=1)
    check_update(parse("update16-sr"), MIN_OUTPUTS, seed=2, reseed=0xC0FFEE)


def test_stochastic_rounding_with_small_lfsr_and_decay_multiplier():
    check_update(parse("update:lanes=3,rounding=stochastic,rng_width=24,c_frac=14,decay_mul=300,decay_shift=20"),
                 3000, seed=3)


@settings(max_examples=4, deadline=None)
@given(spec=update_specs(rounding=st.sampled_from(["nearest_even", "stochastic", "half_up", "floor"])),
       seed=st.integers(0, 1000))
def test_drawn_specs_equal_golden(spec, seed):
    check_update(spec, 600, seed)
