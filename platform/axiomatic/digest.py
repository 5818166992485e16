"""Content digests: what names a cached dataset, an arm and a published file.

A digest of canonical JSON (sorted keys, no spaces) is what cached datasets and study ledgers are
keyed by, so the serialisation here must never change: a changed byte orphans every cache entry
and makes every existing arm look new.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def canonical_json(obj) -> str:
    # default=str: a value JSON lacks (a Path, say) is named by its string, as arm ids always were
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def json_digest(obj) -> str:
    """sha256 (hex) of ``obj``'s canonical JSON: equal contents, equal digests, whatever the key order."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
