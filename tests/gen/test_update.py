"""Update-unit gateware equals its model on whole streams with random gaps, per-word scalars and
decay enables, including LFSR stochastic rounding with a runtime reseed."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.golden.test_update import random_codes, update_specs
from tests.util import MIN_OUTPUTS
from zoforge.golden.spec import parse
from zoforge.sim.block_check import compare, run_pysim, update_stimulus


def check_update(spec, numbers, seed, *, reseed=None):
    """Random weights, perturbations, scalars c and decay enables per word; ``reseed`` loads that LFSR
    seed through the ``seed`` stream before the first word."""
    rng = np.random.default_rng(seed)
    beats = math.ceil(numbers / spec.lanes)
    w = random_codes(rng, spec.w_format, (beats, spec.lanes))
    z = random_codes(rng, spec.z_format, (beats, spec.lanes))
    c = random_codes(rng, spec.c_format, beats)
    stim = update_stimulus(spec, w, z, c, rng.integers(0, 2, beats), reseed)
    got, final = run_pysim(stim, rng_seed=seed, valid_prob=0.7, ready_prob=0.7)
    assert compare(stim, got, final) == [], str(spec)


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
