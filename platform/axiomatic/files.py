"""Files that other processes read while they are being written: a JSON document or a directory
replaced whole (a reader sees the old one or the new one, never half of either), and JSONL logs
that grow a row at a time."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def write_json_atomically(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(obj, handle, indent=2, default=str)
    os.replace(tmp, path)


def write_directory_atomically(final: Path, fill: Callable[[Path], None], replace: bool = True) -> None:
    """Fill a fresh sibling directory, then rename it to ``final``: an error leaves ``final`` as it
    was. With ``replace=False`` an existing ``final`` is kept and the rename raises OSError (a
    concurrent writer got there first; the caller decides whether that is a failure)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        fill(tmp)
        if replace and final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def append_jsonl_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(row, default=str) + "\n")


def read_jsonl_rows(path: Path) -> list[dict]:
    """Every row of a JSONL log, in order; none when the file does not exist (yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
