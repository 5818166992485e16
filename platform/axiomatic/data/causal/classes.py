"""Corr2Cause's equivalence classes per graph size: representatives, keys, splits, the
d-separation statements a premise lists, and the six relations' labels, exact or as the
published code computes them (``semantics: corr2cause``). Cached per N; see docs/corr2cause.md.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from axiomatic.data import graphs
from axiomatic.data.causal import dags, equivalence

TYPES = ("parent", "ancestor", "child", "descendant", "collider", "confounder")
SPLITS = ("train", "val", "test")
NODES = (2, 8)
PUBLISHED_NODES = 6  # the published data (and its labelling code) covers N = 2..6
POOL_SEED = 20240529  # the sampled N = 7, 8 classes are part of the task, fixed like its wording


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

