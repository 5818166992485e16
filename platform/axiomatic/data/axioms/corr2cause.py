"""Correlation to causation (Corr2Cause, Jin et al. 2024): from every statistical relation among N
variables, decide a causal hypothesis. Yes iff it holds in every DAG the premise allows.

An item is (equivalence class, ordered pair X, Y, hypothesis type). The premise lists what the
class's DAGs imply under faithfulness, in Corr2Cause's words: every pair's marginal correlation or
independence, then every conditional independence ``X and Y are independent given Z.``. The label
is a property of the Markov equivalence class, not of one DAG: ``exact`` semantics says Yes iff the
relation holds in every member (``semantics: corr2cause`` reproduces the published labels, bugs
included, to compare with). N = 2..6 is exhaustive, every class up to isomorphism once; N = 7..8
uses sampled DAGs. Classes are split train / val / test by a hash of their key, so no class (and no
relabelling of one) is in two splits.

Modules: :mod:`axiomatic.data.causal.classes` (classes, statements, labels), :mod:`.corr2cause_render`
(token rows), this one (the spec, the selection of items, the suites). Work is per graph size and batched: classes, members, labels and d-separation statements come
from :mod:`axiomatic.data.causal` and :func:`graphs.d_separated` once per N (cached), and rows are
rendered straight into token ids, statements ordered per row by its own random listing order.
See docs/corr2cause.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from axiomatic.data.axioms.corr2cause_render import Items, render
from axiomatic.data.causal import dags
# TYPES, SPLITS and split_of_class are part of this module's interface too (tests, tasks, docs)
from axiomatic.data.causal.classes import (NODES, PUBLISHED_NODES, SPLITS, TYPES,  # noqa: F401
                                           class_table, split_of_class)
from axiomatic.data.dataset import Dataset
from axiomatic.digest import json_digest


GENERATOR_VERSION = "corr2cause-1"


# ---------------------------------------------------------------- the spec

class Corr2CauseSpec(BaseModel):
    """Everything that determines a Corr2Cause set; its digest names the cached arrays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Literal["corr2cause"] = "corr2cause"
    size: int | None = Field(None, gt=0, description="items; None = every item of the selection")
    seed: int = 0
    nodes: tuple[int, int] = Field((2, 6), description="variables per premise, inclusive; 7-8 sampled")
    split: Literal["train", "val", "test", "all"] = "train"
    semantics: Literal["exact", "corr2cause"] = "exact"
    names: Literal["letters", "random"] = "random"
    name_length: tuple[int, int] = Field((1, 3), description="characters per random name")
    pair_order: Literal["both", "forward"] = "both"
    balanced: bool = True
    types: tuple[str, ...] = TYPES
    premise: Literal["full", "minimal"] = "full"
    graphs_per_size: int = Field(2000, gt=0, description="sampled DAGs for N = 7, 8")
    questions_per_premise: Literal[1] = 1

    @field_validator("nodes")
    @classmethod
    def _node_range(cls, v):
        if not NODES[0] <= v[0] <= v[1] <= NODES[1]:
            raise ValueError(f"expected [lo, hi] with {NODES[0]} <= lo <= hi <= {NODES[1]} "
                             f"(N = 2..6 exhaustive, 7..8 sampled), got {list(v)}")
        return v

    @field_validator("name_length")
    @classmethod
    def _name_range(cls, v):
        if not 1 <= v[0] <= v[1] <= 10:
            raise ValueError(f"expected [lo, hi] with 1 <= lo <= hi <= 10, got {list(v)}")
        return v

    @field_validator("types")
    @classmethod
    def _known_types(cls, v):
        unknown = [t for t in v if t not in TYPES]
        if unknown or not v or len(set(v)) != len(v):
            raise ValueError(f"expected distinct hypothesis types from {', '.join(TYPES)}, got {list(v)}")
        return tuple(t for t in TYPES if t in v)  # one order: equal sets generate equal bytes

    @model_validator(mode="after")
    def _published_range(self):
        if self.semantics == "corr2cause" and self.nodes[1] > PUBLISHED_NODES:
            raise ValueError(f"nodes: semantics 'corr2cause' reproduces the published labelling, which "
                             f"covers N = 2..{PUBLISHED_NODES}; got nodes {list(self.nodes)}")
        return self

    def canonical(self) -> dict:
        """The spec and the generator version: equal canonical forms generate equal bytes."""
        return {**self.model_dump(mode="json"), "generator": GENERATOR_VERSION}

    def digest(self) -> str:
        return json_digest(self.canonical())




