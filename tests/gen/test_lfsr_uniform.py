from hypothesis import given, settings
from hypothesis import strategies as st

from tests.util import check_pysim
from zoforge.golden import parse
from zoforge.golden.lfsr import LFSRSpec
from zoforge.golden.uniform import UniformSpec

PRESET_SPECS = ["lfsr:width=32,lanes=8", "lfsr:width=16,lanes=4,form=fibonacci", "uniform16",
                "uniform:bits=8,lanes=4,width=12,form=fibonacci"]


def test_presets_equal_golden():
    for text in PRESET_SPECS:
        check_pysim(parse(text))


@settings(max_examples=6, deadline=None)
@given(width=st.integers(2, 64), lanes=st.integers(1, 6), form=st.sampled_from(["galois", "fibonacci"]),
       step=st.integers(1, 80), data=st.data())
def test_lfsr_drawn_specs_equal_golden(width, lanes, form, step, data):
    seed = data.draw(st.integers(1, (1 << width) - 1))
    check_pysim(LFSRSpec(width=width, lanes=lanes, form=form, step=step, seed=seed),
                numbers=3000, reseed=data.draw(st.integers(1, (1 << width) - 1)))


@settings(max_examples=6, deadline=None)
@given(width=st.integers(4, 64), lanes=st.integers(1, 8), form=st.sampled_from(["galois", "fibonacci"]),
       data=st.data())
def test_uniform_drawn_specs_equal_golden(width, lanes, form, data):
    bits = data.draw(st.integers(2, width))
    check_pysim(UniformSpec(bits=bits, lanes=lanes, width=width, form=form,
                            seed=data.draw(st.integers(1, (1 << width) - 1))), numbers=3000)
