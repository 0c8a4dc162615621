"""What a sweep evaluates: its points (spec strings) and its options, from SWEEP.toml or a SPEC-RANGE.

Points. Any perturbation-source spec string (every kind registered as a source: pezo, gaussian,
uniform ...) is a point; the sweep knows no kind in advance. A SPEC-RANGE is a spec string whose values
may list alternatives, ``pezo:reuse=pool|none,pool=1024|4096,lanes=8``: every combination is a point.
A grid is a base spec and axes (``key -> values``); each combination sets those keys on the base. A
combination the spec rejects (an unknown key, a value out of range, parameters that contradict each
other) is kept as a *failed point* carrying the spec's one-line error: it is reported, never fatal.
Points with the same canonical spec are evaluated once.

SWEEP.toml::

    base = "pezo:lanes=8,bits=16"                     # a grid: base + [axes]
    specs = ["gaussian:method=clt,n=4,lanes=8,bits=16"]   # explicit points
    families = ["xc7", "ecp5"]                       # options (all optional; the command line wins)
    seeds = 3
    steps = 400
    task = "lm"
    [axes]
    reuse = ["pool", "none"]
    pool = [1024, 4096]
    [[grid]]                                         # more grids, each with base and axes
    base = "pezo:reuse=rotate"
    axes = { hold = [4, 8] }

Members
-------
Point, Plan, SweepError, OPTIONS
expand_range(text) -> list[str]              the spec strings of a SPEC-RANGE
expand_grid(base, axes) -> list[str]         the spec strings of a grid
points(texts) -> list[Point]                 parsed, deduplicated, invalid ones kept with their error
load_toml(path) -> (list[Point], dict)       points and options of a sweep file
make_plan(points, **options) -> Plan         options checked (one-line SweepError)
"""

from __future__ import annotations

import itertools
import pathlib
import tomllib
from dataclasses import dataclass, field

__all__ = ["Point", "Plan", "SweepError", "OPTIONS", "expand_range", "expand_grid", "points", "load_toml",
           "make_plan", "parse_target"]

FAMILIES = ("ice40", "ecp5", "xc7")


class SweepError(ValueError):
    """A sweep file, SPEC-RANGE or option is unusable; one line."""


@dataclass(frozen=True)
class Point:
    text: str                   # as written (after expansion)
    spec: str | None = None     # canonical spec string; None when the text is invalid
    error: str | None = None    # the spec's one-line error

    @property
    def name(self) -> str:
        return self.spec or self.text


#: option -> (default, description); TOML keys and command-line flags of the same name.
OPTIONS = {
    "families": (("xc7", "ecp5"), "FPGA families to synthesize for (ice40|ecp5|xc7)"),
    "seeds": (3, "training seeds per point (0..N-1)"),
    "steps": (400, "training steps per run"),
    "task": ("lm", "quality task: lm (fine-tune on Verilog) | classify (synthetic sentiment)"),
    "model": ("base", "model of the quality runs: base (the pretrained base model) or a preset such as tiny"),
    "quality": (True, "measure fine-tuning quality (with MeZO and AdamW)"),
    "power": (True, "measure the RNG power proxy"),
    "fmax": (False, "also place and route for Fmax (ice40, ecp5)"),
    "power_words": (512, "words per pass of the power workload"),
    "lr": (1e-3, "ZO learning rate"),
    "adamw_lr": (1e-3, "AdamW learning rate"),
    "eps": (1e-3, "ZO perturbation size"),
    "batch": (16, "batch size"),
    "seq": (64, "sequence length"),
}


@dataclass(frozen=True)
class Plan:
    """The points and the checked options of one sweep."""
    points: tuple[Point, ...]
    families: tuple[str, ...]
    seeds: int
    steps: int
    task: str
    model: str
    quality: bool
    power: bool
    fmax: bool
    power_words: int
    hyper: dict = field(default_factory=dict)     # lr, adamw_lr, eps, batch, seq


def _alternatives(item: str) -> list[str]:
    key, eq, values = item.partition("=")
    if not eq or "|" not in values:
        return [item]
    return [f"{key}={v}" for v in values.split("|")]


def expand_range(text: str) -> list[str]:
    """``KIND:key=a|b,key2=c`` -> ``[KIND:key=a,key2=c, KIND:key=b,key2=c]`` (in that order)."""
    kind, sep, body = text.strip().partition(":")
    if not sep or not body.strip():
        return [text.strip()]
    items = [_alternatives(item.strip()) for item in body.split(",")]
    return [f"{kind}:{','.join(combo)}" for combo in itertools.product(*items)]


def _value(v) -> str:
    if isinstance(v, bool):
        raise SweepError(f"axis value {v!r} is a boolean; spec values are integers or names")
    return str(v)


