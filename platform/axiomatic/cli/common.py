"""What every command shares: its options (argparse parent parsers, each defined once), the data
directories they name, resolved once, and the consoles and the JSON document commands print."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from rich.console import Console

from axiomatic.errors import UserError

console = Console()
notices = Console(stderr=True)  # errors and notices: with --json, stdout holds only the document

JSON_OUTPUT = argparse.ArgumentParser(add_help=False)
JSON_OUTPUT.add_argument("--json", action="store_true",
                         help="print one JSON document on stdout (no tables, no live view)")

PUBLISHED_DIR = argparse.ArgumentParser(add_help=False)
PUBLISHED_DIR.add_argument("--published-dir", help="the paper's published evaluation files (default "
                           "$AXIOMATIC_PUBLISHED_DIR, else ../shared/benchmarks/causal_axioms, else "
                           "the copy 'platform data fetch-published' put in the cache)")

CACHE_DIR = argparse.ArgumentParser(add_help=False)
CACHE_DIR.add_argument("--cache-dir", help="dataset cache (default $AXIOMATIC_CACHE, else ~/.cache/axiomatic)")

DATA_DIRS = [PUBLISHED_DIR, CACHE_DIR]  # for a command that reads or writes the dataset cache


def data_store(args):
    """The command's dataset cache and published files, resolved once, here: everything below
    (spec loading, trials in Ray workers, reports) is handed this store or its two paths and
    never looks for them again, so a study's cells see the directories its command line named."""
    from axiomatic.data import Store

    # What the user named is checked here; the defaults (../shared, then a copy fetched into
    # this cache) are resolved by the store, which knows its cache.
    return Store(getattr(args, "cache_dir", None), _named_published_dir(args.published_dir))


def _named_published_dir(option: str | None) -> Path | None:
    """The published dir the user named (the option, else the environment), checked: a named
    directory that is not there is a mistake, not a study without published suites."""
    from axiomatic.data import suites

    from_environment = os.environ.get(suites.PUBLISHED_ENV)
    named = [(f"--published-dir {option}", option),
             (f"${suites.PUBLISHED_ENV}={from_environment}", from_environment)]
    for source, value in named:
        if not value:
            continue
        if not Path(value).is_dir():
            raise UserError(f"{source}: no such directory (the paper's published evaluation files)")
        if not (Path(value) / "index.json").is_file():
            raise UserError(f"{source}: no index.json there; expected the directory of the paper's "
                            "published evaluation files (e.g. ../shared/benchmarks/causal_axioms)")
        return Path(value)
    return None


def emit_json(obj) -> None:
    """One strict JSON document on stdout: a NaN or an infinity (which strict parsers reject)
    is written as null."""
    sys.stdout.write(json.dumps(_finite(obj), indent=2, default=str, allow_nan=False) + "\n")


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value) for value in obj]
    return obj
