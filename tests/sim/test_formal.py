"""SymbiYosys: LFSR lanes never lock up at zero, for any input sequence (k-induction)."""

import pytest
from amaranth.hdl import Module, Signal

from zoforge.gen.common import gf2_apply
from zoforge.gen.lfsr import LFSR
from zoforge.golden import parse
from zoforge.sim.formal import cover_reseed, prove_no_lockup, sby_available

pytestmark = [pytest.mark.xdist_group("yosys"),
              pytest.mark.skipif(sby_available() is not None, reason=str(sby_available()))]

SPECS = ["lfsr:width=8,lanes=2", "lfsr:width=16,lanes=3,form=fibonacci,step=5"]


class LoadsZero(LFSR):
    """Broken on purpose: a reseed loads the seed word as it is, zero included."""

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        m.d.comb += self.seed.ready.eq(1)
        for lane, reset in enumerate(spec.lane_seeds()):
            state = Signal(spec.width, init=reset, name=f"state{lane}")
            m.d.comb += self.o.payload[lane].eq(state)
            with m.If(self.seed.valid):
                m.d.sync += state.eq(self.seed.payload[lane])
            with m.Elif(self.o.ready):
                m.d.sync += state.eq(gf2_apply(spec.step_matrix, state))
        return m


@pytest.mark.parametrize("text", SPECS)
def test_no_lockup_is_proved(text, tmp_path):
    result = prove_no_lockup(parse(text), workdir=tmp_path)
    assert result.passed, f"{result.status}: {result.summary} ({result.workdir})"


def test_reseed_is_reachable(tmp_path):
    result = cover_reseed(parse(SPECS[0]), workdir=tmp_path)
    assert result.passed, f"{result.status}: {result.summary} ({result.workdir})"


def test_zero_seed_word_breaks_the_proof(tmp_path):
    spec = parse(SPECS[0])
    result = prove_no_lockup(spec, component=LoadsZero(spec), workdir=tmp_path)
    assert result.status == "FAIL", f"expected a counterexample, got {result.status}: {result.summary}"
    assert "Assert failed" in result.summary or "assert" in result.summary.lower()
