"""Step time of our numpy GPT-2 against a PyTorch GPT-2 of the same shape, interleaved in one process.

GPT-2 124M shape, random init, random tokens, float32. Each round times, in turn: our forward (loss
only, inference memory), PyTorch's forward (inference_mode), our FO step (forward + backward into a
gradient buffer) and PyTorch's (forward + backward, grads set to None between steps; no optimizer),
then the zeroth-order steps: ours with PeZO (pool reuse, and on-the-fly rotate reuse, both with
per-tensor norm scaling), ours with MeZO's Gaussian z, and PyTorch MeZO as MeZO's code does it
(per parameter: ``torch.manual_seed``, ``torch.normal``, in-place add; +eps, -2eps, +eps, update).
Interleaving keeps the ratios meaningful on a shared, noisy machine; every timed step also records the
CPU time used by other processes (cores) so loaded rounds can be told apart.

Peak memory: each case runs once more in a fresh child process without torch, and its peak resident
set size (VmHWM, reset after warm-up through /proc/self/clear_refs) is compared with inference's.

Usage: python benchmarks/host_step_time.py [--B 4] [--T 64] [--threads 2] [--rounds 7] [--warmup 2]
       [--preset gpt2] [--no-torch] [--no-zo] [--wait-quiet SECONDS]
Needs `pip install torch==2.13.0` for the reference (never a runtime dependency of zoforge).
Writes benchmarks/results/host_step_time.md.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "host_step_time.md"


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--B", type=int, default=4)
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--preset", default="gpt2")
    ap.add_argument("--no-torch", action="store_true", help="time our model only")
    ap.add_argument("--no-zo", action="store_true", help="skip the zeroth-order steps and the memory probes")
    ap.add_argument("--probe", help=argparse.SUPPRESS)      # internal: one memory measurement in a child
    ap.add_argument("--wait-quiet", type=float, default=60.0,
                    help="before each round wait up to this many seconds for other processes to use < 0.1 cores")
    ap.add_argument("--out", type=pathlib.Path, default=OUT)
    return ap.parse_args()


ARGS = _args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # before numpy/torch load BLAS
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(ROOT))
from zoforge.host.config import preset  # noqa: E402
from zoforge.host.model import GPT  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine (all processes)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ


def wait_quiet(limit: float, threshold: float = 0.1, window: float = 0.5) -> None:
    end = time.time() + limit
    while time.time() < end:
        b = busy_seconds()
        time.sleep(window)
        if (busy_seconds() - b) / window < threshold:
            return


def timed(fn) -> tuple[float, float]:
    """(seconds, foreign cores: other processes' CPU use during the call)."""
    b0, c0, t0 = busy_seconds(), time.process_time(), time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    foreign = ((busy_seconds() - b0) - (time.process_time() - c0)) / dt
    return dt, max(foreign, 0.0)


def torch_model(cfg, seed: int = 0):
    """A plain PyTorch GPT-2 (pre-LN, tanh GELU, tied lm_head over the real vocabulary)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            C = cfg.n_embd
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.fc, self.fcproj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, cfg.n_head, -1).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
            x = x + self.proj(y)
            return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
            self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
            self.blocks = nn.ModuleList(Block() for _ in range(cfg.n_layer))
            self.lnf = nn.LayerNorm(cfg.n_embd)

        def forward(self, idx, targets):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            for b in self.blocks:
                x = b(x)
            logits = self.lnf(x) @ self.wte.weight.T
            return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    torch.manual_seed(seed)
    return Model()


ZO_EPS, ZO_LR = 1e-3, 1e-6
PEZO_POOL = "pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm"
PEZO_ROTATE = "pezo:reuse=rotate,gens=8,hold=8,lanes=8,bits=16,scale=norm"
# (case, optimizer, spec, fused): the reference passes (ZOSGD) and the fused ones (FusedZOSGD)
CASES = (("ours PeZO step (pool)", "pezo", PEZO_POOL, False),
         ("ours PeZO step (rotate)", "pezo", PEZO_ROTATE, False),
         ("ours MeZO step (Gaussian)", "mezo", None, False),
         ("ours PeZO step (pool, fused)", "pezo", PEZO_POOL, True),
         ("ours PeZO step (rotate, fused)", "pezo", PEZO_ROTATE, True),
         ("ours MeZO step (Gaussian, fused)", "mezo", None, True))


def zo_cases(ours, tokens, targets, ref) -> dict:
    """Our ZO steps (each its own optimizer over the same weights) and PyTorch MeZO. The fused steps
    (passes applied inside the forward, the update left due until the next forward) each get their own
    copy of the model, so every one of their steps pays for the previous step's update as in training."""
    from zoforge.host.optim import Workers, build
    workers = Workers(ARGS.threads)
    cases = {}
    for name, kind, spec, fused in CASES:
        model = GPT(ours.config, ours.params.copy()) if fused else ours
        loss = (lambda m: lambda: m.forward(tokens, targets))(model)
        opt = build(kind, model.params, perturb=spec, eps=ZO_EPS, seed=1, workers=workers, fused=fused)
        counter = iter(range(10 ** 9))
        cases[name] = (lambda o, c, f: lambda: o.step(f, next(c), ZO_LR))(opt, counter, loss)
    if ref is not None:
        cases["torch MeZO step"] = torch_mezo(ref, tokens, targets)
    return cases


def torch_mezo(ref, tokens, targets):
    """MeZO's step (large_models/trainer.py) on the PyTorch model, in place, under inference_mode."""
    import torch
    params = [p for p in ref.parameters()]
    ti, tt = torch.from_numpy(tokens), torch.from_numpy(targets)
    state = {"seed": 0}

    def perturb(seed, scale):
        torch.manual_seed(seed)
        for p in params:
            z = torch.normal(mean=0.0, std=1.0, size=p.shape, dtype=p.dtype)
            p.data.add_(z, alpha=scale)

    def step():
        state["seed"] += 1
        seed = state["seed"]
        with torch.inference_mode():
            perturb(seed, ZO_EPS)
            l1 = ref(ti, tt).item()
            perturb(seed, -2 * ZO_EPS)
            l2 = ref(ti, tt).item()
            perturb(seed, ZO_EPS)
            perturb(seed, -ZO_LR * (l1 - l2) / (2 * ZO_EPS))
    return step


PROBES = ("inference", "PeZO pool", "PeZO rotate", "MeZO", "PeZO pool fused", "MeZO fused", "FO fwd+bwd")


def probe(case: str) -> None:
    """In a child process: peak RSS while running ``case`` once after warm-up (the model and its buffers
    exist before the peak is reset, so the peak is what the step adds on top of them)."""
    import json

    from zoforge.host.optim import Workers, build
    cfg = preset(ARGS.preset)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, cfg.vocab_size, (ARGS.B, ARGS.T))
    targets = rng.integers(0, cfg.vocab_size, (ARGS.B, ARGS.T))
    model = GPT(cfg, seed=0)
    loss = lambda: model.forward(tokens, targets)           # noqa: E731
    if case == "inference":
        fn = loss
    elif case == "FO fwd+bwd":
        fn = lambda: model.forward_backward(tokens, targets)   # noqa: E731
    else:
        kind, spec = {"PeZO pool": ("pezo", PEZO_POOL), "PeZO rotate": ("pezo", PEZO_ROTATE),
                      "MeZO": ("mezo", None)}[case.removesuffix(" fused")]
        opt = build(kind, model.params, perturb=spec, eps=ZO_EPS, seed=1, workers=Workers(ARGS.threads),
                    fused=case.endswith(" fused"))
        fn = lambda: opt.step(loss, 0, ZO_LR)               # noqa: E731
    fn()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kib("VmRSS")
    fn()
    print(json.dumps({"case": case, "rss_before_mib": before / 1024, "peak_mib": _status_kib("VmHWM") / 1024}))


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def memory_probes() -> dict:
    import json
    import subprocess
    out = {}
    for case in PROBES:
        cmd = [sys.executable, __file__, "--probe", case, "--B", str(ARGS.B), "--T", str(ARGS.T), "--threads",
               str(ARGS.threads), "--preset", ARGS.preset]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            print(res.stderr)
            continue
        out[case] = json.loads(res.stdout.strip().splitlines()[-1])
        print("memory", out[case], flush=True)
    return out


