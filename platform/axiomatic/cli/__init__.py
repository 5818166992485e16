"""The ``platform`` command: ``data``, ``train``, ``eval``, ``study``, ``plan``, ``report``, ``diff``.

Every command takes ``--json`` and then prints exactly one JSON document on stdout. Bad input is
reported with the file and field at fault and exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse

from rich.markup import escape

from axiomatic.cli import data, diff, plan, study, train
from axiomatic.cli.common import notices
from axiomatic.errors import Diverged, Incomplete, UserError

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except UserError as err:
        notices.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        return 2
    except Incomplete as err:
        notices.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        return 1
    except Diverged as err:
        notices.print(f"[bold red]error:[/] the run {escape(str(err))}; lower train.lr or set "
                      "train.grad_clip", highlight=False)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="platform", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(title="commands")
    for group in (data, train, study, plan, diff):
        group.add_commands(commands)
    return parser
