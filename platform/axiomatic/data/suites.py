"""Evaluation suites: generated generalisation tests and the paper's published files.

Every suite has a stable name, ``<family>/len=N`` for chains or ``<family>/n=N`` for DAGs, and
the published files appear as ``published/<axiom>/<family>/len=N``. A generated suite's seed is
derived from its name, so a suite is the same 500 items on every machine and in every trial.
Transitivity families are named bare (``flipped_chain``), those of another task after it
(``dseparation/flipped_chain``); :func:`task_suites` lists what a task's training sets are
checked for leakage against.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from axiomatic.data import graphs
from axiomatic.data.axioms import corr2cause, dseparation, transitivity
from axiomatic.data.dataset import Dataset
from axiomatic.data.locations import PUBLISHED_ENV, published_dir  # noqa: F401 (suites.published_dir, as callers name it)
from axiomatic.data.mixtures import ALPHANUMERICS

SUITE_VERSION = "suites-3"  # 2: shuffled chains never keep chain order; 3: every DAG node on an edge
# Seeds still derive from "suites-2": suites-3 changed DAGs only, so chain suites keep their bytes.
SEED_VERSION = "suites-2"
DEFAULT_ITEMS = 500
LONG_CHAINS = (*range(7, 16), 20, 50)
TRAINING_CHAINS = (3, 4, 5, 6)  # the chain lengths the CPU recipes train on
DSEPARATION_MAX_GIVEN = 4  # conditioning sets of 0..4 nodes, the range of the published files


@dataclass(frozen=True)
class Family:
    """How a family of suites builds its graphs."""

    name: str
    sizes: tuple[int, ...]
    size_key: str  # "len" (chain nodes) or "n" (DAG nodes)
    structure: str  # "sequential", "flipped" or "dag"
    order: str = "chain"  # premise order: "chain", "reversed" or "shuffled"
    name_length: tuple[int, int] = (1, 3)
    edges_per_node: float = 0.0
    description: str = ""
    task: str = "transitivity"  # the axiom its questions ask about


FAMILIES = {f.name: f for f in (
    Family("standard_chain", LONG_CHAINS, "len", "sequential",
           description="sequential chains, sentences in chain order (length generalisation)"),
    Family("flipped_chain", LONG_CHAINS, "len", "flipped",
           description="chains with each edge flipped with probability 0.5"),
    Family("flipped_chain_short", TRAINING_CHAINS, "len", "flipped",
           description="flipped chains of the CPU recipes' training lengths, chain order "
                       "(held-out items: the training distribution)"),
    Family("shuffled_flipped_chain", TRAINING_CHAINS, "len", "flipped", order="shuffled",
           description="flipped chains of the training lengths, sentences in random order"),
    Family("reversed_chain", (3, 4, 5, 6), "len", "sequential", order="reversed",
           description="sequential chains stated last edge first"),
    Family("shuffled_chain", tuple(range(3, 16)), "len", "sequential", order="shuffled",
           description="sequential chains, sentences in random order (defeats mention order)"),
    Family("name_shift", tuple(range(3, 10)), "len", "sequential", name_length=(4, 10),
           description="sequential chains with 4-10 character names (training uses 1-3)"),
    Family("branching_bf1.4", (5, 8, 10, 12), "n", "dag", order="shuffled", edges_per_node=1.4,
           description="random DAGs with int(1.4 n) edges, sentences in random order"),
    Family("branching_bf2.0", (5, 8, 10, 12), "n", "dag", order="shuffled", edges_per_node=2.0,
           description="random DAGs with 2 n edges, sentences in random order"),
    Family("dseparation/flipped_chain", tuple(range(7, 16)), "len", "flipped", task="dseparation",
           description="d-separation on flipped chains in chain order; given sets of 0-4 nodes"),
    Family("dseparation/branching_bf1.4", (5, 8, 10, 12), "n", "dag", order="shuffled",
           edges_per_node=1.4, task="dseparation",
           description="d-separation on random DAGs with int(1.4 n) edges, random order; "
                       "given sets of 0-4 nodes (0-3 at n=5)"),
)}


def generated_names(task: str | None = "transitivity") -> list[str]:
    """The generated suites of one task (of every task with None)."""
    names = [f"{f.name}/{f.size_key}={size}" for f in FAMILIES.values() if task in (None, f.task)
             for size in f.sizes]
    return names + (corr2cause.suite_names() if task in (None, "corr2cause") else [])


def split_name(name: str) -> tuple[str, int]:
    """``flipped_chain/len=9`` -> (``flipped_chain``, 9); raises ValueError when malformed."""
    family, _, size = name.rpartition("/")
    key, _, value = size.partition("=")
    if not family or key not in ("len", "n") or not value.isdigit():
        raise ValueError(f"suite name must look like 'family/len=N' or 'family/n=N', got {name!r}")
    return family, int(value)


def family_of(name: str) -> Family:
    """The family of a generated suite's name; ValueError for a name no family has."""
    family_name, size = split_name(name)
    family = FAMILIES.get(family_name)
    if family is None or size not in family.sizes or name != f"{family_name}/{family.size_key}={size}":
        raise unknown_suite(name)
    return family