def main() -> None:
    if ARGS.probe:
        return probe(ARGS.probe)
    cfg = preset(ARGS.preset)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, cfg.vocab_size, (ARGS.B, ARGS.T))
    targets = rng.integers(0, cfg.vocab_size, (ARGS.B, ARGS.T))
    ours = GPT(cfg, seed=0)
    cases = {
        "ours forward": lambda: ours.forward(tokens, targets),
        "ours FO fwd+bwd": lambda: ours.forward_backward(tokens, targets),
    }
    torch_version = None
    if not ARGS.no_torch:
        import torch
        torch.set_num_threads(ARGS.threads)
        torch_version = torch.__version__
        ref = torch_model(cfg)
        ti, tt = torch.from_numpy(tokens), torch.from_numpy(targets)

        def torch_forward():
            with torch.inference_mode():
                ref(ti, tt).item()

        def torch_fo():
            ref.zero_grad(set_to_none=True)
            ref(ti, tt).backward()

        cases = {"ours forward": cases["ours forward"], "torch forward": torch_forward,
                 "ours FO fwd+bwd": cases["ours FO fwd+bwd"], "torch FO fwd+bwd": torch_fo}
    if not ARGS.no_zo:
        cases.update(zo_cases(ours, tokens, targets, None if ARGS.no_torch else ref))
    for fn in cases.values():
        for _ in range(ARGS.warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in cases}
    loads: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(ARGS.rounds):
        wait_quiet(ARGS.wait_quiet)
        for name, fn in cases.items():
            dt, foreign = timed(fn)
            times[name].append(dt)
            loads[name].append(foreign)
        print(f"round {r + 1}: " + ", ".join(f"{k} {1e3 * v[-1]:.0f} ms" for k, v in times.items()), flush=True)
    memory = {} if ARGS.no_zo else memory_probes()
    write(cfg, times, loads, torch_version, memory)
    # per-round raw numbers, so a reader can redo the statistics
    print({k: [round(1e3 * t) for t in v] for k, v in times.items()})
    print({k: [round(f, 2) for f in v] for k, v in loads.items()})