def _pool(spec: Corr2CauseSpec, rng: np.random.Generator) -> Items:
    """Every item of the selection: classes of the split, pairs, types, and a listing order."""
    parts = []
    kinds = np.array([TYPES.index(t) for t in spec.types])
    for n in range(spec.nodes[0], spec.nodes[1] + 1):
        table = class_table(n, spec.semantics, spec.graphs_per_size)
        classes = np.arange(len(table.keys))
        if spec.split != "all":
            classes = classes[table.splits == SPLITS.index(spec.split)]
        first, second = (np.nonzero(~np.eye(n, dtype=bool)) if spec.pair_order == "both"
                         else dags.forward_pairs(n))
        cls, pair, kind = (a.ravel() for a in np.meshgrid(classes, np.arange(first.size), kinds,
                                                          indexing="ij"))
        order = np.tile(np.arange(n), (cls.size, 1))
        if spec.names == "random":
            order = np.argsort(rng.random((cls.size, n)), axis=1)
        x, y = first[pair], second[pair]
        if spec.pair_order == "forward":  # (earlier, later) in this row's listing order
            position = np.argsort(order, axis=1)
            rows = np.arange(cls.size)
            swap = position[rows, x] > position[rows, y]
            x, y = np.where(swap, y, x), np.where(swap, x, y)
        padded = np.zeros((cls.size, NODES[1]), dtype=np.int64)
        padded[:, :n] = order
        parts.append(Items(np.full(cls.size, n), cls, x, y, kind, table.labels[cls, kind, x, y],
                           padded, table.keys[cls]))
    return Items(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Items)))


