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

Work is per graph size and batched: classes, members, labels and d-separation statements come
from :mod:`axiomatic.data.causal` and :func:`graphs.d_separated` once per N (cached), and rows are
rendered straight into token ids, statements ordered per row by its own random listing order.
See docs/corr2cause.md.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from axiomatic.data import graphs, names, text, tokenizer
from axiomatic.data.causal import dags, equivalence
from axiomatic.data.dataset import Dataset
from axiomatic.digest import json_digest

GENERATOR_VERSION = "corr2cause-1"
TYPES = ("parent", "ancestor", "child", "descendant", "collider", "confounder")
SPLITS = ("train", "val", "test")
NODES = (2, 8)
PUBLISHED_NODES = 6  # the published data (and its labelling code) covers N = 2..6
ALPHANUMERICS = tokenizer.ALPHANUMERICS
LETTERS = "ABCDEFGH"
POOL_SEED = 20240529  # the sampled N = 7, 8 classes are part of the task, fixed like its wording


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


# ---------------------------------------------------------------- classes, statements, labels

@dataclass(frozen=True)
class ClassTable:
    """Every equivalence class of one graph size, as the generator needs it."""

    n: int
    reps: np.ndarray  # (K, n, n) bool: representative DAG, edges from lower to higher index
    keys: np.ndarray  # (K,) uint64: class key, (n << 56) | canonical CPDAG code
    separated: np.ndarray  # (K, P, 2^n) bool: forward pair p d-separated given node mask z
    labels: np.ndarray  # (K, 6, n, n) bool: TYPES[t] holds of the ordered pair (x, y)

    @property
    def splits(self) -> np.ndarray:
        return np.array([SPLITS.index(split_of_class(int(k))) for k in self.keys], dtype=np.int64)


def split_of_class(key: int) -> str:
    """train (80 %), val (10 %) or test (10 %): a fixed function of the class key alone."""
    digest = hashlib.sha256(f"corr2cause-split:{key}".encode()).digest()
    share = int.from_bytes(digest[:8], "little") / 2**64
    return "train" if share < 0.8 else "val" if share < 0.9 else "test"


def class_key(n: int, cpdag_code) -> np.ndarray:
    return (np.uint64(n) << np.uint64(56)) | np.asarray(cpdag_code, dtype=np.uint64)


@functools.lru_cache(maxsize=None)
def class_table(n: int, semantics: str = "exact", graphs_per_size: int = 2000) -> ClassTable:
    """The classes of N-node DAGs (cached per process): every class for N <= 6, the classes of
    ``graphs_per_size`` sampled DAGs for N = 7, 8 (the pool is fixed by N and the count, not by
    a spec's seed, so every split and seed draws from the same classes)."""
    if semantics == "corr2cause":
        return published_table(n)
    if n in dags.EXHAUSTIVE:
        candidates = dags.all_dags(n)  # sorted by code: a class's first DAG is its representative
    else:
        pool_rng = np.random.default_rng([n, graphs_per_size, POOL_SEED])
        candidates = dags.sample_dags(pool_rng, n, graphs_per_size)
    codes = equivalence.class_codes(*equivalence.cpdag(candidates))
    _, first = np.unique(codes, return_index=True)
    first.sort()
    reps = candidates[first]
    members, owner = equivalence.mec_members(*equivalence.cpdag(reps))
    held = relations(members)
    labels = np.logical_and.reduceat(held, np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]))
    return ClassTable(n, reps, class_key(n, codes[first]), separations(reps), labels)


def relations(adjacency: np.ndarray) -> np.ndarray:
    """(B, 6, n, n) bool: for each DAG and ordered pair (x, y), which TYPES hold.

    parent x -> y; ancestor: x reaches y and is not its parent; child / descendant: the same of
    (y, x); collider: some c reached from x and from y by directed paths sharing only c;
    confounder: some c reaching x and y by such paths. Disjoint paths exist iff c is reached from
    x without passing y and from y without passing x (take the first vertex of one path on the
    other), so both come from reachability in the graph with one node removed.
    """
    reach = graphs.transitive_closure(adjacency)
    ancestor = reach & ~adjacency
    without = _reach_without(adjacency)  # [b, r, a, c]: a reaches c avoiding r
    into = without.swapaxes(1, 2) & without  # [b, x, y, c]: x reaches c avoiding y, y avoiding x
    back = without.swapaxes(2, 3)
    out_of = back.swapaxes(1, 2) & back  # c reaches x avoiding y and y avoiding x
    return np.stack([adjacency, ancestor, adjacency.swapaxes(1, 2), ancestor.swapaxes(1, 2),
                     into.any(axis=3), out_of.any(axis=3)], axis=1)


