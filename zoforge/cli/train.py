"""``zoforge train | eval | sample | pretrain``: the host's subcommands.

Hooked into the main CLI by :func:`add_host_parsers` (``zoforge/cli.py``). Bad input (an option value,
a missing or malformed data file, checkpoint or tokenizer, a bad ``--perturb`` spec) gives one line
naming the option and exit status 2; a run stopped by a NaN loss exits 1 with one line; Ctrl-C saves a
checkpoint first, then exits 130.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

from ..errors import shown
from .values import integer, number, path, show_default, text

__all__ = ["add_host_parsers"]

_LR_DEFAULT = {"adamw": 1e-4, "mezo": 1e-6, "pezo": 1e-6}


# ---- option value converters: one line naming the option, its value and what is allowed ------------



def _labels(value: str) -> list[str]:
    words = text("--labels")(value).split("|")
    if len(words) < 2 or any(not w for w in words):
        raise argparse.ArgumentTypeError(f"--labels={shown(value)} must be two or more non-empty label words separated "
                                         "by '|', e.g. ' terrible| great' (label 0, label 1, ...)")
    return words


def _betas(value: str) -> list[float]:
    try:
        values = [float(v) for v in value.split(",")]
    except ValueError:
        values = []
    if len(values) != 2 or not all(0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"--betas={shown(value)} must be two numbers in [0, 1) separated by a comma, "
                                         "e.g. 0.9,0.95")
    return values


# ---- option groups: every default shown comes from the options object the command runs with ---------

def _d(value) -> str:
    """`` (default X)`` for a help line, X written so that the option's own converter reads it back."""
    return f" (default {show_default(value)})"


def _add_model(p, D, *, required_init: bool = False) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--init", required=required_init, metavar="CHECKPOINT", type=path("--init"),
                   help="start from a checkpoint: a Hugging Face hub name (gpt2, openai-community/gpt2-medium ...; "
                        "the hub extra, its cache), a Hugging Face GPT-2 folder, an llm.c .bin, or a run folder "
                        "(its newest checkpoint)")
    if hasattr(D, "model"):
        g.add_argument("--model", metavar="SHAPE", help="model shape when starting from scratch: a preset "
                       f"(gpt2, small, tiny ...) or gpt:key=value,...; not with --init{_d(D.model)}")
    g.add_argument("--tokenizer", metavar="bytes|FOLDER", type=path("--tokenizer"),
                   help="'bytes' or a folder with encoder.json + vocab.bpe (or vocab.json + merges.txt) (default: "
                        "the files saved with --init, else bytes for 257-token models)")
    g.add_argument("--matmul", choices=("cpu", "npu-emu", "npu"),
                   help=f"matmul backend: numpy, the NPU emulator (bf16 numerics), a real NPU (XRT){_d(D.matmul)}")
    g.add_argument("--npu-design", metavar="SPEC",
                   help="the NPU design of --matmul npu-emu: a gemm spec or preset (zoforge list gemm); one with "
                        "perturb=PRESET makes PeZO perturb the weights inside the tiles (default: npu1-gpt2)")
    g.add_argument("--threads", type=integer("--threads", 0, 256),
                   help=f"CPU threads (BLAS and the optimizer's passes); 0: automatic{_d(D.threads)}")


def _add_data(p, D, *, device: bool = False) -> None:
    from ..host.data import TASKS
    g = p.add_argument_group("data")
    g.add_argument("--task", choices=TASKS, help="lm: plain text; sst2: sentence<TAB>label TSV; synthetic: "
                                                 f"a generated sentiment task (no --data){_d(D.task)}")
    g.add_argument("--data", metavar="PATH", type=path("--data"), help="text file or folder (lm); .tsv file or "
                   "folder with train.tsv and dev.tsv (sst2)")
    g.add_argument("--template", type=text("--template"), help="classification prompt with {sentence} (default: "
                   "MeZO's '{sentence} It was')")
    g.add_argument("--labels", type=_labels, help="classification label words separated by '|' (default: "
                                                  "' terrible| great')")
    g.add_argument("--val-fraction", type=number("--val-fraction", 0.0, 1.0, hi_open=True),
                   help=f"validation share of the data{_d(D.val_fraction)}")
    g.add_argument("--seq", type=integer("--seq", 2, 1 << 16),
                   help=f"tokens per sequence, at most the model's block_size{_d(D.seq)}, or the block_size "
                        "of a --model with a shorter one")
    g.add_argument("--batch", type=integer("--batch", 1, 1 << 16), help=f"sequences per step{_d(D.batch)}"
                   + (f"; with --device: examples per step, {_dev('batch')}" if device else ""))
    g.add_argument("--eval-batches", type=integer("--eval-batches", 1, 1 << 20),
                   help=f"batches per evaluation{_d(D.eval_batches)}")


