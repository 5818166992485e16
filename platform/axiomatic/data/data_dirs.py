"""Where data lives on disk: the dataset cache, and the paper's published evaluation files.

Both are resolved here and nowhere else: ``cli.common.data_store`` hands what the command line
named to ``Store``, which resolves the rest through these functions once; everything after that is
given the store's two paths (see docs/architecture.md, "Data directories are resolved once").
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "AXIOMATIC_CACHE"
PUBLISHED_ENV = "AXIOMATIC_PUBLISHED_DIR"
SHARED_PUBLISHED = Path("shared") / "benchmarks" / "causal_axioms"


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """The dataset cache: the argument, else $AXIOMATIC_CACHE, else ~/.cache/axiomatic."""
    if root:
        return Path(root).resolve()
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "axiomatic").resolve()


def fetched_published_dir(root: str | os.PathLike | None = None) -> Path:
    """Where ``platform data fetch-published`` keeps its copy, inside the cache. The store's own
    entries are ``<root>/<two hex digits>/``, so a ``published/`` folder never meets one."""
    return cache_root(root) / "published" / "causal_axioms"


def shared_published_dir() -> Path | None:
    """The first ``../shared/benchmarks/causal_axioms`` above the package, if there is one."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent.parent / SHARED_PUBLISHED
        if candidate.is_dir():
            return candidate
    return None


def published_dir(override: str | os.PathLike | None = None,
                  root: str | os.PathLike | None = None) -> Path:
    """The paper's published files: the argument, else $AXIOMATIC_PUBLISHED_DIR, else
    ../shared/benchmarks/causal_axioms, else the copy fetched into the cache ``root``. With none
    of them the ../shared path relative to the working directory, which holds no files."""
    if override:
        return Path(override)
    if os.environ.get(PUBLISHED_ENV):
        return Path(os.environ[PUBLISHED_ENV])
    shared = shared_published_dir()
    if shared is not None:
        return shared
    fetched = fetched_published_dir(root)
    if (fetched / "index.json").is_file():
        return fetched
    return Path.cwd().parent / SHARED_PUBLISHED
