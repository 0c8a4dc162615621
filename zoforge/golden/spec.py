"""Spec objects and the spec-string grammar shared by every command.

Every block is described by one frozen, keyword-only dataclass (a *spec*). Its canonical text form is
``KIND:key=value,key=value``; :func:`parse` turns such a string (or a bare ``KIND``, or a preset name)
back into the same object. Every field declares its allowed values once, through :func:`param`, so that
validation, ``zoforge list`` and the error messages all read the same declaration.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import did_you_mean
from ..errors import shown as _shown

__all__ = ["SpecError", "Spec", "param", "parse", "register", "kinds", "presets", "preset"]


class SpecError(ValueError):
    """A spec, or a spec string, is invalid. The message is one line naming the parameter,
    its value and what is allowed."""


@dataclass(frozen=True)
class Allowed:
    """What a parameter accepts: an integer range or a set of choices."""
    lo: int | None = None
    hi: int | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    shown: str = ""          # how to describe the range when it depends on other parameters

    def describe(self) -> str:
        if self.shown:
            return self.shown
        if self.choices is not None:
            return "one of " + "|".join(str(c) for c in self.choices)
        return f"an integer in [{self.lo}, {self.hi}]"

    def check(self, kind: str, name: str, value: Any) -> None:
        if self.choices is not None:
            if value not in self.choices:
                raise SpecError(f"{kind}: {name}={value!r} is not allowed; {name} must be {self.describe()}")
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{kind}: {name}={value!r} is not an integer; {name} must be {self.describe()}")
        if not self.lo <= value <= self.hi:
            raise SpecError(f"{kind}: {name}={value} is out of range; {name} must be {self.describe()}")


def param(default: Any, *, lo: int | None = None, hi: int | None = None,
          choices: tuple[Any, ...] | None = None, doc: str = "", hex: bool = False, shown: str = ""):
    """Declare a spec field with its default and its allowed values.

    ``hex`` prints the value in hexadecimal; ``shown`` replaces the generic range description when the
    real bound depends on other parameters (the cross-check then lives in ``validate``)."""
    return field(default=default, metadata={"allowed": Allowed(lo, hi, choices, doc, shown), "hex": hex})


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Base class of every block spec: eager validation and the canonical text form."""

    KIND: ClassVar[str] = ""
    #: One-line description shown by ``zoforge list``.
    SUMMARY: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            f.metadata["allowed"].check(self.KIND, f.name, getattr(self, f.name))
        self.validate()

    def validate(self) -> None:
        """Checks that involve several parameters; override in subclasses."""

    def fail(self, name: str, message: str) -> None:
        """Raise a one-line SpecError about parameter ``name``."""
        f = next(f for f in dataclasses.fields(self) if f.name == name)
        shown = _format_value(getattr(self, name), f.metadata["hex"])
        raise SpecError(f"{self.KIND}: {name}={shown} {message}")

    @classmethod
    def parameters(cls) -> list[tuple[str, Any, Allowed]]:
        """(name, default, allowed) for every parameter, in canonical order."""
        return [(f.name, f.default, f.metadata["allowed"]) for f in dataclasses.fields(cls)]

    def __str__(self) -> str:
        items = ",".join(f"{f.name}={_format_value(getattr(self, f.name), f.metadata['hex'])}"
                         for f in dataclasses.fields(self))
        return f"{self.KIND}:{items}"

    def replace(self, **changes) -> "Spec":
        return dataclasses.replace(self, **changes)


def _format_value(value: Any, as_hex: bool) -> str:
    return hex(value) if as_hex else str(value)


_REGISTRY: dict[str, type[Spec]] = {}
_PRESETS: dict[str, tuple[str, str]] = {}   # name -> (spec string, description)
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def register(cls: type[Spec]) -> type[Spec]:
    """Class decorator: make a spec kind reachable from spec strings."""
    _REGISTRY[cls.KIND] = cls
    return cls


def kinds() -> dict[str, type[Spec]]:
    _load_builtin_kinds()
    return dict(_REGISTRY)


def preset(name: str, text: str, description: str) -> None:
    """Register a named preset; it must parse."""
    _PRESETS[name] = (text, description)


def presets() -> dict[str, tuple[str, str]]:
    _load_builtin_kinds()
    return dict(_PRESETS)


def _load_builtin_kinds() -> None:
    """Register the golden kinds (importing their modules) and the preset table, once."""
    if _LOADED:
        return
    _LOADED.append(True)
    from .catalogue import register_presets
    register_presets()


_LOADED: list[bool] = []


def _convert(kind: str, name: str, raw: str, allowed: Allowed) -> Any:
    if allowed.choices is not None:
        for choice in allowed.choices:
            if raw == str(choice):
                return choice
        raise SpecError(f"{kind}: {name}={_shown(raw)} is not allowed; {name} must be {allowed.describe()}"
                        + did_you_mean(raw, allowed.choices))
    try:
        return int(raw, 0)
    except ValueError:
        raise SpecError(f"{kind}: {name}={_shown(raw)} is not an integer; "
                        f"{name} must be {allowed.describe()}") from None


def parse(text: str, expect: type[Spec] | tuple[type[Spec], ...] | None = None) -> Spec:
    """Parse ``KIND``, ``KIND:key=value,...`` or a preset name into a validated spec."""
    _load_builtin_kinds()
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"spec: {_shown(text)} is empty; write KIND or KIND:key=value,... "
                        f"(kinds: {', '.join(_REGISTRY)})")
    text = text.strip()
    if text in _PRESETS:
        spec = parse(_PRESETS[text][0], expect)
        return spec
    kind, sep, body = text.partition(":")
    kind = kind.strip()
    if kind not in _REGISTRY:
        raise SpecError(f"spec: kind {_shown(kind)} is unknown{did_you_mean(kind, [*_REGISTRY, *_PRESETS])}; kind "
                        f"must be one of {'|'.join(_REGISTRY)} or a preset ({'|'.join(_PRESETS)})")
    cls = _REGISTRY[kind]
    allowed = {name: a for name, _, a in cls.parameters()}
    values: dict[str, Any] = {}
    if sep and not body.strip():
        raise SpecError(f"{kind}: nothing after ':'; write {kind}:key=value,... or just {kind}")
    for item in body.split(",") if body.strip() else []:
        key, eq, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq or not _KEY.match(key) or raw == "":
            raise SpecError(f"{kind}: item {_shown(item)} is malformed; write key=value (keys: {', '.join(allowed)})")
        if key not in allowed:
            raise SpecError(f"{kind}: key {_shown(key)} is unknown; keys are {', '.join(allowed)}"
                            + did_you_mean(key, allowed))
        if key in values:
            raise SpecError(f"{kind}: key {_shown(key)} is given twice")
        values[key] = _convert(kind, key, raw, allowed[key])
    spec = cls(**values)
    if expect is not None and not isinstance(spec, expect):
        names = [e.KIND for e in (expect if isinstance(expect, tuple) else (expect,))]
        raise SpecError(f"spec: kind {kind!r} is not usable here; use {'|'.join(names)}")
    return spec
