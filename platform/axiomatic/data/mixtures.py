"""Training-set specifications: the OCC / TS2 / TS1 presets and the continuous perturbation knob.

A training set mixes three kinds of chain: *sequential* (every edge forward, stated in order),
*flipped* (each edge reversed with probability ``flip_prob``, creating forks and colliders) and
*reversed* (a sequential chain stated last edge first). The paper's sets are three points of that
simplex; ``perturbation`` is one scalar that walks through them so a search can treat the mixture
as a continuous hyperparameter:

    perturbation 0 = OCC, 1 = TS2, 2 = TS1, 3 = beyond TS1 (no sequential chains left)

with linear interpolation in between. Explicit ``shares`` may be given instead.
"""

from __future__ import annotations

import math
import string
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from axiomatic.data import graphs
from axiomatic.data.axioms import transitivity
from axiomatic.data.dataset import Dataset
from axiomatic.digest import json_digest

GENERATOR_VERSION = "transitivity-2"  # 2: category balance respects per-premise capacity (k > 1)
ALPHANUMERICS = string.digits + string.ascii_uppercase + string.ascii_lowercase
KINDS = ("sequential", "flipped", "reversed")

# (sequential, flipped, reversed) shares at perturbation 0, 1, 2, 3. TS2 ≈ 132k + 42k and
# TS1 ≈ 101k + 73k + 12k in the paper (composition unverified, see PAPER.md).
PERTURBATION_ANCHORS = np.array([
    [1.0, 0.0, 0.0],
    [132 / 174, 42 / 174, 0.0],
    [101 / 186, 73 / 186, 12 / 186],
    [0.0, 0.8, 0.2],
])
PRESETS = {"OCC": 0.0, "TS2": 1.0, "TS1": 2.0}
PAPER_SIZE = 175_000


class Shares(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sequential: float = Field(ge=0, le=1)
    flipped: float = Field(ge=0, le=1)
    reversed: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self):
        total = self.sequential + self.flipped + self.reversed
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"sequential + flipped + reversed must sum to 1, got {total:.6g}")
        return self

    def as_array(self) -> np.ndarray:
        return np.array([self.sequential, self.flipped, self.reversed])


def shares_at(perturbation: float) -> Shares:
    """The mixture at a point of the OCC -> TS2 -> TS1 -> beyond path."""
    low = min(int(perturbation), len(PERTURBATION_ANCHORS) - 2)
    t = perturbation - low
    mix = (1 - t) * PERTURBATION_ANCHORS[low] + t * PERTURBATION_ANCHORS[low + 1]
    # Clamp rounding residue (1 - s - f is -5e-17 at 0.25), which Shares would reject as < 0.
    mix = np.clip(mix, 0.0, 1.0)
    return Shares(sequential=mix[0], flipped=mix[1], reversed=max(0.0, 1.0 - mix[0] - mix[1]))


def check_range(v: tuple[int, int], lowest: int) -> tuple[int, int]:
    """An inclusive [lo, hi] range field of a data spec, or the ValueError pydantic reports."""
    if v[0] < lowest or v[0] > v[1]:
        raise ValueError(f"expected [lo, hi] with {lowest} <= lo <= hi, got {list(v)}")
    return v


def check_alphabet(v: str) -> str:
    """A names alphabet: distinct alphanumerics, the characters the tokenizer spells names with."""
    bad = sorted(set(v) - set(ALPHANUMERICS))
    if bad:
        raise ValueError(f"alphabet may only use the 62 alphanumerics [0-9A-Za-z], got {bad}")
    if len(set(v)) != len(v):
        raise ValueError("alphabet repeats a character")
    return v


