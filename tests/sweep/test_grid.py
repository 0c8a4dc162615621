"""Sweep points and options: SPEC-RANGE and grid expansion, invalid points kept with their error."""

import pathlib
import re

import pytest

from zoforge.golden.spec import parse
from zoforge.sweep.grid import SweepError, expand_grid, expand_range, load_toml, make_plan, parse_target, points

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_spec_range_expands_every_combination_in_order():
    got = expand_range("pezo:reuse=pool|none,pool=1024|4096,lanes=8")
    assert got == ["pezo:reuse=pool,pool=1024,lanes=8", "pezo:reuse=pool,pool=4096,lanes=8",
                   "pezo:reuse=none,pool=1024,lanes=8", "pezo:reuse=none,pool=4096,lanes=8"]
    assert expand_range("pezo") == ["pezo"] and expand_range("clt4") == ["clt4"]
    assert expand_range("gaussian:n=4") == ["gaussian:n=4"]


def test_grid_sets_axes_on_the_base_and_replaces_its_keys_in_place():
    got = expand_grid("pezo:lanes=8,scale=norm,bits=16", {"scale": ["sqrt3", "norm"], "pool": [64]})
    assert got == ["pezo:lanes=8,scale=sqrt3,bits=16,pool=64", "pezo:lanes=8,scale=norm,bits=16,pool=64"]
    with pytest.raises(SweepError, match=r"axes.pool=3 is not a non-empty list"):
        expand_grid("pezo", {"pool": 3})
    with pytest.raises(SweepError, match="boolean"):
        expand_grid("pezo", {"pool": [True]})


def test_points_are_canonical_deduplicated_and_invalid_ones_carry_the_spec_error():
    pts = points(["pezo:pool=64,lanes=8", "pezo:lanes=8,pool=64", "pezo:pool=3,lanes=2", "pezo:nope=1",
                  "lfsr:width=8", "mac"])
    assert [p.spec is not None for p in pts] == [True, False, False, True, False]
    assert pts[0].spec == str(parse("pezo:pool=64,lanes=8"))
    assert pts[1].error == "pezo: pool=3 is not a multiple of lanes=2; pool must be a multiple of lanes in [lanes, 2**20]"
    assert pts[2].error.startswith("pezo: key 'nope' is unknown")
    assert pts[4].error.startswith("spec: kind 'mac' is not usable here")
    assert all("\n" not in (p.error or "") for p in pts)


def test_sweep_file_points_and_options(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('specs = ["gaussian:method=clt,n=4,lanes=2,bits=8", "pezo:lanes=2,pool=3|4"]\nseeds = 2\n'
                 'base = "pezo:lanes=2,bits=8"\n[axes]\nscale = ["sqrt3", "norm"]\n'
                 '[[grid]]\nbase = "pezo:reuse=rotate,lanes=2"\naxes = { hold = [4, 8] }\n')
    pts, options = load_toml(f)
    assert options == {"seeds": 2}
    assert [p.text for p in pts] == ["pezo:lanes=2,bits=8,scale=sqrt3", "pezo:lanes=2,bits=8,scale=norm",
                                     "pezo:reuse=rotate,lanes=2,hold=4", "pezo:reuse=rotate,lanes=2,hold=8",
                                     "gaussian:method=clt,n=4,lanes=2,bits=8", "pezo:lanes=2,pool=3",
                                     "pezo:lanes=2,pool=4"]
    assert [p.error is None for p in pts] == [True] * 5 + [False, True]


@pytest.mark.parametrize("text, message", [
    ("colour = 1\n", "key 'colour' is unknown"),
    ("specs = 'pezo'\n", "specs must be a list"),
    ("[axes]\nseeds = 3\n", "go before the [axes] table"),
    ("seeds = 2\n", "no points"),
    ("specs = [\n", "not valid TOML"),
    ('[[grid]]\nbase = "pezo"\nsteps = 3\n', "grid key 'steps' is unknown"),
])
def test_bad_sweep_files_fail_in_one_line(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(SweepError, match=re.escape(message)) as e:
        load_toml(f)
    assert "\n" not in str(e.value)


def test_example_sweep_file_parses():
    pts, options = parse_target(str(ROOT / "benchmarks" / "sweeps" / "pezo.toml"))
    plan = make_plan(pts, **options)
    assert plan.families == ("ice40", "ecp5", "xc7") and plan.seeds == 3 and plan.task == "lm"
    specs = {p.spec for p in pts if p.spec}
    assert str(parse("pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=fold,refresh=4")) in specs
    assert str(parse("sign:lanes=8,bits=16")) in specs
    assert all(p.spec for p in pts), [p.error for p in pts if not p.spec]


@pytest.mark.parametrize("options, message", [
    ({"families": ["ice40", "arria"]}, "families='ice40,arria' is not allowed"),
    ({"seeds": 0}, "seeds=0 is not allowed"),
    ({"task": "sst"}, "task='sst' is not allowed; task must be one of lm|classify"),
    ({"lr": -1}, "lr=-1 is not allowed"),
    ({"quality": "yes"}, "quality='yes' is not allowed"),
    ({"colour": 1}, "option 'colour' is unknown"),
    ({"fmax": True, "families": ["xc7"]}, "fmax is available for ice40 and ecp5"),
])
def test_bad_options_fail_in_one_line(options, message):
    with pytest.raises(SweepError, match=message):
        make_plan(points(["pezo"]), **options)


def test_plan_defaults_and_comma_separated_families():
    plan = make_plan(points(["pezo"]), families="ice40,xc7", steps=5)
    assert plan.families == ("ice40", "xc7") and plan.steps == 5 and plan.seeds == 3
    assert plan.hyper == {"lr": 1e-3, "adamw_lr": 1e-3, "eps": 1e-3, "batch": 16, "seq": 64}