def expand_grid(base: str, axes: dict) -> list[str]:
    """Every combination of ``axes`` set on ``base`` (keys of the base are replaced in place)."""
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"axes.{key}={values!r} is not a non-empty list of values (in TOML, the "
                             "sweep's own keys go before the [axes] table)")
    if not isinstance(base, str) or not base.strip():
        raise SweepError(f"base={base!r} is not a spec string; a grid needs base = \"KIND:key=value,...\"")
    kind, _, body = base.strip().partition(":")
    items = [i.strip() for i in body.split(",") if i.strip()]
    keys = list(axes)
    out = []
    for combo in itertools.product(*(axes[k] for k in keys)):
        chosen = dict(zip(keys, (_value(v) for v in combo)))
        kept = []
        for item in items:
            key = item.partition("=")[0].strip()
            kept.append(f"{key}={chosen.pop(key)}" if key in chosen else item)
        kept += [f"{k}={v}" for k, v in chosen.items()]
        out.append(f"{kind}:{','.join(kept)}" if kept else kind)
    return out


def points(texts: list[str]) -> list[Point]:
    """Parse every text as a perturbation source; duplicates (same canonical spec) are dropped."""
    from ..golden.source import SourceSpec
    from ..golden.spec import SpecError, parse
    seen, out = set(), []
    for text in texts:
        try:
            p = Point(text, spec=str(parse(text, SourceSpec)))
        except SpecError as e:
            p = Point(text, error=str(e))
        if p.name not in seen:
            seen.add(p.name)
            out.append(p)
    return out


def load_toml(path) -> tuple[list[Point], dict]:
    """(points, options) of a sweep file; the options are not checked yet (see :func:`make_plan`)."""
    try:
        raw = tomllib.loads(pathlib.Path(path).read_text())
    except OSError as e:
        raise SweepError(f"{path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: not valid TOML: {e}") from None
    known = {"base", "axes", "specs", "grid", *OPTIONS}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SweepError(f"{path}: key {unknown[0]!r} is unknown; keys are {', '.join(sorted(known))}")
    grids = list(raw.get("grid", []))
    if "base" in raw or "axes" in raw:
        grids.insert(0, {"base": raw.get("base"), "axes": raw.get("axes", {})})
    texts = []
    for g in grids:
        extra = sorted(set(g) - {"base", "axes"})
        if extra:
            raise SweepError(f"{path}: grid key {extra[0]!r} is unknown; a grid has base and axes")
        texts += expand_grid(g.get("base"), g.get("axes", {}))
    specs = raw.get("specs", [])
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise SweepError(f"{path}: specs must be a list of spec strings (SPEC-RANGEs allowed)")
    for s in specs:
        texts += expand_range(s)
    if not texts:
        raise SweepError(f"{path}: no points; give base + [axes], [[grid]] tables or specs")
    return points(texts), {k: v for k, v in raw.items() if k in OPTIONS}


def parse_target(target: str) -> tuple[list[Point], dict]:
    """A sweep file (``*.toml`` or an existing file) or a SPEC-RANGE."""
    path = pathlib.Path(target)
    if target.endswith(".toml") or path.is_file():
        return load_toml(path)
    return points(expand_range(target)), {}


def _check(name: str, value, ok: bool, allowed: str) -> None:
    if not ok:
        raise SweepError(f"{name}={value!r} is not allowed; {name} must be {allowed}")


def make_plan(pts: list[Point], **options) -> Plan:
    """Fill defaults (:data:`OPTIONS`) and check every option."""
    from .quality import TASKS
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SweepError(f"option {unknown[0]!r} is unknown; options are {', '.join(OPTIONS)}")
    o = {k: d for k, (d, _) in OPTIONS.items()}
    o.update({k: v for k, v in options.items() if v is not None})
    fams = o["families"]
    fams = tuple(fams.split(",")) if isinstance(fams, str) else tuple(fams)
    _check("families", ",".join(map(str, fams)), bool(fams) and all(f in FAMILIES for f in fams),
           "a list of " + "|".join(FAMILIES))
    for name in ("seeds", "steps", "power_words", "batch"):
        v = o[name]
        _check(name, v, isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1")
    _check("seq", o["seq"], isinstance(o["seq"], int) and o["seq"] >= 2, "an integer >= 2")
    _check("task", o["task"], o["task"] in TASKS, "one of " + "|".join(TASKS))
    _check("model", o["model"], isinstance(o["model"], str) and o["model"] != "", "base or a model preset")
    for name in ("lr", "adamw_lr", "eps"):
        v = o[name]
        _check(name, v, isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, "a number > 0")
    for name in ("quality", "power", "fmax"):
        _check(name, o[name], isinstance(o[name], bool), "true or false")
    if o["fmax"] and "xc7" in fams and len(fams) == 1:
        raise SweepError("fmax is available for ice40 and ecp5 (no open xc7 place-and-route)")
    if not pts:
        raise SweepError("the sweep has no points")
    return Plan(points=tuple(pts), families=fams, seeds=o["seeds"], steps=o["steps"], task=o["task"],
                model=o["model"], quality=o["quality"], power=o["power"], fmax=o["fmax"],
                power_words=o["power_words"],
                hyper={k: o[k] for k in ("lr", "adamw_lr", "eps", "batch", "seq")})