class DataSpec(BaseModel):
    """Everything that determines a transitivity training set; its hash names the cached arrays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Literal["transitivity"] = "transitivity"
    axiom: str = Field("transitivity", pattern="^transitivity$")
    size: int = Field(PAPER_SIZE, gt=0, description="instances (premise + hypothesis)")
    seed: int = 0
    chain_lengths: tuple[int, int] = Field((3, 6), description="nodes per chain, inclusive range")
    name_length: tuple[int, int] = Field((1, 3), description="characters per node name")
    alphabet: str = Field(ALPHANUMERICS, min_length=1)
    perturbation: float | None = Field(None, ge=0, le=3)
    shares: Shares | None = None
    flip_prob: float = Field(0.5, ge=0, le=1)
    shuffle_share: float = Field(0.0, ge=0, le=1, description="premises stated in random order")
    hypotheses_per_premise: int = Field(1, ge=1)
    questions_per_premise: int = Field(1, ge=1, description="questions asked of each premise, "
                                                            "trained together in one row")
    balance: bool = True
    hop_balance: bool = Field(False, description="questions drawn uniformly over the distances "
                                                 "(edges apart) a premise offers, not over pairs")

    @field_validator("chain_lengths", "name_length")
    @classmethod
    def _ordered_range(cls, v, info):
        return check_range(v, 2 if info.field_name == "chain_lengths" else 1)

    @field_validator("alphabet")
    @classmethod
    def _alphanumeric(cls, v):
        return check_alphabet(v)

    @field_validator("questions_per_premise")
    @classmethod
    def _within_the_pairs(cls, k, info):
        if "chain_lengths" not in info.data:
            return k  # chain_lengths itself is invalid: that is the error to report
        lo = info.data["chain_lengths"][0]
        if k > lo * (lo - 1):
            raise ValueError(f"expected at most {lo * (lo - 1)}, the distinct ordered pairs of the "
                             f"shortest chain ({lo} nodes), got {k}")
        return k

    @model_validator(mode="after")
    def _consistent(self):
        if self.perturbation is not None and self.shares is not None:
            raise ValueError("give either 'perturbation' or 'shares', not both")
        lo = self.chain_lengths[0]
        if self.hypotheses_per_premise > lo - 1:
            raise ValueError(
                f"hypotheses_per_premise must be <= {lo - 1} "
                f"(edges of the shortest chain), got {self.hypotheses_per_premise}")
        if self.questions_per_premise > 1 and self.hypotheses_per_premise > 1:
            raise ValueError("give questions_per_premise (k questions in one training row) or "
                             "hypotheses_per_premise (k rows per premise), not both")
        return self

    def resolved_shares(self) -> Shares:
        if self.shares is not None:
            return self.shares
        return shares_at(1.0 if self.perturbation is None else self.perturbation)

    def canonical(self) -> dict:
        """The spec with the mixture resolved: equal canonical forms generate equal bytes."""
        # task is left out: it is always "transitivity" here, and digests predate it
        data = self.model_dump(mode="json", exclude={"task", "perturbation", "shares"})
        if self.questions_per_premise == 1:
            del data["questions_per_premise"]  # absent at its default: older digests stay valid
        if not self.hop_balance:
            del data["hop_balance"]
        data["shares"] = self.resolved_shares().model_dump()
        data["generator"] = GENERATOR_VERSION
        return data

    def digest(self) -> str:
        return json_digest(self.canonical())


def preset(name: str, **overrides) -> DataSpec:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; accepted: {', '.join(PRESETS)}")
    return DataSpec(perturbation=PRESETS[name], **overrides)


def allocate(total: int, weights) -> np.ndarray:
    """Split an integer total by weights exactly (largest remainder), deterministically."""
    weights = np.asarray(weights, dtype=float)
    ideal = total * weights / weights.sum()
    counts = np.floor(ideal).astype(np.int64)
    counts[np.argsort(-(ideal - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def generate(spec: DataSpec) -> Dataset:
    """Generate a training set: same spec, same bytes."""
    rng = np.random.default_rng(spec.seed)
    k = max(spec.hypotheses_per_premise, spec.questions_per_premise)
    premises = -(-spec.size // k)
    lengths = np.arange(spec.chain_lengths[0], spec.chain_lengths[1] + 1)
    groups = []
    for kind, kind_count in zip(KINDS, allocate(premises, spec.resolved_shares().as_array())):
        for n, count in zip(lengths, allocate(int(kind_count), np.ones(lengths.size))):
            if count:
                groups.append(transitivity.Group(_chains(rng, spec, kind, int(n), int(count)),
                                                 spec.name_length))
    data = transitivity.generate(rng, groups, spec.alphabet, k, spec.balance,
                                 balance_within_premise=spec.questions_per_premise > 1,
                                 hop_balance=spec.hop_balance)
    data = data.subset(rng.permutation(len(data))[: spec.size])
    data.questions_per_row = spec.questions_per_premise  # a premise's questions train in one row
    return data


def _chains(rng, spec: DataSpec, kind: str, nodes: int, count: int) -> graphs.GraphBatch:
    flips = np.zeros((count, nodes - 1), dtype=bool)
    if kind == "flipped":
        flips = rng.random(flips.shape) < spec.flip_prob
    batch = graphs.chains(flips)
    if kind == "reversed":
        batch = graphs.reverse_order(batch)
    if spec.shuffle_share > 0:
        batch = graphs.shuffle_order(rng, batch, rng.random(count) < spec.shuffle_share)
    return batch
