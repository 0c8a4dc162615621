"""The anchors of docs/references.md, read the way a Markdown renderer links them (``### name``)."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "docs" / "references.md"
CITATION = re.compile(r"docs/references\.md#([a-z0-9-]+)")


def entries() -> dict[str, str]:
    """anchor -> the entry's text (up to the next heading)."""
    parts = re.split(r"^### ", REFERENCES.read_text(), flags=re.M)[1:]
    out = {}
    for part in parts:
        name, _, body = part.partition("\n")
        assert name not in out, f"docs/references.md: anchor {name} is defined twice"
        out[name.strip()] = body.split("\n## ")[0]
    return out
