"""What every benchmark does with its results: print its Markdown block (and append it to a file
if asked), or, for the scripts with JSON results, their output options in one place."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def emit(text: str, append_to: str | None) -> None:
    print(text)
    if append_to:
        with open(append_to, "a") as handle:
            handle.write("\n" + text)


def add_output_options(parser: argparse.ArgumentParser, name: str) -> None:
    """--json, --append and --out, for a script whose results are ``name``.{json,md}."""
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    parser.add_argument("--append", help="append the Markdown block to this file")
    parser.add_argument("--out", type=Path, help=f"also write {name}.json and {name}.md here")


def publish(result: dict, text: str, args: argparse.Namespace, name: str) -> None:
    """Write ``result`` and ``text`` under --out if given, then print the JSON (--json) or emit
    the Markdown."""
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / f"{name}.md").write_text(text)
    if args.json:
        print(json.dumps(result))
    else:
        emit(text, args.append)
