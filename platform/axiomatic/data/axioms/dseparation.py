"""The d-separation axiom: ``A causes B.`` premises, ``Are X and Y d-separated given {Z1, Z2}?``.

Premises are the transitivity ones (chains with flips, in chain, reversed or shuffled order) plus,
optionally, Erdős–Rényi DAGs stated in random order. Each premise gets one question: a pair X, Y
and a conditioning set Z that holds neither; the label is ``graphs.d_separated`` (Yes = X and Y
are d-separated given Z). The pair and the set are written in name order, as the paper's files
write them (``Are EaT and jbj d-separated given {1, Tm2, rBz}?``; no ``given {}`` for the empty
set). Everything is built in token space a whole batch at a time, like the transitivity rows.

Balance. Set sizes are spread evenly over 0..max_given (capped at the nodes a premise has left
after X and Y), and ``Dataset.categories`` holds each row's set size. Questions are drawn
uniformly (pair and set) and kept by rejection, Yes first: with ``balance`` half the rows of every
set size are Yes, which leaves "Yes iff the set is non-empty" at chance; without it half of all
rows are Yes, whatever the size (the larger sets then carry most Yes). Some sizes cannot give a
Yes on some graphs: the empty set on a chain without a collider (every pair is joined by an open
path), one given node on a three-node chain with a collider (the only non-adjacent pair is opened
by conditioning on the collider). Such rows answer No; when a size runs out of premises that can
give a Yes, its missing Yes go to the other sizes, so half of all rows stay Yes as far as any
graph allows (a spec of collider-free chains asked only empty sets has no Yes at all).

Speed: the 175,000-row ``DSEP`` preset takes about 1.5 s on one core (docs/data.md, "d-separation").
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from axiomatic.data import graphs, mixtures, names, tokenizer
from axiomatic.data.axioms.transitivity import Group, Piece, assemble, join, premise, spell, word
from axiomatic.data.dataset import Dataset
from axiomatic.digest import json_digest

GENERATOR_VERSION = "dseparation-2"  # 2: every DAG node is on an edge
PAPER_SIZE = 175_000  # the paper's d-separation training set holds about 175k items
MAX_GIVEN = 8  # the largest conditioning set a spec may ask for
CATEGORY_NAMES = tuple(f"given_{k}" for k in range(MAX_GIVEN + 1))  # Dataset.categories: set size
FLIPPED_ONLY = mixtures.Shares(sequential=0.0, flipped=1.0, reversed=0.0)
ROUNDS = 32  # rounds of draws after which a set size still short of Yes is taken to have none left

# DSEP: flipped chains of 3-6 nodes (flip probability 0.5, chain order) as the bulk, and a quarter
# random DAGs of 5-8 nodes with 1.4 edges per node in random order, so branching structures and
# sentence orders that are not chains are seen in training too (a choice: the paper does not
# publish its d-separation training mixture).
PRESETS = {"DSEP": {"dag_share": 0.25}}

ARE, AND, D_SEPARATED, GIVEN = (tokenizer.word(w) for w in ("Are", "and", "d-separated", "given"))
COMMA, OPEN, CLOSE = (tokenizer.TOKEN_ID[p] for p in (",", "{", "}"))


class DSeparationSpec(BaseModel):
    """Everything that determines a d-separation training set; its hash names the cached arrays.

    ``perturbation``, ``shares``, ``flip_prob`` and ``shuffle_share`` mean what they mean in
    ``mixtures.DataSpec`` and apply to the chains; with neither ``perturbation`` nor ``shares``
    every chain is a flipped one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Literal["dseparation"] = "dseparation"
    size: int = Field(PAPER_SIZE, gt=0, description="instances (premise + question)")
    seed: int = 0
    chain_lengths: tuple[int, int] = Field((3, 6), description="nodes per chain, inclusive range")
    name_length: tuple[int, int] = Field((1, 3), description="characters per node name")
    alphabet: str = Field(mixtures.ALPHANUMERICS, min_length=1)
    perturbation: float | None = Field(None, ge=0, le=3)
    shares: mixtures.Shares | None = None
    flip_prob: float = Field(0.5, ge=0, le=1)
    shuffle_share: float = Field(0.0, ge=0, le=1, description="chains stated in random order")
    dag_share: float = Field(0.0, ge=0, le=1, description="premises that are random DAGs")
    dag_nodes: tuple[int, int] = Field((5, 8), description="nodes per DAG, inclusive range")
    edges_per_node: float = Field(1.4, gt=0, description="a DAG of n nodes has int(n * this) edges")
    max_given: int = Field(4, ge=0, le=MAX_GIVEN, description="largest conditioning set asked about")
    balance: bool = True
    questions_per_premise: int = Field(1, ge=1, le=16, description="questions asked of each premise "
                                                                   "(packed into one training row when > 1)")

    @field_validator("chain_lengths", "name_length", "dag_nodes")
    @classmethod
    def _ordered_range(cls, v, info):
        # a chain or DAG needs a third node for X and Y to be anything but adjacent
        return mixtures.check_range(v, 1 if info.field_name == "name_length" else 3)

    @field_validator("alphabet")
    @classmethod
    def _alphanumeric(cls, v):
        return mixtures.check_alphabet(v)

    @field_validator("edges_per_node")
    @classmethod
    def _fits_the_dags(cls, v, info):
        if "dag_nodes" not in info.data:
            return v  # dag_nodes itself is invalid: that is the error to report
        for n in range(info.data["dag_nodes"][0], info.data["dag_nodes"][1] + 1):
            if not graphs.min_dag_edges(n) <= int(v * n) <= n * (n - 1) // 2:
                raise ValueError(f"a DAG of {n} nodes would get int({v} * {n}) = {int(v * n)} edges; "
                                 f"with every node on an edge it holds {graphs.min_dag_edges(n)} "
                                 f"to {n * (n - 1) // 2}")
        return v

    @model_validator(mode="after")
    def _one_mixture(self):
        if self.perturbation is not None and self.shares is not None:
            raise ValueError("give either 'perturbation' or 'shares', not both")
        return self

    def resolved_shares(self) -> mixtures.Shares:
        if self.shares is not None:
            return self.shares
        return FLIPPED_ONLY if self.perturbation is None else mixtures.shares_at(self.perturbation)

    def canonical(self) -> dict:
        """The spec with the chain mixture resolved: equal canonical forms generate equal bytes."""
        data = self.model_dump(mode="json", exclude={"perturbation", "shares"})
        data["shares"] = self.resolved_shares().model_dump()
        data["generator"] = GENERATOR_VERSION
        return data

    def digest(self) -> str:
        return json_digest(self.canonical())


