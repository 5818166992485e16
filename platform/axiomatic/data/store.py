"""Content-addressed dataset cache: recipe -> canonical JSON -> sha256 -> arrays + manifest.

The first request generates and writes; every later one (any trial on the node) loads. Writes go
to a private temporary directory that is renamed into place, so concurrent requests never see a
half-written dataset: the loser of a race simply discards its copy.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from axiomatic.data import baselines, graphs, suites, tasks, tokenizer
from axiomatic.data.dataset import Dataset
from axiomatic.data.data_dirs import cache_root, published_dir
from axiomatic.data.tasks.task import TaskSpec
from axiomatic.digest import file_digest, json_digest
from axiomatic.files import write_directory_atomically

BASELINE_SAMPLE = 5000


def describe(data: Dataset, category_names: tuple[str, ...] = graphs.CATEGORY_NAMES) -> dict:
    """Counts that say what a dataset holds: labels, hypothesis categories (named as the task
    names them), graph sizes, lengths."""
    names = category_names
    cats = np.bincount(data.categories[data.categories < len(names)], minlength=len(names))
    sizes, size_counts = np.unique(data.nodes, return_counts=True)
    return {
        "n": len(data),
        "yes": int(data.labels.sum()),
        "yes_share": round(float(data.labels.mean()), 4) if len(data) else 0.0,
        "categories": {name: int(c) for name, c in zip(names, cats)},
        "nodes": {str(int(s)): int(c) for s, c in zip(sizes, size_counts)},
        "max_tokens": int(data.lengths.max()) if len(data) else 0,
    }


class Store:
    def __init__(self, root: str | os.PathLike | None = None, published: str | os.PathLike | None = None):
        self.root = cache_root(root)
        # absolute: the store's paths are handed to Ray workers, whose working directory differs;
        # resolved with this root, so a copy fetched into this cache is found
        self.published = published_dir(published, self.root).resolve()

    # -------------------------------------------------------------- public

    def suite(self, name: str, items: int = suites.DEFAULT_ITEMS) -> tuple[Dataset, dict]:
        """A suite's arrays and manifest (with its shortcut baselines)."""
        recipe = {"suite": name, "items": items, "version": suites.SUITE_VERSION,
                  "tokenizer": tokenizer.VERSION}
        if name.startswith("published/"):
            path = suites.published_files(self.published).get(name)
            if path is None:
                raise suites.unknown_suite(name)
            recipe = {"suite": name, "sha256": file_digest(path),
                      "tokenizer": tokenizer.VERSION}

        def build():
            data = suites.build(name, self.published, items)
            return data, {"baselines": baselines.score(data)}

        return self._get(recipe, build, tasks.category_names(suites.task_of_suite(name)))

    def training_set(self, spec: TaskSpec, check_against: list[str] | None = None) -> tuple[Dataset, dict]:
        """A training set, checked against the suites it will be scored on (default: every suite
        of its task: a row of one task never equals a row of another), carrying its row structure
        (the questions per row its task reads from the spec)."""
        if check_against is None:
            check_against = suites.task_suites(spec.task, self.published)
        check = sorted(check_against)
        recipe = {"train": spec.canonical(), "tokenizer": tokenizer.VERSION,
                  "checked_against": json_digest({"suites": check})}

        def build():
            data = tasks.generate(spec)
            data, leakage = self.remove_leakage(data, check)
            sample = data.subset(slice(0, BASELINE_SAMPLE))
            return data, {"spec": spec.model_dump(mode="json"), "leakage": leakage,
                          "baselines": baselines.score(sample), "baseline_rows": len(sample)}

        data, manifest = self._get(recipe, build, tasks.category_names(spec.task))
        data.questions_per_row = tasks.questions_per_row(spec)
        return data, manifest

    def remove_leakage(self, data: Dataset, suite_names: list[str]) -> tuple[Dataset, dict]:
        """Drop training rows whose (premise, question) appears in any evaluation suite."""
        held_out: set[bytes] = set()
        for name in suite_names:
            held_out.update(self.suite(name)[0].row_keys())
        keys = data.row_keys()
        shared = np.array([k in held_out for k in keys], dtype=bool)
        report = {"checked_suites": len(suite_names), "shared_found": int(shared.sum()),
                  "dropped": int(shared.sum())}
        if shared.any():
            data = data.subset(~shared)
        # Measured, not assumed: what is left must share nothing with the suites.
        report["shared"] = int(sum(k in held_out for k in data.row_keys())) if shared.any() else 0
        return data, report

    # -------------------------------------------------------------- cache mechanics

    def _get(self, recipe: dict, build: Callable[[], tuple[Dataset, dict]],
             category_names: tuple[str, ...]) -> tuple[Dataset, dict]:
        key = json_digest(recipe)
        final = self.root / key[:2] / key
        if (final / "manifest.json").is_file():
            return Dataset.load(final), json.loads((final / "manifest.json").read_text())
        started = time.perf_counter()
        data, extra = build()
        manifest = {"digest": key, "recipe": recipe, "counts": describe(data, category_names),
                    "tokenizer": tokenizer.VERSION, "seconds": round(time.perf_counter() - started, 3),
                    **extra}
        self._write(final, data, manifest)
        return data, manifest

    def _write(self, final: Path, data: Dataset, manifest: dict) -> None:
        def fill(directory: Path) -> None:
            data.save(directory)
            (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))

        try:
            write_directory_atomically(final, fill, replace=False)
        except OSError:
            if not (final / "manifest.json").is_file():  # a real failure, not a lost race
                raise

    def path_of(self, manifest: dict) -> Path:
        return self.root / manifest["digest"][:2] / manifest["digest"]