def _dev(name: str) -> str:
    """The default with --device, from :class:`DeviceTrainOptions`."""
    from ..device.options import DeviceTrainOptions
    return f"default {show_default(getattr(DeviceTrainOptions(), name))}"


def _add_optimizer(p, D, *, lr_by_optimizer: bool, device: bool = False) -> None:
    from ..host.optim import OPTIMIZERS
    g = p.add_argument_group("optimizer")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help="adamw (backprop), mezo (ZO, Gaussian z), "
                   f"pezo (ZO, z from --perturb: the numbers the FPGA makes){_d(D.optimizer)}")
    if lr_by_optimizer:              # the default follows --optimizer
        same = ", ".join(k for k, v in _LR_DEFAULT.items() if v == D.lr)
        others = "; ".join(f"{show_default(v)} for {k}" for k, v in _LR_DEFAULT.items() if v != D.lr)
        shown = f" (default {show_default(D.lr)} for {same}; {others})"
    else:
        shown = _d(D.lr)
    g.add_argument("--lr", type=number("--lr", 0.0), help=f"learning rate{shown}"
                   + (f"; with --device: {_dev('lr')}" if device else ""))
    g.add_argument("--lr-schedule", choices=("constant", "cosine"), help=f"learning-rate schedule{_d(D.lr_schedule)}")
    g.add_argument("--warmup", type=integer("--warmup", 0), help=f"linear warm-up steps{_d(D.warmup)}")
    g.add_argument("--weight-decay", type=number("--weight-decay", 0.0, lo_open=False),
                   help=f"decoupled weight decay, not on biases and LayerNorm{_d(D.weight_decay)}")
    g.add_argument("--betas", type=_betas, help=f"AdamW betas{_d(D.betas)}")
    g.add_argument("--grad-clip", type=number("--grad-clip", 0.0, lo_open=False),
                   help=f"AdamW gradient-norm clip, 0 = off{_d(D.grad_clip)}")
    g = p.add_argument_group("ZO (mezo, pezo)")
    from ..host.optim import DEFAULT_PERTURB
    g.add_argument("--perturb", metavar="SPEC", help="pezo's random-number spec, as `zoforge gen` takes it: "
                   f"pezo:..., gaussian:..., uniform:... or a preset{_d(DEFAULT_PERTURB)}")
    g.add_argument("--pool-refresh", type=integer("--pool-refresh", None), metavar="N",
                   help="pezo pool: reseed (refill) the pool every N queries, the spec's refresh=N; 0 keeps the "
                        f"spec's value (never, unless the spec sets it){_d(D.pool_refresh)}")
    g.add_argument("--eps", type=number("--eps", 0.0), help=f"perturbation size{_d(D.eps)}")
    g.add_argument("--queries", type=integer("--queries", 1, 1024), help=f"queries per step{_d(D.queries)}")


