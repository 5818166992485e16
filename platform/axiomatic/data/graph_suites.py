"""The generated suites of the tasks that ask about ``A causes B.`` premises: transitivity and
d-separation, on chains and on random DAGs (families of suites, one per size).

Every suite has a stable name, ``<family>/len=N`` for chains or ``<family>/n=N`` for DAGs.
A suite's seed is derived from its name, so a suite is the same 500 items on every machine and in
every trial. Transitivity families are named bare (``flipped_chain``), those of d-separation
after it (``dseparation/flipped_chain``). Which suites exist for which task, and the published
files, are :mod:`axiomatic.data.suites`' business; this module builds these families only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from axiomatic.data import graphs
from axiomatic.data.axioms import dseparation, transitivity
from axiomatic.data.dataset import Dataset
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


def names(task: str) -> list[str]:
    """The suites of one task's families, in the families' order."""
    return [f"{f.name}/{f.size_key}={size}" for f in FAMILIES.values() if f.task == task for size in f.sizes]


def families(task: str) -> tuple[str, ...]:
    return tuple(f.name for f in FAMILIES.values() if f.task == task)


def listing(task: str) -> str:
    """How the task's suites are named, for an unknown suite's message."""
    return ", ".join(f"{f.name}/{f.size_key}=({','.join(map(str, f.sizes))})"
                     for f in FAMILIES.values() if f.task == task)


def split_name(name: str) -> tuple[str, int]:
    """``flipped_chain/len=9`` -> (``flipped_chain``, 9); raises ValueError when malformed."""
    family, _, size = name.rpartition("/")
    key, _, value = size.partition("=")
    if not family or key not in ("len", "n") or not value.isdigit():
        raise ValueError(f"suite name must look like 'family/len=N' or 'family/n=N', got {name!r}")
    return family, int(value)


def build(name: str, items: int = DEFAULT_ITEMS) -> Dataset:
    """A suite of one of these families by its name (one :func:`names` lists)."""
    family, size = FAMILIES[split_name(name)[0]], split_name(name)[1]
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