def preset(name: str, **overrides) -> DSeparationSpec:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    return DSeparationSpec(**{**PRESETS[name], **overrides})


def generate(spec: DSeparationSpec) -> Dataset:
    """Generate a training set: same spec, same bytes. With ``questions_per_premise`` k, each
    premise is asked k independent questions (rows with equal premise tokens, which training packs
    into one row), and the set holds ceil(size / k) premises cut to ``size`` rows."""
    rng = np.random.default_rng(spec.seed)
    k = spec.questions_per_premise
    premises = -(-spec.size // k)
    chain_count, dag_count = mixtures.allocate(premises, [1 - spec.dag_share, spec.dag_share])
    groups = []
    lengths = np.arange(spec.chain_lengths[0], spec.chain_lengths[1] + 1)
    kind_counts = mixtures.allocate(int(chain_count), spec.resolved_shares().as_array())
    for kind, kind_count in zip(mixtures.KINDS, kind_counts):
        for n, count in zip(lengths, mixtures.allocate(int(kind_count), np.ones(lengths.size))):
            if count:  # the transitivity mixtures' chains: same kinds, flips and shuffles
                groups.append(Group(mixtures._chains(rng, spec, kind, int(n), int(count)), spec.name_length))
    dag_sizes = np.arange(spec.dag_nodes[0], spec.dag_nodes[1] + 1)
    for n, count in zip(dag_sizes, mixtures.allocate(int(dag_count), np.ones(dag_sizes.size))):
        if count:
            dags = graphs.random_dags(rng, int(count), int(n), int(spec.edges_per_node * n))
            groups.append(Group(graphs.shuffle_order(rng, dags), spec.name_length))
    data = ask(rng, groups, spec.alphabet, spec.max_given, spec.balance, k)
    data = data.subset(rng.permutation(len(data))[: spec.size])
    data.questions_per_row = k  # a premise's questions train in one row
    return data


def ask(rng: np.random.Generator, groups: list[Group], alphabet: str, max_given: int,
        balance: bool = True, questions_per_premise: int = 1) -> Dataset:
    """``questions_per_premise`` labelled questions for every premise of every group, as token
    rows (see the module); the k rows of a premise state it with the same names."""
    k = questions_per_premise
    groups = [Group(_repeated(g.graphs, k), g.name_length) for g in groups]
    width = max(g.graphs.nodes for g in groups)
    nodes = np.concatenate([np.full(g.graphs.count, g.graphs.nodes) for g in groups])
    adjacency = np.concatenate([_padded(g.graphs.adjacency, width) for g in groups])
    sizes = np.concatenate([_sizes(rng, g.graphs.count, min(max_given, g.graphs.nodes - 2)) for g in groups])
    x, y, given, labels = _questions(rng, adjacency, nodes, sizes, balance)
    alphabet_ids = tokenizer.char_ids(alphabet)
    parts, start = [], 0
    for g in groups:
        n, stop = g.graphs.nodes, start + g.graphs.count
        chars, name_lengths = names.sample_names(rng, g.graphs.count // k, n, g.name_length, alphabet_ids)
        chars, name_lengths = np.repeat(chars, k, axis=0), np.repeat(name_lengths, k, axis=0)
        tokens, lengths = render(g.graphs.edges, chars, name_lengths, x[start:stop], y[start:stop],
                                 given[start:stop, :n])
        parts.append(Dataset(tokens, lengths, labels[start:stop].astype(np.uint8),
                             sizes[start:stop].astype(np.uint8), np.full(g.graphs.count, n, np.int32)))
        start = stop
    return Dataset.concat(parts)


def _repeated(batch: graphs.GraphBatch, k: int) -> graphs.GraphBatch:
    """Each premise k times in a row (the batch itself for k = 1)."""
    if k == 1:
        return batch
    return graphs.GraphBatch(np.repeat(batch.adjacency, k, axis=0), np.repeat(batch.edges, k, axis=0))


def _padded(adjacency: np.ndarray, width: int) -> np.ndarray:
    """Graphs of fewer nodes padded with isolated nodes, which no question ever names."""
    out = np.zeros((adjacency.shape[0], width, width), dtype=bool)
    n = adjacency.shape[1]
    out[:, :n, :n] = adjacency
    return out


def _sizes(rng: np.random.Generator, count: int, largest: int) -> np.ndarray:
    """Conditioning-set sizes 0..largest, split evenly over ``count`` premises in random order."""
    spread = mixtures.allocate(count, np.ones(largest + 1))
    return rng.permutation(np.repeat(np.arange(largest + 1), spread))


# ---------------------------------------------------------------- choosing the questions

def _questions(rng, adjacency, nodes, sizes, balance):
    """(x, y, given, labels) per row: Yes rows first, up to each bucket's share, then No rows.

    A bucket is a set size (``balance``) or all rows. Every round, each row of a bucket that
    still wants Yes draws a uniform question of its size, and Yes answers are kept up to what the
    bucket wants. A bucket still short after ROUNDS rounds hands what it lacks to buckets with
    rows to spare; every other row then draws until it gets a No (an adjacent pair always is one,
    so that ends).
    """
    count, width = adjacency.shape[:2]
    bucket = sizes if balance else np.zeros_like(sizes)
    wanted = _yes_wanted(rng, bucket)
    x, y = np.zeros(count, np.int64), np.zeros(count, np.int64)
    given = np.zeros((count, width), bool)
    labels = np.zeros(count, bool)
    done = np.zeros(count, bool)
    exhausted = np.zeros(wanted.size, bool)
    while True:
        for _ in range(ROUNDS):
            missing = wanted - np.bincount(bucket[labels], minlength=wanted.size)
            rows = np.flatnonzero(~done & (missing[bucket] > 0))
            if not rows.size:
                break
            qx, qy, qgiven = _draw(rng, nodes[rows], sizes[rows], width)
            yes = _d_separated(adjacency[rows], nodes[rows], qx, qy, qgiven)
            kept = _first_in_bucket(rng, np.flatnonzero(yes), bucket[rows], missing)
            x[rows[kept]], y[rows[kept]], given[rows[kept]] = qx[kept], qy[kept], qgiven[kept]
            labels[rows[kept]] = done[rows[kept]] = True
        missing = wanted - np.bincount(bucket[labels], minlength=wanted.size)
        exhausted |= missing > 0
        spare = np.where(exhausted, 0, np.bincount(bucket[~done], minlength=wanted.size))
        if not missing.sum() or not spare.sum():
            break
        wanted = wanted - missing + mixtures.allocate(min(int(missing.sum()), int(spare.sum())), spare)
    while not done.all():
        rows = np.flatnonzero(~done)
        qx, qy, qgiven = _draw(rng, nodes[rows], sizes[rows], width)
        kept = ~_d_separated(adjacency[rows], nodes[rows], qx, qy, qgiven)
        x[rows[kept]], y[rows[kept]], given[rows[kept]] = qx[kept], qy[kept], qgiven[kept]
        done[rows[kept]] = True
    return x, y, given, labels


def _d_separated(adjacency, nodes, x, y, given) -> np.ndarray:
    """graphs.d_separated, a node count at a time on graphs cut to their own size (padding is
    dead weight: cutting it makes the DSEP preset 1.7x faster)."""
    out = np.empty(nodes.size, bool)
    for n in np.unique(nodes):
        rows = np.flatnonzero(nodes == n)
        out[rows] = graphs.d_separated(adjacency[rows, :n, :n], x[rows], y[rows], given[rows, :n])
    return out


def _yes_wanted(rng: np.random.Generator, bucket: np.ndarray) -> np.ndarray:
    """Yes rows wanted per bucket: half of each, the odd ones' extra Yes spread so that exactly
    half of all rows (rounded down) are Yes."""
    counts = np.bincount(bucket)
    wanted = counts // 2
    odd = rng.permutation(np.flatnonzero(counts % 2))
    wanted[odd[: counts.sum() // 2 - wanted.sum()]] += 1
    return wanted


def _draw(rng: np.random.Generator, nodes: np.ndarray, sizes: np.ndarray, width: int):
    """A uniform question per row: a random order of its nodes gives x, y and the given set."""
    padding = np.arange(width) >= nodes[:, None]
    order = np.argsort(rng.random((nodes.size, width)) + padding, axis=1)  # padding sorts last
    given = np.zeros((nodes.size, width), bool)
    given[np.arange(nodes.size)[:, None], order[:, 2:]] = np.arange(width - 2) < sizes[:, None]
    return order[:, 0], order[:, 1], given


def _first_in_bucket(rng: np.random.Generator, candidates: np.ndarray, bucket: np.ndarray,
                     missing: np.ndarray) -> np.ndarray:
    """A random choice of the candidates, at most ``missing[b]`` of those in bucket b."""
    candidates = candidates[np.lexsort((rng.random(candidates.size), bucket[candidates]))]
    ordered = bucket[candidates]
    rank = np.arange(candidates.size) - np.searchsorted(ordered, ordered)
    return candidates[rank < missing[ordered]]


# ---------------------------------------------------------------- tokens

def render(edges, chars, name_lengths, x, y, given) -> tuple[np.ndarray, np.ndarray]:
    """Token rows ``A causes B . ... Are X and Y d-separated given { Z1 , Z2 } ?``, right-padded;
    X before Y and the given nodes in name order, no ``given { }`` for the empty set."""
    count, n = given.shape
    rank = _name_ranks(chars)
    rows = np.arange(count)
    swap = rank[rows, x] > rank[rows, y]
    x, y = np.where(swap, y, x), np.where(swap, x, y)
    sizes = given.sum(axis=1)
    slots = int(sizes.max())
    listed = np.argsort(np.where(given, rank, n + rank), axis=1)[:, :slots]  # given first, by name
    used = np.arange(slots) < sizes[:, None]
    members = join([_kept(word(COMMA, (count, slots)), used & (np.arange(slots) > 0)),
                                 _kept(spell(chars, name_lengths, listed), used)])
    some = sizes > 0
    shape = (count,)
    return assemble([
        premise(edges, chars, name_lengths), word(ARE, shape), spell(chars, name_lengths, x),
        word(AND, shape), spell(chars, name_lengths, y), word(D_SEPARATED, shape),
        _kept(word(GIVEN, shape), some), _kept(word(OPEN, shape), some), members,
        _kept(word(CLOSE, shape), some), word(tokenizer.TOKEN_ID["?"], shape),
    ])


def given_sizes(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(N,) uint8: the size of each row's given set, read from its tokens (a row of text, such as
    a published file's, carries no categories): the names between ``{`` and ``}``, one more than
    the commas there, 0 without braces."""
    inside = np.cumsum(tokens == OPEN, axis=1) > np.cumsum(tokens == CLOSE, axis=1)
    inside &= np.arange(tokens.shape[1]) < lengths[:, None]
    commas = ((tokens == COMMA) & inside).sum(axis=1)
    return np.where(inside.any(axis=1), commas + 1, 0).astype(np.uint8)


def _kept(piece: Piece, keep: np.ndarray) -> Piece:
    """A piece with the slots where ``keep`` is False masked off."""
    return piece[0], piece[1] & keep[..., None]


def _name_ranks(chars: np.ndarray) -> np.ndarray:
    """(B, n): each node's place among its row's names in string order. Character ids follow
    ASCII order and pad with 0, so comparing the id columns left to right is comparing strings."""
    count, n, width = chars.shape
    flat = chars.reshape(count * n, width)
    row = np.repeat(np.arange(count), n)
    order = np.lexsort([flat[:, j] for j in reversed(range(width))] + [row])
    rank = np.empty(count * n, np.int64)
    rank[order] = np.arange(count * n) % n
    return rank.reshape(count, n)
