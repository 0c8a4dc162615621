"""Run the zoforge CLI in-process with the host subcommands, whether or not zoforge/cli.py hooks them yet."""

from __future__ import annotations

import argparse

from zoforge import cli

_build_parser = cli.build_parser


def parser():
    p = _build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "train" not in sub.choices:
        from zoforge.cli.train import add_host_parsers
        add_host_parsers(sub, cli._Parser)
    return p


def run(capsys, *argv) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``zoforge argv...`` with main()'s error handling."""
    cli.build_parser = parser
    try:
        code = cli.main([str(a) for a in argv])
    finally:
        cli.build_parser = _build_parser
    out, err = capsys.readouterr()
    return code, out, err