def _add_run(p, D, *, device: bool = False) -> None:
    on_device = (lambda name: f"; with --device: {_dev(name)}") if device else (lambda name: "")
    g = p.add_argument_group("run")
    g.add_argument("--steps", type=integer("--steps", 1), help=f"total optimizer steps{_d(D.steps)}{on_device('steps')}")
    g.add_argument("--seed", type=integer("--seed", 0, 2 ** 63 - 1),
                   help=f"batch order, model init, ZO seeds{_d(D.seed)}{on_device('seed')}")
    g.add_argument("--eval-interval", type=integer("--eval-interval", 0),
                   help=f"evaluate every N steps and at the end, 0 = only at the start and end{_d(D.eval_interval)}"
                        f"{on_device('eval_interval')}")
    g.add_argument("--checkpoint-interval", type=integer("--checkpoint-interval", 0),
                   help=f"save every N steps, 0 = at the end and on Ctrl-C{_d(D.checkpoint_interval)}")
    g.add_argument("--keep", type=integer("--keep", 1, 1000), metavar="K",
                   help=f"keep the newest K checkpoints{_d(D.keep)}")
    g.add_argument("--log-interval", type=integer("--log-interval", 1),
                   help=f"metrics line every N steps{_d(D.log_interval)}")
    g.add_argument("-o", "--out", metavar="RUN", type=path("--out"), help="run folder: metrics.jsonl, loss.png, "
                   f"checkpoints/{_d(D.out)}" + ("; with --device: runs/DEVICE" if device else ""))
    g.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    g.add_argument("--resume-override", action="store_true", help="with --resume: allow options that change the "
                   "run's trajectory (--lr, --eps ...) to differ from the saved run's")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def _hidden(text: str) -> list[int]:
    from ..errors import UsageError
    try:
        sizes = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        sizes = [0]
    if any(not 1 <= v <= 4096 for v in sizes):
        raise UsageError(f"--hidden={text!r} is not a list of layer sizes; give integers in [1, 4096] separated "
                         f"by commas, or '' for a linear classifier")
    return sizes


def _add_device(p) -> None:
    g = p.add_argument_group("device (train inside an engine)")
    g.add_argument("--device", metavar="DEVICE", help="train in an engine instead of GPT-2 in numpy: golden "
                   "(the golden model), sim:BOARD (the board top in Amaranth's simulator, UART included), "
                   "sim-verilator:BOARD (the same compiled by Verilator at the board's real baud rate; fast) or "
                   "BOARD:PORT (a flashed board, e.g. icebreaker:/dev/ttyUSB1)")
    g.add_argument("--engine", metavar="SPEC", help="the engine spec (default: the board's preset; golden: "
                   "engine-s); must be what the board was built with")
    from ..device.connect import SIM_DIVISOR
    g.add_argument("--link", metavar="SPEC", help=f"the link spec (default: the board's; sim:BOARD with "
                   f"divisor={SIM_DIVISOR})")
    g.add_argument("--hidden", type=_hidden, metavar="N,N", help="hidden layer sizes (default none: a linear "
                   "classifier)")


TRAIN_EXAMPLES = """\
examples:
  zoforge train --task synthetic --model tiny --steps 50                  # PeZO from scratch, no data needed
  zoforge train --init gpt2 --task lm --data notes.txt --optimizer mezo   # fine-tune GPT-2 (hub extra)
  zoforge train --init gpt2_124M.bin --task sst2 --data sst2/ --optimizer adamw --lr 1e-5
  zoforge train --out runs/train --resume --steps 200                     # continue a run
  zoforge train --device sim:icebreaker --steps 40                        # ZO inside a simulated board
"""

# ---- commands -------------------------------------------------------------------------------------

def _usage_errors():
    """Exceptions that mean bad input, turned into the CLI's one-line exit-2 error."""
    from ..errors import UsageError
    from ..host.checkpoint import CheckpointError
    from ..host.data import DataError
    from ..host.options import OptionError
    from ..host.tokenizer import TokenizerError
    return UsageError, (CheckpointError, DataError, OptionError, TokenizerError)


PRETRAIN = {"optimizer": "adamw", "task": "lm", "model": "small", "lr": 2e-3, "lr_schedule": "cosine",
            "warmup": 20, "steps": 600, "batch": 16, "seq": 128, "weight_decay": 0.1, "grad_clip": 1.0,
            "eval_interval": 100, "out": "runs/base"}


def defaults(command: str):
    """The options ``command`` (train, pretrain, eval) runs with when no flag is given: what its help shows."""
    from ..host.options import TrainOptions
    opts = TrainOptions(**(PRETRAIN if command == "pretrain" else {}))
    if command != "pretrain":
        opts.lr = _LR_DEFAULT[opts.optimizer]
    return opts


