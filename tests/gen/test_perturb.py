"""Perturbation-unit gateware equals its model on whole streams with random gaps on every stream, and
the +1, -2, +1 loop (outputs fed back as inputs) returns every weight bit-identical in simulation."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.golden.test_perturb import perturb_specs, random_codes
from tests.util import MIN_OUTPUTS
from zoforge.golden.spec import parse
from zoforge.sim.block_check import compare, perturb_stimulus, run_pysim
from zoforge.sim.stream_bench import pack_rows, run_streams, unpack_rows


def run_passes(spec, w0, z, scales, *, seed=0, epilogue=None):
    """One simulation of len(scales) passes over ``w0``: pass p uses scale scales[p] and takes the
    previous pass's ``w_out`` words as its ``w_in`` (loopback). Returns [(w, sat)] per pass and the
    final ``sat_count``."""
    dut = spec.create()
    beats, passes = len(w0), len(scales)
    w_in = pack_rows((w0, spec.w_bits))
    weight_mask = (1 << (spec.w_bits * spec.lanes)) - 1      # "w" is the low field of w_out's payload

    def loopback(name, index, raw):
        if index < (passes - 1) * beats:
            w_in.append(raw & weight_mask)

    got, final = run_streams(
        dut, {"w_in": w_in, "z": pack_rows((z, spec.z_bits)) * passes}, {"w_out": beats * passes},
        side=[(dut.s, "w_in", np.repeat(scales, beats))], on_out=loopback, rng_seed=seed,
        epilogue=epilogue, observe=[dut.sat_count])
    w, sat = unpack_rows(got["w_out"], (spec.lanes, spec.w_bits, True), (1, spec.lanes, False))
    bits = (sat[:, :1] >> np.arange(spec.lanes)) & 1 == 1
    return [(w[p * beats:(p + 1) * beats], bits[p * beats:(p + 1) * beats]) for p in range(passes)], \
        final["sat_count"]


def check_mezo_loop(spec, w0, z, seed=0):
    """Every pass equals the model applied to the previous pass's gateware output; the counter
    counts every flag; unflagged weights come back bit-identical. Returns the flag count."""
    results, count = run_passes(spec, w0, z, [1, -2, 1], seed=seed)
    w_prev, flags = w0, 0
    for (w, sat), s in zip(results, [1, -2, 1]):
        expected_w, expected_sat = spec.golden(w_prev, z, s)
        assert (w == expected_w).all() and (sat == expected_sat).all(), f"{spec} s={s}"
        flags += int(sat.sum())
        w_prev = w
    any_flag = results[0][1] | results[1][1] | results[2][1]
    assert count == min(flags, (1 << spec.count_bits) - 1)
    assert (results[2][0][~any_flag] == w0[~any_flag]).all()
    if spec.overflow == "wrap":
        assert (results[2][0] == w0).all()
    return flags


def test_presets_restore_every_weight_in_simulation():
    for text in ["perturb-pezo16", "perturb-gauss16", "perturb-mul"]:
        spec = parse(text)
        rng = np.random.default_rng(1)
        beats = math.ceil(MIN_OUTPUTS / 3 / spec.lanes)
        margin = 4 * max(abs(spec.delta(spec.z_format.min_code)), abs(spec.delta(spec.z_format.max_code)))
        w0 = rng.integers(spec.w_format.min_code + margin, spec.w_format.max_code - margin + 1,
                          size=(beats, spec.lanes))
        z = random_codes(rng, spec.z_format, (beats, spec.lanes))
        assert check_mezo_loop(spec, w0, z) == 0


def test_saturation_is_flagged_and_counted_through_the_loop():
    spec = parse("perturb:lanes=4,w_bits=8,w_frac=4,z_bits=8,z_frac=6,eps_shift=0")
    rng = np.random.default_rng(2)
    w0 = random_codes(rng, spec.w_format, (300, 4))
    z = random_codes(rng, spec.z_format, (300, 4))
    assert check_mezo_loop(spec, w0, z) > 0
    assert check_mezo_loop(spec.replace(overflow="wrap"), w0, z) > 0


def test_counter_saturates_instead_of_wrapping_and_clears():
    spec = parse("perturb:lanes=4,w_bits=8,w_frac=4,z_bits=8,z_frac=6,eps_shift=0,count_bits=2")
    rng = np.random.default_rng(3)
    w0, z = random_codes(rng, spec.w_format, (100, 4)), random_codes(rng, spec.z_format, (100, 4))
    assert spec.golden(w0, z, 1)[1].sum() > 3
    dut = spec.create()
    before = []

    async def clear(ctx):
        before.append(ctx.get(dut.sat_count))
        ctx.set(dut.clear, 1)
        await ctx.tick()
        ctx.set(dut.clear, 0)
        await ctx.tick()

    _, final = run_streams(dut, {"w_in": pack_rows((w0, 8)), "z": pack_rows((z, 8))}, {"w_out": 100},
                           side=[(dut.s, "w_in", [1] * 100)], epilogue=clear, observe=[dut.sat_count])
    assert before == [3] and final["sat_count"] == 0


def check_random_scales(spec, numbers, seed):
    """Random s per word, full-range weights: model == gateware, flags and counter == the model's."""
    rng = np.random.default_rng(seed)
    beats = math.ceil(numbers / spec.lanes)
    w = random_codes(rng, spec.w_format, (beats, spec.lanes))
    z = random_codes(rng, spec.z_format, (beats, spec.lanes))
    stim = perturb_stimulus(spec, w, z, rng.choice([1, -1, -2, 0], size=beats))
    got, final = run_pysim(stim, rng_seed=seed, valid_prob=0.7, ready_prob=0.7)
    assert compare(stim, got, final) == [], str(spec)


def test_default_spec_with_random_scales():
    check_random_scales(parse("perturb:eps_shift=12"), MIN_OUTPUTS, seed=3)


@settings(max_examples=4, deadline=None)
@given(spec=perturb_specs(), seed=st.integers(0, 1000))
def test_drawn_specs_equal_golden(spec, seed):
    check_random_scales(spec, 600, seed)
    rng = np.random.default_rng(seed)
    check_mezo_loop(spec, random_codes(rng, spec.w_format, (40, spec.lanes)),
                    random_codes(rng, spec.z_format, (40, spec.lanes)), seed)