def select(spec: Corr2CauseSpec) -> Items:
    """The rows ``generate`` renders, in its order."""
    rng = np.random.default_rng([spec.seed, 0])
    pool = _pool(spec, rng)
    yes, no = np.flatnonzero(pool.labels), np.flatnonzero(~pool.labels)
    available = yes.size + no.size
    size = spec.size
    if size is not None and size > available:
        raise ValueError(f"size: asked for {size} items, the {spec.split} split of "
                         f"N={spec.nodes[0]}..{spec.nodes[1]} holds only {available}")
    if spec.balanced:
        wanted = 2 * min(yes.size, no.size) if size is None else size
        # as close to half Yes as the Yes (or No) items allow
        n_yes = min(max(wanted // 2, wanted - no.size), yes.size)
        chosen = np.concatenate([rng.permutation(yes)[:n_yes], rng.permutation(no)[: wanted - n_yes]])
    else:
        chosen = rng.permutation(available)[: available if size is None else size]
    chosen = rng.permutation(chosen)
    return Items(*(getattr(pool, f.name)[chosen] for f in fields(Items)))


def class_keys(spec: Corr2CauseSpec) -> np.ndarray:
    """(rows,) uint64: the class key of each row of ``generate(spec)``."""
    return select(spec).keys


def generate(spec: Corr2CauseSpec) -> Dataset:
    """Generate a Corr2Cause set: same spec, same bytes."""
    items = select(spec)
    rng = np.random.default_rng([spec.seed, 1])
    parts = []
    for n in np.unique(items.n).tolist():
        rows = np.flatnonzero(items.n == n)
        tokens, lengths = render(items, rows, n, spec, rng)
        parts.append((rows, tokens, lengths))
    count = items.labels.size
    width = max((t.shape[1] for _, t, _ in parts), default=0)
    tokens = np.zeros((count, width), dtype=np.uint8)
    lengths = np.zeros(count, dtype=np.int32)
    for rows, part, part_lengths in parts:
        tokens[rows, : part.shape[1]] = part
        lengths[rows] = part_lengths
    return Dataset(tokens, lengths, items.labels.astype(np.uint8), items.kind.astype(np.uint8),
                   items.n.astype(np.int32))



# ---------------------------------------------------------------- premise lengths

def premise_tokens_by_size(naming: str = "random", seed: int = 0,
                           sizes=range(NODES[0], NODES[1] + 1)) -> dict[int, dict[str, tuple[int, float]]]:
    """{N: {"full": (max, mean), "minimal": (max, mean)}}: premise tokens over every class of
    the size (the sampled ones for N = 7, 8), each class written once with its own names and
    listing order: what a model's context must hold (the hypothesis adds 15 tokens and two names)."""
    out: dict[int, dict[str, tuple[int, float]]] = {}
    for n in sizes:
        count = len(class_table(n).keys)
        out[n] = {}
        for premise in ("full", "minimal"):
            spec = Corr2CauseSpec(nodes=(n, n), split="all", names=naming, premise=premise)
            rng = np.random.default_rng([seed, n])
            order = np.zeros((count, NODES[1]), dtype=np.int64)
            order[:, :n] = (np.argsort(rng.random((count, n)), axis=1) if naming == "random"
                            else np.arange(n))
            zeros = np.zeros(count, dtype=np.int64)
            items = Items(np.full(count, n), np.arange(count), zeros, zeros, zeros,
                          np.zeros(count, bool), order, np.zeros(count, np.uint64))
            _, lengths = render(items, np.arange(count), n, spec, rng, with_hypothesis=False)
            out[n][premise] = (int(lengths.max()), float(lengths.mean()))
    return out


# ---------------------------------------------------------------- evaluation suites

# N = 2, 3 hold no test class (2 and 5 classes in all), N = 4 two (12 items at half Yes)
SUITE_NODES = tuple(range(5, NODES[1] + 1))
EXHAUSTIVE_NODES = (2, 6)
# the minimal premise (one statement per pair) for models whose context cannot hold a full
# six-node premise; its family name carries the form into every report
MINIMAL_NODES = (5, 6)
SUITE_FAMILIES = ("corr2cause", "corr2cause_minimal", "corr2cause_natural")


def suite_names() -> list[str]:
    return ([f"corr2cause/n={n}" for n in SUITE_NODES] + [f"corr2cause/type={t}" for t in TYPES]
            + ["corr2cause/all", "corr2cause_natural/all"]
            + [f"corr2cause_minimal/n={n}" for n in MINIMAL_NODES]
            + [f"corr2cause_minimal/type={t}" for t in TYPES] + ["corr2cause_minimal/all"])


def is_suite_name(name: str) -> bool:
    """Whether a name belongs to a Corr2Cause suite family (known or not)."""
    return name.partition("/")[0] in SUITE_FAMILIES


def suite_spec(name: str, items: int = 500) -> Corr2CauseSpec:
    """The spec a suite is generated from (test split, exact labels, random names, both pair
    orders), its size capped at what the split holds and its seed derived from the name."""
    seed = int.from_bytes(hashlib.sha256(f"{GENERATOR_VERSION}:{name}:{items}".encode()).digest()[:8], "little")
    base = dict(split="test", semantics="exact", names="random", pair_order="both", seed=seed)
    family, _, which = name.partition("/")
    key, _, value = which.partition("=")
    if name not in suite_names():
        raise unknown_suite(name)
    if family == "corr2cause_minimal":
        base["premise"] = "minimal"
    if key == "n":
        fields = dict(nodes=(int(value), int(value)), balanced=True)
    elif key == "type":
        fields = dict(nodes=EXHAUSTIVE_NODES, types=(value,), balanced=True)
    else:
        fields = dict(nodes=EXHAUSTIVE_NODES, balanced=family != "corr2cause_natural")
    spec = Corr2CauseSpec(**base, **fields)
    return spec.model_copy(update={"size": min(items, available(spec, spec.balanced))})


def unknown_suite(name: str) -> ValueError:
    """The error for a name of a Corr2Cause family that names no suite."""
    key, _, value = name.partition("/")[2].partition("=")
    hint = ("; N = 2..4 have 0, 0 and 2 classes in the test split, too few for a suite"
            if key == "n" and value in ("2", "3", "4") else "")
    return ValueError(f"unknown Corr2Cause suite {name!r}{hint}; accepted: {', '.join(suite_names())}")


def build_suite(name: str, items: int = 500) -> Dataset:
    """A Corr2Cause evaluation suite by name (see suite_names)."""
    return generate(suite_spec(name, items))


def available(spec: Corr2CauseSpec, balanced: bool = False) -> int:
    """Items the spec's selection holds (what ``size`` may ask for at most); with ``balanced``,
    the most it holds at half Yes (twice the rarer label's items)."""
    labels = _pool(spec, np.random.default_rng([spec.seed, 0])).labels
    return 2 * int(min(labels.sum(), (~labels).sum())) if balanced else int(labels.size)