def command_options(args, command: str):
    """TrainOptions from the parsed arguments: the options the user gave, ``command``'s defaults for the
    rest; and the given options (a resume may change only some of them)."""
    from ..host.options import TrainOptions
    given = {k: v for k, v in vars(args).items() if v is not None}
    keys = {f for f in TrainOptions.__dataclass_fields__}
    values = {k: v for k, v in given.items() if k in keys}
    if command == "pretrain":
        values = {**PRETRAIN, **values}
    if "lr" not in values:
        values["lr"] = _LR_DEFAULT[values.get("optimizer", defaults(command).optimizer)]
    if getattr(args, "no_progress", False):
        values["progress"] = False
    if "seq" not in given and "init" not in given:
        values["seq"] = _default_seq(values.get("seq", defaults(command).seq), values.get("model", "small"))
    return TrainOptions(**values), given


def _default_seq(seq: int, model: str) -> int:
    """The default --seq, shortened to the block size of a --model that has a shorter one (tiny: 64)."""
    from ..golden.spec import SpecError
    from ..host.config import parse_config
    try:
        return min(seq, parse_config(model).block_size)
    except SpecError:
        return seq                          # the model's own error comes when it is built


def _check_perturb(opts) -> None:
    """Parse --perturb and apply --pool-refresh before anything is loaded (the spec checks both)."""
    from ..golden.spec import SpecError
    from ..host.optim import DEFAULT_PERTURB, perturbation_spec, with_refresh
    if opts.optimizer != "pezo":
        return
    try:
        spec = perturbation_spec(opts.perturb or DEFAULT_PERTURB)
    except SpecError as e:
        raise SpecError(f"--perturb: {e}") from None
    try:
        with_refresh(spec, opts.pool_refresh)
    except SpecError as e:
        raise SpecError(f"--pool-refresh={opts.pool_refresh}: {e}") from None


def _run_training(args, opts, given) -> int:
    from ..host.trainer import Trainer
    UsageError, bad = _usage_errors()
    try:
        if args.resume:
            changed = {k: getattr(opts, k) for k in given if k in opts.__dataclass_fields__ and k != "out"}
            if args.no_progress:
                changed["progress"] = False
            trainer = Trainer.resume(opts.out, override=args.resume_override, **changed)
        else:
            if args.resume_override:
                raise UsageError("--resume-override applies with --resume")
            if opts.init is not None and "model" in given:
                raise UsageError(f"--model={given['model']!r} and --init both set the model; give one")
            _check_perturb(opts)
            trainer = Trainer(opts)
        result = trainer.run()
    except bad as e:
        raise UsageError(str(e)) from None
    last = result.evals[-1] if result.evals else {}
    shown = ", ".join(f"{k} {v:.4f}" for k, v in last.items() if k in ("loss", "accuracy"))
    print(f"done: {result.step} steps in {result.seconds:.1f} s; final eval {shown}; checkpoint {result.checkpoint}; "
          f"metrics {trainer.out / 'metrics.jsonl'}, plot {trainer.out / 'loss.png'}")
    return 0


def cmd_train(args) -> int:
    if args.device is not None:
        return _run_on_device(args)
    for option in ("engine", "link", "hidden"):
        if getattr(args, option) is not None:
            raise _usage_errors()[0](f"--{option} applies with --device (training in an engine)")
    opts, given = command_options(args, "train")
    return _run_training(args, opts, given)


# Options of GPT-2 training that have no meaning for the engine's own small network.
_NOT_ON_DEVICE = ("init", "tokenizer", "matmul", "npu_design", "threads", "task", "data", "template", "labels", "val_fraction",
                  "seq", "eval_batches", "model", "perturb", "pool_refresh", "lr_schedule", "warmup", "eps",
                  "queries", "weight_decay", "betas", "grad_clip", "checkpoint_interval", "keep")


def device_options(args):
    """DeviceTrainOptions from the parsed arguments (its defaults for the rest; the run folder is named
    after the device)."""
    from ..device.options import DeviceTrainOptions
    given = {k: getattr(args, k) for k in ("steps", "lr", "batch", "seed", "eval_interval", "hidden", "out")
             if getattr(args, k) is not None}
    opts = DeviceTrainOptions(**given, progress=not args.no_progress)
    if "out" not in given:
        opts.out = "runs/" + args.device.replace(":", "-").replace("/", "_")
    return opts


