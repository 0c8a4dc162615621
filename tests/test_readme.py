"""Every `zoforge` command in the README that needs no hardware and no network runs as written.

The commands are the lines of the README's ```bash blocks that start with `zoforge`; they run in order
(later ones use what earlier ones wrote, e.g. `--init runs/base`) in a temporary copy of the files the
README names, with the hub offline. A trailing comment `# needs ...` (a board, an NPU, mlir-aie, the
network) marks a command that cannot run here, `# slow` one that takes minutes (run those too with
ZOFORGE_README_SLOW=1).
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import shutil

import pytest

from zoforge.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILES = ("README.md", "docs/examples")
SKIP = re.compile(r"#\s*(needs\b[^#]*|slow\b[^#]*)$")


def commands() -> list[tuple[str, str | None]]:
    """(command line, reason to skip it or None) for each zoforge line of a ```bash block."""
    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if not line.startswith("zoforge "):
                continue
            marker = SKIP.search(line)
            reason = None
            if marker and marker.group(1).startswith("needs"):
                reason = marker.group(1).strip()
            elif marker and not os.environ.get("ZOFORGE_README_SLOW"):
                reason = "slow (ZOFORGE_README_SLOW=1 runs it)"
            found.append((line, reason))
    return found


def test_the_readme_has_commands_to_run():
    runnable = [c for c, reason in commands() if reason is None]
    assert len(runnable) >= 20
    for words in ("pretrain", "--optimizer adamw", "--optimizer mezo", "--optimizer pezo", "--resume",
                  "eval --init", "sample --init", "npu validate", "npu perf", "npu emulate", "--matmul npu-emu",
                  "--task sst2", "quality"):
        assert any(words in c for c in runnable), words
    skipped = [c for c, reason in commands() if reason]
    assert any("--init gpt2" in c for c in skipped) and any("flash" in c for c in skipped)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    for name in FILES:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, work / name)
    cwd = os.getcwd()
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_HUB_CACHE")}
    os.chdir(work)
    os.environ.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(work / "hub-cache"))
    try:
        yield work
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


# One worker runs them all, in order: later commands read what earlier ones wrote.
@pytest.mark.xdist_group("readme")
@pytest.mark.parametrize("line, reason", commands(), ids=[c.split("#")[0].strip()[:70] for c, _ in commands()])
def test_readme_command(workdir, capsys, line, reason):
    if reason:
        pytest.skip(reason)
    argv = shlex.split(line, comments=True)
    code = main(argv[1:])
    out, err = capsys.readouterr()
    assert code == 0, f"{line}\n{out[-2000:]}\n{err[-2000:]}"