def build_generated(name: str, items: int = DEFAULT_ITEMS) -> Dataset:
    if corr2cause.is_suite_name(name):
        return corr2cause.build_suite(name, items)
    family, size = family_of(name), split_name(name)[1]
    rng = np.random.default_rng(_seed(name, items))
    batch = _structures(rng, family, size, items)
    group = transitivity.Group(batch, family.name_length)
    if family.task == "dseparation":
        return dseparation.ask(rng, [group], ALPHANUMERICS, DSEPARATION_MAX_GIVEN)
    return transitivity.generate(rng, [group], ALPHANUMERICS, hypotheses_per_premise=1, balance=True)


def _seed(name: str, items: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{SEED_VERSION}:{name}:{items}".encode()).digest()[:8], "little")


def _structures(rng, family: Family, size: int, items: int) -> graphs.GraphBatch:
    if family.structure == "dag":
        batch = graphs.random_dags(rng, items, size, int(family.edges_per_node * size))
    else:
        flips = np.zeros((items, size - 1), dtype=bool)
        if family.structure == "flipped":
            flips = rng.random(flips.shape) < 0.5
        batch = graphs.chains(flips)
    if family.order == "reversed":
        return graphs.reverse_order(batch)
    if family.order == "shuffled":
        shuffled = graphs.shuffle_order(rng, batch)
        if family.structure != "dag":
            # A chain that came out in chain order tests nothing the standard suites don't
            # (and hands the mention-order shortcut a free point): shuffle those rows again.
            same = (shuffled.edges == batch.edges).all(axis=(1, 2))
            while same.any():
                shuffled = graphs.shuffle_order(rng, shuffled, same)
                same = (shuffled.edges == batch.edges).all(axis=(1, 2))
        return shuffled
    return batch


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
    if task != "transitivity":
        published = [name for name in published if name.startswith(f"published/{task}/")]
    return generated_names(task) + published


def task_of_suite(name: str) -> str:
    """The task a suite's questions belong to: its family's, or the axiom a published name holds."""
    if name.startswith("published/"):
        return name.split("/")[1]
    if corr2cause.is_suite_name(name):
        if name not in corr2cause.suite_names():
            raise unknown_suite(name)
        return "corr2cause"
    return family_of(name).task


def unknown_suite(name: str) -> ValueError:
    families = ", ".join(f"{f.name}/{f.size_key}=({','.join(map(str, f.sizes))})" for f in FAMILIES.values())
    return ValueError(f"unknown suite {name!r}; generated suites: {families}, "
                      "corr2cause/(n=5..8|type=T|all), corr2cause_minimal/(n=5|6|type=T|all), "
                      "corr2cause_natural/all; published suites: published/<axiom>/<family>/len=N (see 'platform data suites')")


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