def _run_on_device(args) -> int:
    from ..device.link import LinkError
    from ..device.connect import DeviceError, open_device
    from ..device.client import EngineError, SpecMismatch
    from ..device.run import refuse_earlier_weights, run_engine_training
    UsageError = _usage_errors()[0]
    for option in _NOT_ON_DEVICE:
        if getattr(args, option, None) is not None:
            raise UsageError(f"--{option.replace('_', '-')} does not apply with --device={args.device}: the engine "
                             f"trains its own small network (options: --engine, --link, --hidden, --steps, --lr, "
                             f"--batch, --seed, --eval-interval, -o)")
    if args.optimizer not in (None, "pezo"):
        raise UsageError(f"--optimizer={args.optimizer} with --device: an engine trains by ZO with its own RNG "
                         f"chain (pezo)")
    if args.resume:
        raise UsageError("--resume is not available with --device (runs are short; start again)")
    opts = device_options(args)
    refuse_earlier_weights(opts.out)                 # before connecting: a board may take a while
    try:
        device = open_device(args.device, engine=args.engine, link=args.link)
    except (DeviceError, SpecMismatch, LinkError, EngineError) as e:
        raise UsageError(str(e)) from None
    try:
        result = run_engine_training(device, opts)
    except (LinkError, EngineError) as e:
        raise UsageError(str(e)) from None
    except ValueError as e:                  # the network does not fit the engine (layout)
        raise UsageError(str(e)) from None
    finally:
        device.close()
    first, last = result["first"], result["last"]
    link = result["link"]
    shown = f"; link {link.frames} frames, {link.resent} resent" if link is not None else ""
    if result.get("overflow"):
        shown += "; engine weights saturated (the status overflow flag is set)"
    print(f"done: {result['steps']} steps on {args.device} in {result['seconds']:.1f} s; loss {first['loss']:.4f} -> "
          f"{last['loss']:.4f}, accuracy {first['accuracy']:.3f} -> {last['accuracy']:.3f}{shown}; "
          f"weights {result['weights']}, plot {result['plot']}")
    return 0


def cmd_pretrain(args) -> int:
    """From scratch on Python's standard-library sources (or --data): the project's own base model."""
    from ..host.data import stdlib_files
    opts, given = command_options(args, "pretrain")
    if "data" not in given and not args.resume:
        opts.data = [str(p) for p in stdlib_files(args.max_bytes)]
    return _run_training(args, opts, given)


def _eval_setup(args):
    from ..errors import UsageError
    from ..host.backends import backend_for
    from ..host.blas import set_blas_threads
    from ..host.model import GPT
    from ..host.trainer import load_model, resolve_tokenizer
    if args.threads:
        set_blas_threads(args.threads)
    config, params, folder = load_model(args.init, "small", 0)
    tokenizer = resolve_tokenizer(args.tokenizer, config, folder)
    try:
        backend = backend_for(args.matmul or "cpu", args.npu_design)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return GPT(config, params, backend=backend), tokenizer


def cmd_eval(args) -> int:
    from ..host.data import load_task
    UsageError, bad = _usage_errors()
    D = defaults("eval")
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else getattr(D, name)  # noqa: E731
    try:
        model, tokenizer = _eval_setup(args)
        task_name = pick("task")
        seq = args.seq or min(D.seq, model.config.block_size)
        if seq > model.config.block_size:
            raise UsageError(f"--seq={seq} exceeds the model's block_size {model.config.block_size}")
        if task_name == "synthetic" and args.data is not None:
            raise UsageError(f"--data={args.data!r} is not used by --task synthetic")
        task = load_task(task_name, args.data, tokenizer, seq, seed=pick("seed"), val_fraction=pick("val_fraction"),
                         template=args.template, labels=tuple(args.labels) if args.labels else None)
        result = task.evaluate(model, pick("batch"), pick("eval_batches"))
    except bad as e:
        raise UsageError(str(e)) from None
    extra = f", perplexity {math.exp(result['loss']):.3f}" if task_name == "lm" and result["loss"] < 50 else ""
    what = "next-token accuracy" if task_name == "lm" else "accuracy"
    acc = f", {what} {result['accuracy']:.4f}" if "accuracy" in result else ""
    print(f"{args.init}: {task.describe()}; eval loss {result['loss']:.4f}{extra}{acc}")
    return 0


