"""Write constraints.txt: the exact version of every package zoforge needs, with all its extras, as
installed in the running Python environment (``pip freeze`` restricted to zoforge's dependency closure).

Run it with the environment's Python after upgrading a dependency and testing:
    .venv/bin/python tools/freeze_constraints.py        (or: make constraints)
Local version labels (``2.13.0+cpu``) are dropped: ``==2.13.0`` accepts any build of that release.
"""

from __future__ import annotations

import pathlib
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parent.parent
HEADER = """\
# Exact versions of every package zoforge needs (all extras), as tested. Generated from the
# environment by tools/freeze_constraints.py; pyproject.toml has the compatible ranges.
# Used as: pip install -c constraints.txt ".[fpga]"
"""


def _requirements() -> list[tuple[Requirement, str | None]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = [(Requirement(r), None) for r in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        out += [(Requirement(r), extra) for r in reqs]
    return out


def closure() -> dict[str, str]:
    """Canonical name -> installed version, for every distribution reachable from zoforge's requirements."""
    found: dict[str, str] = {}
    todo = _requirements()
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra or ""}):
            continue
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            sys.exit(f"freeze_constraints: {req.name} is not installed; install zoforge with all extras first")
        found[name] = dist.version.split("+")[0]
        for sub in dist.requires or []:
            r = Requirement(sub)
            # a dependency's own extras are taken only when requested (req.extras); plain ones always
            for e in [None, *sorted(req.extras)]:
                if r.marker is None or r.marker.evaluate({"extra": e or ""}):
                    todo.append((Requirement(str(r).split(";")[0]), None))
                    break
    return found


def main() -> None:
    lines = [f"{name}=={version}" for name, version in sorted(closure().items())]
    (ROOT / "constraints.txt").write_text(HEADER + "\n".join(lines) + "\n")
    print(f"constraints.txt: {len(lines)} packages")


if __name__ == "__main__":
    main()
