"""Evaluation suites: every task's generated suites and the paper's published files, by name.

Every suite has a stable name: ``<family>/len=N`` or ``<family>/n=N`` for the generated ones
(a family of the task that owns it: :mod:`axiomatic.data.tasks`), and the published files appear
as ``published/<axiom>/<family>/len=N``. A generated suite's seed is derived from its name, so a
suite is the same items on every machine and in every trial. :func:`task_suites` lists what a
task's training sets are checked for leakage against.
"""

from __future__ import annotations

import json
from pathlib import Path

from axiomatic.data import tasks
from axiomatic.data.dataset import Dataset
# graph_suites' names, as callers name them: suites.FAMILIES, suites.split_name, ...
from axiomatic.data.graph_suites import (DEFAULT_ITEMS, FAMILIES, LONG_CHAINS, SUITE_VERSION,  # noqa: F401
                                         split_name)
from axiomatic.data.data_dirs import PUBLISHED_ENV, published_dir  # noqa: F401 (suites.published_dir, as callers name it)


def generated_names(task: str | None = "transitivity") -> list[str]:
    """The generated suites of one task (of every task with None)."""
    return [name for owner in tasks.all_tasks() if task in (None, owner.name) for name in owner.suite_names()]


def _owner(name: str) -> tasks.Task:
    """The task whose families a generated suite's name is of; ValueError when no task's is."""
    owner = tasks.suite_owner(name)
    if owner is None:
        split_name(name)  # a malformed name is told so
        raise unknown_suite(name)
    return owner


def build_generated(name: str, items: int = DEFAULT_ITEMS) -> Dataset:
    owner = _owner(name)
    if name not in owner.suite_names():
        raise (owner.unknown_suite or unknown_suite)(name)
    return owner.build_suite(name, items)


# ---------------------------------------------------------------- published files

def published_files(directory: Path) -> dict[str, Path]:
    """Suite name -> file, from the directory's index.json (empty when the directory is absent)."""
    index = directory / "index.json"
    if not index.is_file():
        return {}
    out = {}
    for entry in json.loads(index.read_text()):
        axiom, family = entry["suite"].split("/", 1)
        key = "n" if family.startswith("branching") else "len"
        out[f"published/{axiom}/{family}/{key}={entry['size']}"] = directory / entry["file"]
    return out


def dataset_from_jsonl(path: Path) -> Dataset:
    """Read {premise, hypothesis, label} records; errors name the file, line and field."""
    records = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}:{number}: not UTF-8 text (byte 0x{raw[err.start]:02x} at "
                                 f"column {err.start + 1})") from None
            if not line.strip():
                continue
            records.append(_record(path, number, line))
    if not records:
        raise ValueError(f"{path}: no records")
    try:
        return Dataset.from_text(records)
    except ValueError as err:  # a sentence outside the grammar: find the line for the message
        for number, (premise, hypothesis, label) in enumerate(records, 1):
            try:
                Dataset.from_text([(premise, hypothesis, label)])
            except ValueError as line_err:
                raise ValueError(f"{path}: record {number}: {line_err}") from None
        raise err


def _record(path: Path, number: int, line: str) -> tuple[str, str, str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}:{number}: expected an object with premise, hypothesis, label")
    for field in ("premise", "hypothesis", "label"):
        if not isinstance(obj.get(field), str):
            raise ValueError(f"{path}:{number}: field '{field}' missing or not a string")
    if obj["label"] not in ("Yes", "No"):
        raise ValueError(f"{path}:{number}: field 'label' must be 'Yes' or 'No', got {obj['label']!r}")
    return obj["premise"], obj["hypothesis"], obj["label"]


# ---------------------------------------------------------------- one entry point

def all_names(directory: Path | None = None) -> list[str]:
    """Every suite: the generated ones of every task, then the published files."""
    return generated_names(None) + list(published_files(published_dir(directory)))


def task_suites(task: str, directory: Path | None = None) -> list[str]:
    """The suites a training set of ``task`` is checked for leakage against: the task's generated
    suites and its published files (none for a task that has neither). Transitivity keeps every
    published file, as it did before other tasks had suites, so the cache keys of its training
    sets stay what they were."""
    published = list(published_files(published_dir(directory)))
    if not tasks.get(task).checks_every_published_file:
        published = [name for name in published if name.startswith(f"published/{task}/")]
    return generated_names(task) + published


def task_of_suite(name: str) -> str:
    """The task a suite's questions belong to: its family's, or the axiom a published name holds."""
    if name.startswith("published/"):
        return name.split("/")[1]
    owner = _owner(name)
    if name not in owner.suite_names():
        raise unknown_suite(name)
    return owner.name


def unknown_suite(name: str) -> ValueError:
    generated = ", ".join(task.suite_listing for task in tasks.all_tasks() if task.suite_listing)
    return ValueError(f"unknown suite {name!r}; generated suites: {generated}; published suites: "
                      "published/<axiom>/<family>/len=N (see 'platform data suites')")


def build(name: str, directory: Path | None = None, items: int = DEFAULT_ITEMS) -> Dataset:
    """Any suite by name (generated or published)."""
    if name.startswith("published/"):
        files = published_files(published_dir(directory))
        if name not in files:
            raise unknown_suite(name)
        return dataset_from_jsonl(files[name])
    return build_generated(name, items)


def expand(patterns: list[str], directory: Path | None = None) -> list[str]:
    """Resolve suite selectors: exact names, or prefixes ending in '/' or '*' (``flipped_chain/*``)."""
    known = all_names(directory)
    out: list[str] = []
    for pattern in patterns:
        prefix = pattern.rstrip("*")
        matched = [n for n in known if n == pattern or (pattern.endswith(("*", "/")) and n.startswith(prefix))]
        if not matched:
            raise unknown_suite(pattern)
        out += [m for m in matched if m not in out]
    return out
