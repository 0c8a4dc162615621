"""The block check (MAC array, perturbation and update units on random valid input streams): every kind
equals its golden model in pysim and in the emitted Verilog (Icarus; the MAC array in Verilator in the
slow tier); a
gateware built with one parameter changed is caught; the comparison names a planted difference, missing
words and a wrong counter."""

import numpy as np
import pytest

from zoforge.golden.spec import parse
from zoforge.sim.block_check import check_block, compare, run_pysim, stimulus_for
from zoforge.sim.cocotb_runner import simulator_available

KINDS = ["mac:rows=3,lanes=5,row_bits=9,bcast_bits=7,acc_bits=24,max_len=40", "perturb:lanes=3,eps_shift=12",
         "update:lanes=3,rounding=stochastic,rng_width=24,c_frac=14,decay_mul=300,decay_shift=20"]


@pytest.mark.parametrize("text", KINDS)
def test_random_streams_equal_golden_in_pysim(text):
    result = check_block(parse(text), 150, seed=5, backpressure=0.4)
    assert result.ok, result.differences
    assert result.words == 150 and result.numbers == 150 * parse(text).outputs_per_cycle


def test_random_streams_are_valid_and_cover_the_cases():
    """MAC reductions of several lengths within max_len, every scale, both decay enables, a reseed."""
    rng = np.random.default_rng(1)
    mac = parse("mac:lanes=4,max_len=24")
    stim = stimulus_for(mac, 300, rng)
    ends = np.flatnonzero([(p >> (mac.lanes * mac.bcast_bits)) & 1 for p in stim.sources["bcast"]])
    lengths = np.diff(np.concatenate([[-1], ends]))
    assert len(ends) == 300 and lengths.min() == 1 and lengths.max() == 24 // 4
    perturb = stimulus_for(parse("perturb"), 300, rng)
    assert sorted(set(perturb.side[0][2])) == [-2, -1, 0, 1]
    update = stimulus_for(parse("update16-sr"), 300, rng)
    assert set(update.side[1][2]) == {0, 1} and update.preload[0] == "seed"
    assert stimulus_for(parse("update16"), 10, rng).preload is None       # nothing to reseed


@pytest.mark.parametrize("text, mutation", [
    ("perturb", {"eps_shift": 9}),                  # eps halved in the gateware only
    ("update", {"rounding": "floor"}),              # floor instead of nearest-even: off by one LSB at times
    ("update16-sr", {"rng_width": 31}),             # another LFSR for the stochastic rounding
])
def test_gateware_with_a_changed_parameter_is_caught(text, mutation):
    spec = parse(text)
    stim = stimulus_for(spec, 100, np.random.default_rng(2))
    got, final = run_pysim(stim, dut=spec.replace(**mutation).create())
    found = compare(stim, got, final)
    assert found and found[0].startswith("word ") and "expected" in found[0]
    assert len(found) == 10                         # the first ten differences, no more


def test_the_reseed_reaches_the_gateware():
    """A gateware reset to another seed still equals the model: the reseed streamed first replaced it."""
    spec = parse("update16-sr")
    stim = stimulus_for(spec, 100, np.random.default_rng(2))
    assert stim.preload is not None
    assert compare(stim, *run_pysim(stim, dut=spec.replace(seed=2).create())) == []
    stim.preload = None
    assert compare(stim, *run_pysim(stim, dut=spec.replace(seed=2).create()))


def test_compare_names_a_planted_difference_missing_words_and_the_counter():
    spec = parse("perturb:lanes=4,w_bits=8,w_frac=4,z_bits=8,z_frac=6,eps_shift=0")   # saturates often
    stim = stimulus_for(spec, 60, np.random.default_rng(3))
    got, final = run_pysim(stim)
    assert compare(stim, got, final) == [] and stim.counter[1] > 0
    got["w"][7, 2] += 1
    assert compare(stim, got, final) == [f"word 7 w[2]: expected {stim.expected['w'][7, 2]}, "
                                         f"got {stim.expected['w'][7, 2] + 1}"]
    short = {name: value[:50] for name, value in got.items()}
    assert compare(stim, short, final)[-1].startswith("words 50 .. 59: missing")
    assert compare(stim, got, {"sat_count": stim.counter[1] - 1})[-1] == \
        f"sat_count after the last word: expected {stim.counter[1]}, got {stim.counter[1] - 1}"


def test_mac_planted_difference():
    spec = parse("mac-int8")
    stim = stimulus_for(spec, 20, np.random.default_rng(4))
    got, final = run_pysim(stim)
    got["o"][3, 1] ^= 1 << 20
    assert compare(stim, got, final) == [f"word 3 o[1]: expected {stim.expected['o'][3, 1]}, got {got['o'][3, 1]}"]


def test_a_block_that_stops_is_reported_not_waited_for():
    """The MAC array fed beats with no ``last``: no word ever comes out, the bench gives up."""
    spec = parse("mac:rows=2,lanes=2")
    stim = stimulus_for(spec, 5, np.random.default_rng(5))
    stim.sources["bcast"] = [p & ~(1 << (2 * 8)) for p in stim.sources["bcast"]]      # clear every last bit
    got, final = run_pysim(stim, stall_cycles=500)
    assert compare(stim, got, final) == ["words 0 .. 4: missing (the block stopped after 0 of 5 words)"]


@pytest.mark.parametrize("text", KINDS)
def test_random_streams_equal_golden_in_icarus(text):
    if reason := simulator_available("icarus"):
        pytest.skip(reason)
    result = check_block(parse(text), 60, "icarus", seed=6)
    assert result.ok, result.differences


@pytest.mark.slow
def test_random_streams_equal_golden_in_verilator():
    """One kind (a C++ build takes 30-50 s): the MAC array, whose payloads are wider than 64 bits."""
    if reason := simulator_available("verilator"):
        pytest.skip(reason)
    result = check_block(parse(KINDS[0]), 60, "verilator", seed=7)
    assert result.ok, result.differences
