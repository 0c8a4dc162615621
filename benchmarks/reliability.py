"""Hostile-user cases against the `zoforge` command: bad input, outputs that must not be replaced,
damaged or misused checkpoints, signals. Each case runs `python -m zoforge` in a subprocess (20 s
limit, 4 GB address space) and is scored: traceback, hang, data lost, bad input silently accepted.
The "link" class sends crafted frames to the golden link model and to the board top in the simulator,
and connects the host to boards built with other buffers (:mod:`reliability_link`, in a subprocess);
it adds the column "applied twice".

    PYTHONPATH=$PWD python benchmarks/reliability.py [--code TREE] [--classes link,...] [--out FILE.json]

``--code`` runs another source tree (e.g. an export of an older commit) with the same cases.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time

TINY = ["--model", "tiny", "--seq", "48", "--batch", "4", "--no-progress", "--threads", "1", "--eval-batches", "1"]
LIMIT_S, LIMIT_BYTES = 20, 4 << 30


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


class Runner:
    def __init__(self, code: pathlib.Path, work: pathlib.Path):
        self.code, self.work, self.rows = code, work, []

    def start(self, argv, limited=False):
        env = {**os.environ, "PYTHONPATH": str(self.code)}
        return subprocess.Popen([sys.executable, "-m", "zoforge", *map(str, argv)], cwd=self.work, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                preexec_fn=_limits if limited else None)

    def zoforge(self, argv, limited=False):
        p = self.start(argv, limited)
        try:
            out, err = p.communicate(timeout=LIMIT_S)
            return p.returncode, out, err
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return None, "", ""

    def record(self, cls, name, code, err, *, lost=False, accepted=False, expect_fail=True):
        traceback = "Traceback" in err or "internal error" in err
        hang = code is None
        if expect_fail and code == 0:
            accepted = True
        multi = code not in (0, None) and not traceback and err.strip().count("\n") > 0
        self.rows.append({"class": cls, "case": name, "exit": code, "traceback": traceback, "hang": hang,
                          "lost": bool(lost), "accepted": bool(accepted), "multiline": multi,
                          "line": err.strip().splitlines()[-1][:160] if err.strip() else ""})

    def case(self, cls, name, argv, **kw):
        # only a case that reads an endless device gets the memory limit (Yosys in WASM needs a large
        # address space)
        code, _, err = self.zoforge(argv, limited="/dev/zero" in argv)
        self.record(cls, name, code, err, **kw)
        return code, err


def cli_cases(r: Runner, w: pathlib.Path) -> None:
    (w / "existing.txt").write_text("keep\n")
    (w / "some_dir").mkdir()
    os.mkfifo(w / "fifo")
    long = "1" * 5000
    cases = {
        "gen -o existing file": ["gen", "lfsr:width=8", "-o", "existing.txt"],
        "golden -o directory": ["golden", "lfsr:width=8", "--count", "4", "-o", "some_dir"],
        "train -o file/run": ["train", *TINY, "--task", "synthetic", "--steps", "1", "-o", "existing.txt/run"],
        "--template '{sentence} {x}'": ["train", *TINY, "--task", "synthetic", "--steps", "1", "--template",
                                        "{sentence} {x}", "-o", "r1"],
        "npu emulate 5000-digit --shape": ["npu", "emulate", "gemm", "--shape", f"1x{long}x3"],
        "--model 192 TiB": ["train", "--task", "synthetic", "--model", "gpt:n_embd=65536,n_head=1,n_layer=1024",
                            "-o", "r2"],
        "golden 191 GiB": ["golden", "lfsr:lanes=256,width=64", "--count", "100000000", "-o", "g.npy"],
        "--data /dev/zero": ["train", *TINY, "--task", "lm", "--steps", "1", "--data", "/dev/zero", "-o", "r3"],
        "--data FIFO": ["train", *TINY, "--task", "lm", "--steps", "1", "--data", "fifo", "-o", "r4"],
        "--data ''": ["train", *TINY, "--task", "lm", "--steps", "1", "--data", "", "-o", "r5"],
        "-o '' (train)": ["train", *TINY, "--task", "synthetic", "--steps", "1", "-o", ""],
        "--init '' (eval)": ["eval", "--init", "", "--task", "synthetic"],
        "--labels a|b|c, 2 classes": ["train", *TINY, "--task", "synthetic", "--steps", "1", "--labels", "a|b|c",
                                      "-o", "r6"],
        "100 KB spec value": ["gen", "lfsr:width=" + "9" * 100_000, "-o", "g"],
        "5000-digit --model value": ["train", "--task", "synthetic", "--model", "gpt:n_embd=" + long, "-o", "r7"],
    }
    for name, argv in cases.items():
        code, err = r.case("CLI", name, argv)
        if len(err) > 1000:
            r.rows[-1]["multiline"] = True                   # an error line echoing the whole input
    r.rows[-1]["lost"] = (w / "existing.txt").read_text() != "keep\n"
    junk = [name for name in ("checkpoints", "metrics.jsonl") if (w / name).exists()]  # `-o ''` used the cwd
    r.rows.append({"class": "CLI", "case": "an empty path wrote into the current folder", "exit": None,
                   "traceback": False, "hang": False, "lost": False, "accepted": bool(junk), "multiline": False,
                   "line": ", ".join(junk)})
    # sample with a prompt that is not UTF-8 needs a model
    code, _, err = r.zoforge(["train", *TINY, "--task", "synthetic", "--steps", "1", "-o", "m"])
    r.case("CLI", "sample --prompt $'\\xff'", ["sample", "--init", "m", "--prompt", os.fsdecode(b"\xff"),
                                              "--tokens", "2"])


def output_cases(r: Runner, w: pathlib.Path) -> None:
    node = w / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    code, err = r.case("outputs", "golden -o a device node", ["golden", "lfsr:width=8", "--count", "4", "-o", node])
    r.rows[-1]["lost"] = not stat.S_ISCHR(os.lstat(node).st_mode)
    os.mkfifo(w / "ofifo")
    r.case("outputs", "golden -o a FIFO", ["golden", "lfsr:width=8", "--count", "4", "-o", w / "ofifo"])
    r.rows[-1]["lost"] = not stat.S_ISFIFO(os.lstat(w / "ofifo").st_mode)
    (w / "real.npy").write_text("keep")
    (w / "link.npy").symlink_to(w / "real.npy")
    r.case("outputs", "golden -o a symlink", ["golden", "lfsr:width=8", "--count", "4", "-o", w / "link.npy"])
    r.rows[-1]["lost"] = not (w / "link.npy").is_symlink() or (w / "real.npy").read_text() != "keep"
    (w / "odir").mkdir()
    (w / "odir" / "inside").write_text("keep")
    r.case("outputs", "golden -o a directory", ["golden", "lfsr:width=8", "--count", "4", "-o", w / "odir"])
    r.rows[-1]["lost"] = (w / "odir" / "inside").read_text() != "keep"
    (w / "gen").mkdir()
    r.case("outputs", "gen --name ../../x", ["gen", "lfsr:width=8", "-o", w / "gen" / "a" / "b", "--name", "../../x"])
    r.rows[-1]["lost"] = (w / "gen" / "x.v").exists()                  # written outside the output folder
    r.case("outputs", "gen --name 'a b'", ["gen", "lfsr:width=8", "-o", w / "gen2", "--name", "a b"])


def _train(r: Runner, out, *extra, steps=2):
    code, _, err = r.zoforge(["train", *TINY, "--task", "synthetic", "--steps", steps, "-o", out, *extra])
    assert code == 0, err
    return sorted((out / "checkpoints").glob("step-*"))[-1]


def _wait_for(ready, limit=60.0, pause=0.05) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and not ready():
        time.sleep(pause)


def checkpoint_cases(r: Runner, w: pathlib.Path) -> None:
    resume = ["--resume", "--steps", "3", "--no-progress"]
    runs = iter(range(100))

    def fresh(*extra):                         # every damage case gets its own run: a case may consume it
        out = w / f"a{next(runs)}"
        return out, _train(r, out, *extra)

    def flip(ckpt):
        raw = bytearray((ckpt / "model.safetensors").read_bytes())
        raw[-5] ^= 0x10
        (ckpt / "model.safetensors").write_bytes(bytes(raw))

    for name in ("eval", "sample", "resume"):
        a, ckpt = fresh()
        flip(ckpt)
        argv = {"eval": ["eval", "--init", a, "--task", "synthetic", "--seq", "48"],
                "sample": ["sample", "--init", a, "--tokens", "2"], "resume": ["train", "-o", a, *resume]}[name]
        r.case("checkpoints", f"flipped bit: {name}", argv)
    a, ckpt = fresh()
    _, other = fresh("--seed", "5")
    (ckpt / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    r.case("checkpoints", "weights from another run: eval", ["eval", "--init", a, "--task", "synthetic", "--seq", "48"])
    for name in ("state.json step 1000000", "state.json optimizer changed", "state.json malformed"):
        a, ckpt = fresh()
        state = json.loads((ckpt / "state.json").read_text())
        bad = {"state.json step 1000000": json.dumps({**state, "step": 1_000_000}),
               "state.json optimizer changed": json.dumps({**state,
                                                           "options": {**state["options"], "optimizer": "adamw"}}),
               "state.json malformed": "{not json"}[name]
        (ckpt / "state.json").write_text(bad)
        r.case("checkpoints", name, ["train", "-o", a, *resume])
    c = w / "c"
    c_ckpt = _train(r, c, "--optimizer", "adamw", "--lr", "1e-3")
    (c_ckpt / "optimizer.safetensors").unlink()
    r.case("checkpoints", "optimizer.safetensors deleted", ["train", "-o", c, *resume])
    for what in ("latest", "state.json"):
        d = w / f"d-{what}"
        d_ckpt = _train(r, d)
        (d / "checkpoints" / "latest" if what == "latest" else d_ckpt / "state.json").unlink()
        r.case("checkpoints", f"new run, {what} missing", ["train", *TINY, "--task", "synthetic", "--steps", "1",
                                                           "-o", d])
        r.rows[-1]["lost"] = not (d_ckpt / "model.safetensors").is_file()
    # two writers in one folder: the second starts while the first trains
    e = w / "e"
    first = r.start(["train", *TINY, "--task", "synthetic", "--steps", "100000", "--eval-interval", "0", "-o", e])
    _wait_for(lambda: (e / "metrics.jsonl").exists() and '"train"' in (e / "metrics.jsonl").read_text())
    code, _, err = r.zoforge(["train", *TINY, "--task", "synthetic", "--steps", "3", "-o", e])
    first.send_signal(signal.SIGINT)
    _, err1 = first.communicate(timeout=60)
    kept = [json.loads(x) for x in (e / "metrics.jsonl").read_text().splitlines() if x.strip()]
    first_intact = any(x.get("kind") == "start" and x["options"]["steps"] == 100000 for x in kept)
    r.record("checkpoints", "two runs in one folder", code, err, lost=first.returncode != 130 or not first_intact)
    r.rows[-1]["traceback"] |= "Traceback" in err1
    # SIGTERM while training; a second Ctrl-C while the first one's save is being written
    big = ["--model", "tiny:n_embd=768,n_head=12,n_layer=4", "--eval-interval", "0"]
    for name in ("SIGTERM during training", "second Ctrl-C during the save"):
        f = w / f"f{len(name)}"
        p = r.start(["train", *TINY, *big, "--task", "synthetic", "--steps", "100000", "-o", f])
        _wait_for(lambda: (f / "metrics.jsonl").exists() and '"train"' in (f / "metrics.jsonl").read_text())
        if name.startswith("SIGTERM"):
            p.send_signal(signal.SIGTERM)
        else:
            p.send_signal(signal.SIGINT)
            _wait_for(lambda: (f / "checkpoints").exists() and any((f / "checkpoints").iterdir()), pause=0.001)
            p.send_signal(signal.SIGINT)
        try:
            _, err = p.communicate(timeout=90)
            code = p.returncode
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            code = None
        saved = any((g / "model.safetensors").is_file() for g in (f / "checkpoints").glob("step-*")) \
            if (f / "checkpoints").exists() else False
        r.record("checkpoints", name, code, err, lost=not saved, expect_fail=False)
    g = w / "g"
    g.mkdir()
    (g / "weights.safetensors").write_bytes(b"earlier run")
    r.case("checkpoints", "train --device over existing weights", ["train", "--device", "golden", "--steps", "1",
                                                                   "--no-progress", "-o", g])
    r.rows[-1]["lost"] = (g / "weights.safetensors").read_bytes() != b"earlier run"


def link_cases(r: Runner, w: pathlib.Path) -> None:
    worker = pathlib.Path(__file__).with_name("reliability_link.py")
    env = {**os.environ, "PYTHONPATH": str(r.code), "AMARANTH_USE_YOSYS": "builtin"}
    p = subprocess.run([sys.executable, str(worker)], cwd=w, env=env, capture_output=True, text=True, timeout=1800)
    for line in p.stdout.splitlines():
        x = json.loads(line)
        r.rows.append({"exit": None, "accepted": False, "line": "", **x, "multiline": x.pop("unclear")})
    if p.returncode:
        r.rows.append({"class": "link", "case": "the case runner itself", "exit": p.returncode, "traceback": True,
                       "hang": False, "lost": False, "accepted": False, "multiline": False, "twice": False,
                       "line": p.stderr.strip().splitlines()[-1][:160] if p.stderr.strip() else ""})


COLUMNS = ("traceback", "hang", "lost", "accepted", "multiline", "twice")


def table(rows) -> str:
    lines = ["| class | cases | tracebacks | hangs | data lost | bad input accepted | errors not one short line "
             "| applied twice |", "|---|---|---|---|---|---|---|---|"]
    for cls in ("CLI", "outputs", "checkpoints", "link"):
        sel = [x for x in rows if x["class"] == cls]
        if sel:
            lines.append(f"| {cls} | {len(sel)} | " + " | ".join(str(sum(bool(x.get(k)) for x in sel))
                                                              for k in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", default=str(pathlib.Path(__file__).resolve().parents[1]), help="source tree to run")
    ap.add_argument("--out", help="write the rows as JSON here")
    ap.add_argument("--classes", default="cli,outputs,checkpoints,link", help="comma-separated classes to run")
    args = ap.parse_args()
    chosen = {"cli": cli_cases, "outputs": output_cases, "checkpoints": checkpoint_cases, "link": link_cases}
    run = [chosen[c] for c in args.classes.split(",")]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        r = Runner(pathlib.Path(args.code).resolve(), pathlib.Path(tmp))
        for cases in run:
            sub = pathlib.Path(tmp) / cases.__name__
            sub.mkdir()
            r.work = sub
            cases(r, sub)
    print(table(r.rows))
    for x in r.rows:
        bad = [k for k in COLUMNS if x.get(k)]
        print(f"  {x['class']:<12} {x['case']:<40} exit {x['exit']!s:<5} {','.join(bad) or 'ok':<20} {x['line'][:90]}")
    print(f"{len(r.rows)} cases in {time.perf_counter() - t0:.0f} s")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(r.rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