def _reach_without(adjacency: np.ndarray) -> np.ndarray:
    """(B, n, n, n) bool: [b, r, a, c] a reaches c in graph b with node r deleted."""
    count, n, _ = adjacency.shape
    cut = np.repeat(adjacency[:, None], n, axis=1)
    nodes = np.arange(n)
    cut[:, nodes, nodes, :] = False
    cut[:, nodes, :, nodes] = False
    return graphs.transitive_closure(cut.reshape(count * n, n, n)).reshape(count, n, n, n)


def separations(reps: np.ndarray) -> np.ndarray:
    """(K, P, 2^n) bool: forward pair p = (u, v) is d-separated given node mask z, for every z
    holding neither u nor v (False elsewhere), by :func:`graphs.d_separated` in chunks."""
    count, n, _ = reps.shape
    u, v = dags.forward_pairs(n)
    masks = np.arange(2**n)
    bits = (masks[:, None] >> np.arange(n)) & 1
    holds_pair = ((masks[None, :] >> u[:, None]) & 1) | ((masks[None, :] >> v[:, None]) & 1)
    pair, z = np.nonzero(holds_pair == 0)
    separated = np.zeros((count, u.size, masks.size), dtype=bool)
    per_class = pair.size
    step = max(1, 400_000 // per_class)
    for start in range(0, count, step):
        block = reps[start : start + step]
        k = np.repeat(np.arange(block.shape[0]), per_class)
        q = np.tile(np.arange(per_class), block.shape[0])
        result = graphs.d_separated(block[k], u[pair[q]], v[pair[q]], bits[z[q]].astype(bool))
        separated[start + k, pair[q], z[q]] = result
    return separated


def minimal(separated: np.ndarray) -> np.ndarray:
    """Only the separating sets none of whose proper subsets separates the pair."""
    n = int(np.log2(separated.shape[-1]))
    below = np.zeros_like(separated)  # some proper subset of z separates
    for z in range(1, separated.shape[-1]):
        for node in range(n):
            if z >> node & 1:
                smaller = z & ~(1 << node)
                below[..., z] |= separated[..., smaller] | below[..., smaller]
    return separated & ~below


# ---------------------------------------------------------------- the published labelling

def published_table(n: int) -> ClassTable:
    """Classes, premises and labels as the published Corr2Cause code computes them.

    Read from ``causalNLP/corr2cause`` (``dataset_generation/main.cpp``, ``code/data_verbalize.py``)
    for facts only. Its classes are sets of DAGs with equal independence lists, each written on
    its smallest-code member (ours too); a label is Yes iff a relation bit is set for the pair in
    every member. Its relation bits differ from ours four ways, three of them bugs:

    1. members are relabellings ``o`` of a representative DAG ``u`` (node a becomes o[a]); the
       pair (i, j) is read from ``u`` at (o[i], o[j]) instead of o's inverse (bug);
    2. confounder: the scan of a path's tail runs the wrong way, so only paths whose last edge is
       c -> y count: c must be a parent of y, reaching x by a path avoiding y (bug);
    3. descendants of a node are collected with an off-by-one visited test, so some colliders
       look closed and some DAGs gain false independences, which also changes their classes (bug);
    4. "ancestor" is any directed path of length >= 2, even when x is also a parent of y.

    For each member the relabelling ``o`` is the lexicographically first one that produces it.
    """
    candidates = dags.all_dags(n)
    perms = dags.permutations(n)
    true_sep = separations(candidates)
    published_sep = true_sep.copy()
    for index in np.flatnonzero(_descendants_differ(candidates)):
        published_sep[index] = _path_separations(candidates[index], _published_descendants(candidates[index]))
    differs = (published_sep != true_sep).any(axis=(1, 2))
    true_class = equivalence.class_codes(*equivalence.cpdag(candidates))
    group = _published_groups(published_sep, true_class, differs, perms)
    _, first = np.unique(group, return_index=True)
    first.sort()
    relabelled = dags.relabelled_codes(candidates)  # [u, o]: code of u relabelled by o
    bits = published_relations(candidates)
    labels = np.empty((first.size, len(TYPES), n, n), dtype=bool)
    for k, rep in enumerate(first):
        in_group = np.flatnonzero(group == group[rep])
        affected = differs[in_group].any() or differs[true_class == true_class[rep]].any()
        u, o = (_members_by_statements(rep, in_group, published_sep, relabelled, perms) if affected
                else _members_by_meek(candidates[rep], relabelled))
        order = perms[o]  # (M, n): member m has u's node a at order[m, a]
        labels[k] = bits[u[:, None, None], :, order[:, :, None], order[:, None, :]].all(axis=0).transpose(2, 0, 1)
    keys = class_key(n, true_class[first])
    return ClassTable(n, candidates[first], keys, published_sep[first], labels)


def published_relations(adjacency: np.ndarray) -> np.ndarray:
    """(B, 6, n, n) bool: the published relation bits of each DAG as labelled (see above)."""
    reach = graphs.transitive_closure(adjacency)
    mediated = (reach.astype(np.float32) @ reach.astype(np.float32)) > 0  # a path of length >= 2
    exact = relations(adjacency)
    without = _reach_without(adjacency)  # [b, r, a, c]
    # confounder as published: some c with c -> y and c reaching x while avoiding y
    parent_of_y = adjacency[:, None, :, :].swapaxes(2, 3)  # [b, 1, y, c]: c -> y
    confounder = (parent_of_y & without.swapaxes(2, 3)).any(axis=3).swapaxes(1, 2)  # [b, x, y]
    return np.stack([adjacency, mediated, adjacency.swapaxes(1, 2), mediated.swapaxes(1, 2),
                     exact[:, 4], confounder], axis=1)


def _published_descendants(adjacency: np.ndarray) -> list[int]:
    """Each node's descendant mask (itself included) as the published depth-first search finds
    it: a child i is skipped when node i + 1 is already marked."""
    n = adjacency.shape[0]

    def visit(node: int, mask: int) -> int:
        mask |= 1 << node
        for child in range(n):
            if adjacency[node, child] and not mask >> (child + 1) & 1:
                mask = visit(child, mask)
        return mask

    return [visit(node, 0) for node in range(n)]


def _descendants_differ(candidates: np.ndarray) -> np.ndarray:
    n = candidates.shape[1]
    reach = graphs.transitive_closure(candidates) | np.eye(n, dtype=bool)
    true_masks = (reach * (1 << np.arange(n))).sum(axis=2)
    return np.array([_published_descendants(g) != t.tolist() for g, t in zip(candidates, true_masks)])


def _path_separations(adjacency: np.ndarray, descendants: list[int]) -> np.ndarray:
    """(P, 2^n) d-separation by the path criterion with the given descendant masks: a path is
    blocked by a conditioned non-collider or by a collider none of whose descendants is
    conditioned. With true descendants this is d-separation; with the published ones, theirs."""
    n = adjacency.shape[0]
    u, v = dags.forward_pairs(n)
    result = np.zeros((u.size, 2**n), dtype=bool)
    for p, (x, y) in enumerate(zip(u.tolist(), v.tolist())):
        paths = _paths(adjacency, x, y)
        for z in range(2**n):
            if z >> x & 1 or z >> y & 1:
                continue
            result[p, z] = all(z & (on ^ colliders) or any(colliders >> c & 1 and not descendants[c] & z
                                                          for c in range(n))
                               for on, colliders in paths)
    return result


def _paths(adjacency: np.ndarray, x: int, y: int) -> list[tuple[int, int]]:
    """Every simple path x ... y of the skeleton as (nodes on it, its colliders) bit masks."""
    n = adjacency.shape[0]
    found = []

    def walk(node: int, on: int, colliders: int, arrived_by_arrow: bool) -> None:
        if node == y:
            found.append((on, colliders))
            return
        for nxt in range(n):
            if on >> nxt & 1 or not (adjacency[node, nxt] or adjacency[nxt, node]):
                continue
            if adjacency[node, nxt]:
                walk(nxt, on | 1 << nxt, colliders, True)
            else:  # nxt -> node: node is a collider if we also arrived by an arrow into it
                walk(nxt, on | 1 << nxt, colliders | (1 << node if arrived_by_arrow else 0), False)

    walk(x, 1 << x, 0, False)
    return found


def _statement_maps(n: int, perms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where relabelling o sends each forward pair and each node mask: (n!, P), (n!, 2^n)."""
    u, v = dags.forward_pairs(n)
    pair_index = np.zeros((n, n), dtype=np.int64)
    pair_index[u, v] = pair_index[v, u] = np.arange(u.size)
    pair_map = pair_index[perms[:, u], perms[:, v]]
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # (2^n, n)
    mask_map = (bits[None, :, :] << perms[:, None, :]).sum(axis=2)
    return pair_map, mask_map


def _relabel_statements(separated: np.ndarray, pair_map, mask_map) -> np.ndarray:
    """(n!, P, 2^n): one DAG's statement table under every relabelling."""
    out = np.zeros((pair_map.shape[0],) + separated.shape, dtype=bool)
    o = np.arange(pair_map.shape[0])[:, None, None]
    out[o, pair_map[:, :, None], mask_map[:, None, :]] = separated[None]
    return out


def _published_groups(published_sep, true_class, differs, perms) -> np.ndarray:
    """A group id per DAG: DAGs whose statement lists are relabellings of each other.

    Unaffected DAGs group by their true class (equal independences = Markov equivalent). A DAG
    whose list the descendant bug changed is compared, through every relabelling, with one
    unaffected DAG of each class holding as many statements, and with the other changed DAGs.
    """
    n = published_sep.shape[-1].bit_length() - 1
    pair_map, mask_map = _statement_maps(n, perms)
    group = true_class.copy()
    sizes = published_sep.sum(axis=(1, 2))
    changed = np.flatnonzero(differs)
    reference = {}  # statement count -> [(group id, statement table)]
    for index in np.flatnonzero(~differs):
        if sizes[index] in set(sizes[changed].tolist()) and true_class[index] not in [
                g for g, _ in reference.get(sizes[index], [])]:
            reference.setdefault(sizes[index], []).append((true_class[index], published_sep[index]))
    next_id = int(true_class.max()) + 1
    for index in changed:
        variants = _relabel_statements(published_sep[index], pair_map, mask_map)
        match = [g for g, table in reference.get(sizes[index], [])
                 if (variants == table[None]).all(axis=(1, 2)).any()]
        if match:
            group[index] = match[0]
        else:
            group[index] = next_id
            reference.setdefault(sizes[index], []).append((next_id, published_sep[index]))
            next_id += 1
    return group


def _members_by_meek(rep: np.ndarray, relabelled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, o) of every member of an unaffected class: its true MEC, each member traced back to
    its unique DAG u and the first relabelling o of u that gives it."""
    members, _ = equivalence.mec_members(*equivalence.cpdag(rep[None]))
    codes = dags.encode(members)
    canonical, _ = dags.canonical_codes(members)
    u = np.searchsorted(_canonical_order(rep.shape[0]), canonical)
    o = (relabelled[u] == codes[:, None]).argmax(axis=1)
    return u, o


@functools.lru_cache(maxsize=None)
def _canonical_order(n: int) -> np.ndarray:
    return dags.encode(dags.all_dags(n))  # sorted: all_dags is in code order


def _members_by_statements(rep, in_group, published_sep, relabelled, perms) -> tuple[np.ndarray, np.ndarray]:
    """(u, o) of every member as the published code finds them: each distinct relabelling of a
    group DAG whose relabelled statement list equals the representative's."""
    n = perms.shape[1]
    pair_map, mask_map = _statement_maps(n, perms)
    us, os = [], []
    for index in in_group:
        same = (_relabel_statements(published_sep[index], pair_map, mask_map)
                == published_sep[rep][None]).all(axis=(1, 2))
        _, first = np.unique(relabelled[index], return_index=True)  # first o of each distinct graph
        first = np.sort(first[same[first]])
        us.append(np.full(first.size, index))
        os.append(first)
    return np.concatenate(us), np.concatenate(os)


# ---------------------------------------------------------------- items and their selection

@dataclass
class Items:
    """Selected rows, before rendering: which class, pair, type, and how the row names nodes."""

    n: np.ndarray  # (R,) graph size
    cls: np.ndarray  # (R,) class index in class_table(n)
    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray  # (R,) index into TYPES
    labels: np.ndarray  # (R,) bool
    order: np.ndarray  # (R, 8) nodes in listing order (first n columns used)
    keys: np.ndarray  # (R,) uint64 class key


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


# ---------------------------------------------------------------- rendering into token ids

def _w(word: str) -> int:
    return tokenizer.TOKEN_ID[word]


def _words(sentence: str) -> list[int]:
    return [_w(t) for t in sentence.split()]


NAME_X, NAME_Y = -100, -101  # hypothesis name slots; other negative slots name node -(v + 1)
SKIP = -1000  # an unused slot
_SWAPPED = str.maketrans("XY", "YX")
HYPOTHESES = {  # TYPES -> words (text.CLAIMS, the first published wording); X, Y are the pair
    "parent": text.CLAIMS["direct"],
    "ancestor": text.CLAIMS["mediated"],
    "child": text.CLAIMS["direct"].translate(_SWAPPED),
    "descendant": text.CLAIMS["indirect"].translate(_SWAPPED),
    "collider": text.CLAIMS["collider"],
    "confounder": text.CLAIMS["confounder"],
}


def _hypothesis_slots() -> np.ndarray:
    width = max(len(h.split()) for h in HYPOTHESES.values())
    table = np.full((len(TYPES), width), SKIP, dtype=np.int64)
    for t, name in enumerate(TYPES):
        words = HYPOTHESES[name].split()
        table[t, : len(words)] = [NAME_X if w == "X" else NAME_Y if w == "Y" else _w(w) for w in words]
    return table


HYPOTHESIS_SLOTS = _hypothesis_slots()


@functools.lru_cache(maxsize=None)
def statements(n: int, semantics: str, graphs_per_size: int, premise: str) -> tuple[np.ndarray, ...]:
    """Every class's premise statements, flattened: (offsets (K+1,), kind, u, v, z) where kind is
    0 for "u correlates with v" and 1 for "u and v are independent given z" (z = 0: marginal)."""
    table = class_table(n, semantics, graphs_per_size)
    separated = table.separated if premise == "full" else minimal(table.separated)
    u, v = dags.forward_pairs(n)
    k_corr, p_corr = np.nonzero(~table.separated[:, :, 0])
    k_ind, p_ind, z_ind = np.nonzero(separated)
    cls = np.concatenate([k_corr, k_ind])
    order = np.argsort(cls, kind="stable")
    kind = np.r_[np.zeros(k_corr.size, np.int64), np.ones(k_ind.size, np.int64)][order]
    pair = np.r_[p_corr, p_ind][order]
    z = np.r_[np.zeros(k_corr.size, np.int64), z_ind][order]
    offsets = np.r_[0, np.cumsum(np.bincount(cls, minlength=len(table.keys)))]
    return offsets, kind, u[pair], v[pair], z


def render(items: Items, rows: np.ndarray, n: int, spec: Corr2CauseSpec, rng: np.random.Generator,
           with_hypothesis: bool = True, chunk_slots: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Token rows (premise, then hypothesis) for the selected rows of one graph size.

    Rows are rendered in chunks of similar premise length (sorted by statement count) to bound
    memory; names are drawn per row, so the same class reads differently on every row.
    """
    offsets, kind, su, sv, sz = statements(n, spec.semantics, spec.graphs_per_size, spec.premise)
    if spec.names == "random":
        chars, name_lengths = names.sample_names(rng, rows.size, n, spec.name_length,
                                                 tokenizer.char_ids(ALPHANUMERICS))
    else:
        chars = np.tile(tokenizer.char_ids(LETTERS[:n])[None, :, None], (rows.size, 1, 1))
        name_lengths = np.ones((rows.size, n), dtype=np.int64)
    count = offsets[items.cls[rows] + 1] - offsets[items.cls[rows]]
    by_length = np.argsort(-count, kind="stable")  # a chunk's first row is its longest
    pieces = []
    start = 0
    while start < rows.size:
        per_row = (int(count[by_length[start]]) + 1) * (2 * n + 4) + 64
        part = by_length[start : start + max(1, chunk_slots // per_row)]
        slots = _slots(items, rows[part], n, (offsets, kind, su, sv, sz), with_hypothesis)
        pieces.append((part, *_expand(slots, chars[part], name_lengths[part])))
        start += part.size
    total = max(p[1].shape[1] for p in pieces)
    tokens = np.zeros((rows.size, total), dtype=np.uint8)
    lengths = np.zeros(rows.size, dtype=np.int32)
    for part, part_tokens, part_lengths in pieces:
        tokens[part, : part_tokens.shape[1]] = part_tokens
        lengths[part] = part_lengths
    return tokens, lengths


def _slots(items: Items, rows: np.ndarray, n: int, stmts, with_hypothesis: bool) -> np.ndarray:
    """(B, L) slot values: a token id (>= 0), node v's name (-(v + 1)) or SKIP."""
    offsets, kind, su, sv, sz = stmts
    count = rows.size
    b = np.arange(count)[:, None]
    order = items.order[rows, :n]  # nodes in listing order
    position = np.argsort(order, axis=1)
    cls = items.cls[rows]
    n_statements = offsets[cls + 1] - offsets[cls]
    valid = np.arange(n_statements.max()) < n_statements[:, None]  # (B, S)
    index = np.where(valid, offsets[cls][:, None] + np.arange(valid.shape[1]), 0)
    k, u, v, z = kind[index], su[index], sv[index], sz[index]
    pu, pv = position[b, u], position[b, v]
    first, second = np.where(pu < pv, u, v), np.where(pu < pv, v, u)
    # the conditioning nodes of each statement, in listing order
    in_z = (z[:, :, None] >> order[:, None, :]) & 1  # (B, S, n): node at position j conditioned
    given = np.full(in_z.shape, -1, dtype=np.int64)
    given_position = np.zeros(in_z.shape, dtype=np.int64)
    rank = np.cumsum(in_z, axis=2) - 1
    bb, ss, jj = np.nonzero(in_z)
    given[bb, ss, rank[bb, ss, jj]] = order[bb, jj]
    given_position[bb, ss, rank[bb, ss, jj]] = jj + 1
    n_given = in_z.sum(axis=2)
    # Corr2Cause's order: correlations, then independences, each by (first, second, given list)
    digits = [np.where(valid, k, 2), np.minimum(pu, pv), np.maximum(pu, pv)]
    digits += [given_position[:, :, j] for j in range(n - 2)]
    key = np.zeros(valid.shape, dtype=np.int64)
    for d in digits:
        key = key * (n + 1) + d
    s = np.argsort(key, axis=1, kind="stable")
    k, first, second, n_given, valid = (np.take_along_axis(a, s, axis=1)
                                        for a in (k, first, second, n_given, valid))
    given = np.take_along_axis(given, s[:, :, None], axis=1)
    stated = _statement_slots(k, first, second, given, n_given, valid, n)
    prefix = _prefix_slots(order, n)
    parts = [prefix, stated.reshape(count, -1)]
    if with_hypothesis:
        hypothesis = HYPOTHESIS_SLOTS[items.kind[rows]]
        hypothesis = np.where(hypothesis == NAME_X, -(items.x[rows][:, None] + 1), hypothesis)
        parts.append(np.where(hypothesis == NAME_Y, -(items.y[rows][:, None] + 1), hypothesis))
    return np.concatenate(parts, axis=1)


def _statement_slots(k, first, second, given, n_given, valid, n) -> np.ndarray:
    """(B, S, 2n + 4): "However ," where it belongs, then each statement's words."""
    shape = k.shape
    width = 2 * n + 2
    ref_first, ref_second = -(first + 1), -(second + 1)

    def fixed(*words):  # a statement body with name slots from the arrays above
        body = np.full(shape + (width,), SKIP, dtype=np.int64)
        for j, w in enumerate(words):
            body[..., j] = w if isinstance(w, np.ndarray) else _w(w)
        return body

    correlation = fixed(ref_first, "correlates", "with", ref_second, ".")
    marginal = fixed(ref_first, "is", "independent", "of", ref_second, ".")
    conditional = fixed(ref_first, "and", ref_second, "are", "independent", "given")
    rel = np.arange(width - 6)  # slots after "given": Z1 , Z2 and Z3 .
    ng = n_given[..., None]
    name_at = given[..., rel // 2]  # the (rel // 2)-th conditioning node
    tail = np.full(shape + (width - 6,), SKIP, dtype=np.int64)
    tail = np.where((rel % 2 == 0) & (rel // 2 < ng), -(name_at + 1), tail)
    tail = np.where((rel % 2 == 1) & (rel < 2 * ng - 1), np.where(rel == 2 * ng - 3, _w("and"), _w(",")), tail)
    tail = np.where(rel == 2 * ng - 1, _w("."), tail)
    conditional[..., 6:] = tail
    body = np.where((k == 0)[..., None], correlation,
                    np.where((n_given == 0)[..., None], marginal, conditional))
    body = np.where(valid[..., None], body, SKIP)
    n_corr = ((k == 0) & valid).sum(axis=1, keepdims=True)
    however = (np.arange(shape[1])[None, :] == n_corr) & (n_corr > 0) & valid
    lead = np.where(however[..., None], np.array([_w("However"), _w(",")]), SKIP)
    return np.concatenate([lead, body], axis=2)


def _prefix_slots(order: np.ndarray, n: int) -> np.ndarray:
    """"Suppose there is a closed system of N variables, A, B and C. All the statistical
    relations among these N variables are as follows:" with the names in listing order."""
    number = [tokenizer.TOKEN_ID[d] for d in str(n)]
    head = _words("Suppose there is a closed system of") + number + _words("variables ,")
    middle = _words(".") + _words("All the statistical relations among these") + number
    tail = _words("variables are as follows :")
    listing = np.zeros((order.shape[0], 2 * n - 1), dtype=np.int64)
    listing[:, 0::2] = -(order + 1)
    listing[:, 1::2] = _w(",")
    listing[:, 2 * n - 3] = _w("and")
    count = order.shape[0]
    return np.concatenate([np.tile(head, (count, 1)), listing, np.tile(middle + tail, (count, 1))], axis=1)


def _expand(slots: np.ndarray, chars: np.ndarray, name_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spell the slots into a right-padded uint8 token matrix: a name takes its characters."""
    rows = np.arange(slots.shape[0])[:, None]
    is_name = (slots < 0) & (slots != SKIP)
    node = np.where(is_name, -slots - 1, 0)
    width = np.where(slots == SKIP, 0, np.where(is_name, name_lengths[rows, node], 1))
    end = np.cumsum(width, axis=1)
    start = end - width
    lengths = end[:, -1].astype(np.int32)
    tokens = np.zeros((slots.shape[0], int(lengths.max(initial=0))), dtype=np.uint8)
    r, c = np.nonzero(slots >= 0)
    tokens[r, start[r, c]] = slots[r, c]
    for j in range(chars.shape[2]):
        r, c = np.nonzero(is_name & (width > j))
        tokens[r, start[r, c] + j] = chars[r, node[r, c], j]
    return tokens, lengths


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
        hint = ("; N = 2..4 have 0, 0 and 2 classes in the test split, too few for a suite"
                if key == "n" and value in ("2", "3", "4") else "")
        raise ValueError(f"unknown Corr2Cause suite {name!r}{hint}; accepted: {', '.join(suite_names())}")
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


def build_suite(name: str, items: int = 500) -> Dataset:
    """A Corr2Cause evaluation suite by name (see suite_names)."""
    return generate(suite_spec(name, items))


def available(spec: Corr2CauseSpec, balanced: bool = False) -> int:
    """Items the spec's selection holds (what ``size`` may ask for at most); with ``balanced``,
    the most it holds at half Yes (twice the rarer label's items)."""
    labels = _pool(spec, np.random.default_rng([spec.seed, 0])).labels
    return 2 * int(min(labels.sum(), (~labels).sum())) if balanced else int(labels.size)