def cmd_sample(args) -> int:
    from ..host.sample import generate
    UsageError, bad = _usage_errors()
    try:
        model, tokenizer = _eval_setup(args)
    except bad as e:
        raise UsageError(str(e)) from None
    prompt = tokenizer.encode(args.prompt) if args.prompt else [tokenizer.eot]
    if len(prompt) >= model.config.block_size:
        prompt = prompt[-(model.config.block_size - 1):]
    for n in range(args.count):
        ids = generate(model, prompt, args.tokens, temperature=args.temperature, top_k=args.top_k,
                       seed=args.seed + n, stop=tokenizer.eot)
        text = tokenizer.decode(ids[len(prompt) if args.prompt else 1:])
        print((args.prompt or "") + text)
        if n + 1 < args.count:
            print("-" * 40)
    sys.stdout.flush()
    return 0


def add_host_parsers(sub, parser_class) -> None:
    s = sub.add_parser("train", help="fine-tune or train GPT-2 in numpy: AdamW, MeZO or PeZO (hardware-exact z); "
                                     "with --device, train a small network inside an engine",
                       description="Fine-tune (--init) or train from scratch (--model) a GPT-2 in numpy with AdamW, "
                                   "MeZO or PeZO; or, with --device, train a small classifier inside an engine.",
                       epilog=TRAIN_EXAMPLES)
    D = defaults("train")
    _add_model(s, D)
    _add_data(s, D, device=True)
    _add_optimizer(s, D, lr_by_optimizer=True, device=True)
    _add_run(s, D, device=True)
    _add_device(s)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("pretrain", help="train the project's own base model from scratch on Python's "
                                        "standard-library sources (AdamW)",
                       epilog="example: zoforge pretrain --model tiny --seq 64 --steps 20 -o runs/base-tiny")
    D = defaults("pretrain")
    _add_model(s, D)
    _add_data(s, D)
    _add_optimizer(s, D, lr_by_optimizer=False)
    _add_run(s, D)
    s.add_argument("--max-bytes", type=integer("--max-bytes", 10_000, 1 << 34), default=2_000_000,
                   help="bytes of standard-library source to read")
    s.set_defaults(func=cmd_pretrain)

    s = sub.add_parser("eval", help="loss (and accuracy) of a checkpoint on a task's validation split")
    D = defaults("eval")
    _add_model(s, _NoShape(D), required_init=True)
    _add_data(s, D)
    g = s.add_argument_group("run")
    g.add_argument("--seed", type=integer("--seed", 0, 2 ** 63 - 1), help=f"data split and order{_d(D.seed)}")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("sample", help="generate text from a checkpoint (temperature, top-k)")
    _add_model(s, _NoShape(D), required_init=True)
    g = s.add_argument_group("sampling")
    g.add_argument("--prompt", default="", type=text("--prompt"), help="text to continue (default: start of a document)")
    g.add_argument("--tokens", type=integer("--tokens", 1, 1 << 20), default=200, help="new tokens")
    g.add_argument("--temperature", type=number("--temperature", 0.0, lo_open=False), default=0.8,
                   help="0 = greedy")
    g.add_argument("--top-k", type=integer("--top-k", 0), default=40, help="0 = no cut")
    g.add_argument("--count", type=integer("--count", 1, 1000), default=1, help="samples")
    g.add_argument("--seed", type=integer("--seed", 0, 2 ** 63 - 1), default=0, help="sampling seed (sample n uses "
                   "seed + n)")
    s.set_defaults(func=cmd_sample)


class _NoShape:
    """The defaults of a command that loads its model (--init required): no --model shape to offer."""

    def __init__(self, options):
        self._options = options

    def __getattr__(self, name):
        if name == "model":
            raise AttributeError(name)
        return getattr(self._options, name)
