"""The help tells the truth: every option has help, and every default a help line shows is the value the
command really runs with (read from `--help` output, converted by the option's own converter, and
compared with the options the command builds from a bare command line)."""

import argparse
import re

import pytest

from zoforge.cli import SIM_BACKPRESSURE, SIM_CYCLES, build_parser, main
from zoforge.cli.train import command_options, defaults, device_options

SHOWN = re.compile(r"\(default ([^;)\s]+)")
ON_DEVICE = re.compile(r"with --device:[^;)]*?default ([^;)\s]+)")


def _subparsers(parser, prefix=()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, (*prefix, name))


def _options(parser):
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def _help(capsys, *argv) -> dict[str, str]:
    """Option string (its first) -> its help entry as `--help` prints it, on one line."""
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    entries, key = {}, None
    for line in capsys.readouterr().out.splitlines():
        m = re.match(r"^  (-\S+?)[ ,]|^  (-\S+)$", line)
        if m:
            key = m.group(1) or m.group(2)
            entries[key] = line
        elif key and line.startswith("   "):
            entries[key] += " " + line.strip()
        else:
            key = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


def _convert(action, text):
    return action.type(text) if action.type else text


def _check(entries, parser, used: dict):
    """Each option whose command-side value is concrete shows exactly that value as its default."""
    checked = 0
    for action in _options(parser):
        value = used.get(action.dest)
        if value is None or value == "" or isinstance(value, bool):      # "": the help says what it means
            continue
        entry = entries[action.option_strings[0]]
        found = SHOWN.search(entry)
        assert found, f"{action.option_strings[0]} shows no default; the command uses {value!r}: {entry}"
        assert _convert(action, found.group(1)) == value, f"{entry} but the command uses {value!r}"
        checked += 1
    return checked


def test_every_option_of_every_subcommand_has_help():
    missing = [f"zoforge {' '.join(path)} {' '.join(a.option_strings) or a.dest}"
               for path, parser in _subparsers(build_parser()) for a in parser._actions
               if not (a.help or "").strip() and not isinstance(a, argparse._SubParsersAction)]
    missing += [f"zoforge {' '.join(path)} {c.dest}" for path, parser in _subparsers(build_parser())
                for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                for c in a._choices_actions if not (c.help or "").strip()]
    assert not missing, "options without help:\n" + "\n".join(missing)


def test_every_argparse_default_is_shown(capsys):
    """Options whose default argparse holds (sample, quality, npu ...): the help shows it."""
    checked = 0
    for path, parser in _subparsers(build_parser()):
        if not path:
            continue
        entries = _help(capsys, *path)
        checked += _check(entries, parser, {a.dest: a.default for a in _options(parser)
                                            if a.default is not argparse.SUPPRESS})
    assert checked >= 12


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_train_and_pretrain_show_what_they_run_with(capsys, command):
    parser = dict(_subparsers(build_parser()))[(command,)]
    opts, _ = command_options(build_parser().parse_args([command]), command)
    assert _check(_help(capsys, command), parser, vars(opts)) >= 20


def test_pretrain_help_is_pretrains(capsys):
    """The defaults that used to be train's: AdamW, 600 steps, seq 128, batch 16, runs/base."""
    entries = _help(capsys, "pretrain")
    shown = {k: SHOWN.search(entries[k]).group(1) for k in ("--optimizer", "--steps", "--seq", "--batch", "-o")}
    assert shown == {"--optimizer": "adamw", "--steps": "600", "--seq": "128", "--batch": "16", "-o": "runs/base"}


def test_eval_shows_what_it_runs_with(capsys):
    parser = dict(_subparsers(build_parser()))[("eval",)]
    assert _check(_help(capsys, "eval"), parser, vars(defaults("eval"))) >= 5   # cmd_eval reads defaults("eval")


def test_train_device_shows_the_device_defaults(capsys):
    parser = dict(_subparsers(build_parser()))[("train",)]
    entries = _help(capsys, "train")
    opts = device_options(build_parser().parse_args(["train", "--device", "golden"]))
    actions = {a.dest: a for a in _options(parser)}
    for dest in ("steps", "lr", "batch", "seed", "eval_interval"):
        entry = entries[actions[dest].option_strings[0]]
        found = ON_DEVICE.search(entry)
        assert found and _convert(actions[dest], found.group(1)) == getattr(opts, dest), entry
    assert opts.out == "runs/golden" and "with --device: runs/DEVICE" in entries["-o"]


def test_sim_shows_the_stream_defaults(capsys):
    entries = _help(capsys, "sim")
    assert int(SHOWN.search(entries["--cycles"]).group(1)) == SIM_CYCLES
    assert float(SHOWN.search(entries["--backpressure"]).group(1)) == SIM_BACKPRESSURE


def test_train_help_has_groups_and_examples(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for group in ("model:", "data:", "optimizer:", "ZO (mezo, pezo):", "run:", "device (train inside an engine):"):
        assert f"\n{group}\n" in out, group
    assert "examples:\n  zoforge train --task synthetic" in out


def test_bare_zoforge_prints_help_and_version(capsys):
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: zoforge") and "train" in out and err == ""
    assert main(["npu"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: zoforge npu") and err == ""
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and re.fullmatch(r"zoforge \S+\n", capsys.readouterr().out)