CLEAN = 0.1      # a measurement is "clean" when other processes used less than this many cores


def _median_ms(values) -> str:
    return f"{1e3 * statistics.median(values):.0f}" if values else "-"


def _per_round(times, loads, num, den, factor=1.0):
    """(median of per-round ratios, median over rounds where both were clean (count))."""
    per = [o / (factor * t) for o, t in zip(times[num], times[den])]
    both = [o / (factor * t) for o, t, fo, ft in zip(times[num], times[den], loads[num], loads[den])
            if fo < CLEAN and ft < CLEAN]
    return statistics.median(per), (statistics.median(both) if both else None), len(both)


def write(cfg, times, loads, torch_version, memory=None) -> None:
    clean = {k: [t for t, f in zip(v, loads[k]) if f < CLEAN] for k, v in times.items()}
    rows = [f"| {k} | {_median_ms(v)} | {1e3 * min(v):.0f} | {1e3 * max(v):.0f} | "
            f"{statistics.median(loads[k]):.2f} / {max(loads[k]):.2f} | {_median_ms(clean[k])} ({len(clean[k])}) |"
            for k, v in times.items()]
    ratios = []
    for what in ("forward", "FO fwd+bwd"):
        ours, ref = f"ours {what}", f"torch {what}"
        if ref not in times:
            continue
        per_round = [o / t for o, t in zip(times[ours], times[ref])]
        both = [o / t for o, t, fo, ft in zip(times[ours], times[ref], loads[ours], loads[ref])
                if fo < CLEAN and ft < CLEAN]
        ratios.append(f"| {what} | {statistics.median(times[ours]) / statistics.median(times[ref]):.2f} | "
                      f"{statistics.median(per_round):.2f} | "
                      f"{f'{statistics.median(both):.2f} ({len(both)})' if both else '-'} |")
    goals = []
    checks = [("forward: ours / torch", "ours forward", "torch forward", 1.0, "<= 1.2"),
              ("FO step: ours / torch", "ours FO fwd+bwd", "torch FO fwd+bwd", 1.0, "<= 1.2"),
              ("PeZO step (pool) / (2 x our forward)", "ours PeZO step (pool)", "ours forward", 2.0, "(reference)"),
              ("PeZO step (rotate) / (2 x our forward)", "ours PeZO step (rotate)", "ours forward", 2.0, "(reference)"),
              ("MeZO step (Gaussian) / (2 x our forward)", "ours MeZO step (Gaussian)", "ours forward", 2.0,
               "(reference)"),
              ("fused PeZO step (pool) / (2 x our forward)", "ours PeZO step (pool, fused)", "ours forward", 2.0,
               "<= 1.10"),
              ("fused PeZO step (rotate) / (2 x our forward)", "ours PeZO step (rotate, fused)", "ours forward",
               2.0, "-"),
              ("fused MeZO step (Gaussian) / (2 x our forward)", "ours MeZO step (Gaussian, fused)", "ours forward",
               2.0, "<= 1.5"),
              ("torch MeZO / our PeZO step (pool)", "torch MeZO step", "ours PeZO step (pool)", 1.0, "(reference)"),
              ("torch MeZO / our fused PeZO step (pool)", "torch MeZO step", "ours PeZO step (pool, fused)", 1.0,
               ">= 4"),
              ("torch MeZO / our fused MeZO step", "torch MeZO step", "ours MeZO step (Gaussian, fused)", 1.0, "-")]
    for label, num, den, factor, goal in checks:
        if num in times and den in times:
            med, clean_med, n = _per_round(times, loads, num, den, factor)
            shown = f"{clean_med:.2f} ({n})" if clean_med is not None else "-"
            goals.append(f"| {label} | {med:.2f} | {shown} | {goal} |")
    mem_rows = []
    if memory:
        base = memory.get("inference", {}).get("peak_mib")
        for case, m in memory.items():
            ratio = f"{m['peak_mib'] / base:.3f}" if base else "-"
            mem_rows.append(f"| {case} | {m['rss_before_mib']:.0f} | {m['peak_mib']:.0f} | {ratio} |")
    command = " ".join([".venv/bin/python benchmarks/host_step_time.py", *sys.argv[1:]])
    names = list(times)
    round_rows = [f"| {r + 1} | " + " | ".join(f"{1e3 * times[k][r]:.0f} ({loads[k][r]:.2f})" for k in names) + " |"
                 for r in range(len(times[names[0]]))]
    lines = [
        "# Host step time: our numpy GPT-2 vs PyTorch (interleaved, one process)", "",
        f"Command: `{command}`", "",
        f"Shape: `{cfg}`, B={ARGS.B}, T={ARGS.T}, {ARGS.threads} threads, float32, random init; "
        f"{ARGS.rounds} rounds after {ARGS.warmup} warm-up calls each. FO = forward + backward "
        "(no optimizer). Machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}"
        + (f", torch {torch_version}" if torch_version else "") + ".", "",
        "| what | median ms | min ms | max ms | other processes' load, cores (median / max) | "
        f"median ms of clean steps (load < {CLEAN}) (count) |",
        "|---|---|---|---|---|---|", *rows, ""]
    if ratios:
        lines += ["| ratio ours / torch | of medians | median of per-round ratios | "
                  "median ratio over rounds where both were clean (count) |", "|---|---|---|---|", *ratios, ""]
    if goals:
        lines += ["Goals as ratios (per round, same-round measurements):", "",
                  "| ratio | median over rounds | median over clean rounds (count) | goal |", "|---|---|---|---|",
                  *goals, ""]
    if mem_rows:
        lines += [f"Peak memory (fresh child process per case, no torch; MiB; the model's "
                  f"{cfg.num_parameters / 1e6:.0f}M float32 weights are "
                  f"{cfg.num_parameters * 4 / 2**20:.0f} MiB): goal ZO <= 1.2x inference.", "",
                  "| case | RSS before the timed call | peak during it | peak / inference peak |", "|---|---|---|---|",
                  *mem_rows, ""]
    lines += ["ZO steps: eps 1e-3, lr 1e-6, q = 1. PeZO pool: `" + PEZO_POOL + "`; rotate: `" + PEZO_ROTATE + "` "
              "(its per-tensor scales need one extra generation pass per step); MeZO: Box-Muller Gaussian from "
              "per-block SFC64 streams. Our reference ZO steps (ZOSGD) are 3 passes over the weights (+eps, -2eps, "
              "restore fused with the update), PyTorch MeZO 4 (as MeZO's trainer). The fused steps (FusedZOSGD, "
              "the same bits: tests/host/test_optim_fused.py) apply each pass to a tensor right before the forward "
              "reads it, and the restore and update of one step in the same sweep as the next step's +eps: 2 "
              "sweeps per step, each over weights the forward is about to read.", ""]
    lines += ["Every round, ms (other processes' load in cores):", "",
              "| round | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|", *round_rows, ""]
    lines += ["The machine is shared: steps measured while other processes used >= 0.1 cores are slowed "
              "unevenly (OpenBLAS and PyTorch threads both suffer), so the clean columns are the ones to "
              "read (docs/references.md#cpu-shared-machine).", ""]
    ARGS.out.parent.mkdir(parents=True, exist_ok=True)
    ARGS.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
