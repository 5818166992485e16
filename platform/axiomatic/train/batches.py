"""Training data on the device and the batches drawn from it.

A run trains in *phases*: each curriculum stage's training set, then the main data. A
:class:`Phase` holds one of them as tensors on the worker's device, as
:class:`~axiomatic.data.packing.TrainingRows` (one premise and its questions per row). The order of
the batches of epoch ``e`` depends only on ``(seed, e)``, and the replayed rows of step ``s`` only
on ``(seed, s)``, so a resumed run replays exactly the batches it had not yet seen.

With ``train.pack_length`` a phase's rows (*instances* here) are packed back to back into rows of
that many tokens (:func:`axiomatic.data.packing.pack`), and a batch is ``batch_tokens //
pack_length`` such rows: every batch has one shape, and almost no token is padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from axiomatic.data import packing
from axiomatic.data.dataset import Dataset
from axiomatic.model.layout import PAD_SEGMENT, Layout, Placement


class Phase:
    """One training set's rows as tensors on the device (lengths also on the host, for planning).

    ``batch_rows`` is how many of its own rows a batch takes; the rest of the batch, if any, is
    replayed from earlier phases.
    """

    def __init__(self, data: Dataset, questions_per_premise: int, device: torch.device, batch_rows: int,
                 pack_length: int | None = None):
        rows = (packing.by_premise(data, questions_per_premise) if questions_per_premise > 1
                else packing.single_questions(data))
        self.lengths_np = rows.lengths
        self.batch_rows = batch_rows  # with packing: packed rows of pack_length tokens
        # None when packing is off, or when a row does not fit (the Trainer says so)
        self.packing = (packing.pack(rows.lengths, pack_length)
                        if pack_length and rows.lengths.max(initial=0) <= pack_length else None)
        self.tokens = torch.from_numpy(rows.tokens).to(device)
        self.lengths = torch.from_numpy(rows.lengths.astype(np.int64)).to(device)
        self.premise = torch.from_numpy(rows.premise.astype(np.int64)).to(device)
        self.questions = torch.from_numpy(rows.questions.astype(np.int64)).to(device)
        self.labels = torch.from_numpy(rows.labels.astype(np.int64)).to(device)

    def __len__(self) -> int:
        return len(self.lengths_np)


@dataclass
class Batch:
    tokens: torch.Tensor  # (B, T) int64
    lengths: torch.Tensor  # (B,)
    labels: torch.Tensor  # (B, K): 1, 0, or -1 for an absent question
    layout: Layout | None  # None: one question per row, read at its last token
    own_rows: int  # the first own_rows rows come from the phase being trained (the rest replayed)


def assemble(parts: list[tuple[Phase, np.ndarray]]) -> Batch:
    """One batch from rows of one or more phases, right-padded to a common width."""
    width = max(int(phase.lengths_np[idx].max()) for phase, idx in parts)
    K = max(phase.labels.size(1) for phase, _ in parts)
    device = parts[0][0].tokens.device
    pieces = []
    for phase, idx in parts:
        index = torch.from_numpy(idx).to(device)
        tokens = phase.tokens[index, :width].long()
        questions, labels = phase.questions[index], phase.labels[index]
        extra = K - labels.size(1)
        pieces.append((F.pad(tokens, (0, width - tokens.size(1))), phase.lengths[index],
                       phase.premise[index], F.pad(questions, (0, extra)), F.pad(labels, (0, extra), value=-1)))
    tokens, lengths, premise, questions, labels = (torch.cat(column) for column in zip(*pieces))
    layout = None if K == 1 else Layout.from_spans(premise, questions, width)
    return Batch(tokens, lengths, labels, layout, own_rows=len(parts[0][1]))


def assemble_packed(phase: Phase, plan: packing.PackedBatch) -> Batch:
    """One batch of packed rows: ``phase.batch_rows`` rows of ``pack_length`` tokens whatever the
    instances, answers for as many instances as the phase's fullest row holds (fixed shapes: one
    compilation, no new allocations from step to step)."""
    device = phase.tokens.device

    def put(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(values.astype(np.int64)).to(device)

    index = put(plan.instances)
    place = Placement(put(plan.row), put(plan.offset), put(plan.slot), phase.lengths[index],
                      rows=phase.batch_rows, width=phase.packing.row_length,
                      slots=phase.packing.slots, instance_width=phase.tokens.size(1))
    layout = Layout.packed(phase.premise[index], phase.questions[index], place)
    labels = place.lay_answers(phase.labels[index], -1)
    tokens = place.lay(phase.tokens[index].long(), 0)
    lengths = (layout.segments != PAD_SEGMENT).sum(dim=1)  # a packed row's length: its tokens in use
    return Batch(tokens, lengths, labels, layout, own_rows=place.rows)


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, bucketing: bool,
                  rank: int = 0, world: int = 1) -> list[np.ndarray]:
    """This rank's batches of one epoch; every rank gets the same number of batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if bucketing:
        # sort within large random windows: batches of similar length, order still random
        window = batch_size * world * 32
        order = np.concatenate([w[np.argsort(lengths[w], kind="stable")]
                                for w in np.array_split(order, max(1, len(order) // window))])
    step = batch_size * world
    batches = [order[i : i + step] for i in range(0, len(order) - step + 1, step)]
    if bucketing:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return [b[rank::world] for b in batches]


def replayed(earlier: list[Phase], rows: int, seed: int, step: int, rank: int) -> list[tuple[Phase, np.ndarray]]:
    """``rows`` rows drawn uniformly from the earlier phases, each phase equally likely: the
    mixed curriculum's reminder of what was learned before."""
    if not earlier or rows == 0:
        return []
    rng = np.random.default_rng([seed, step, rank, 1])
    source = rng.integers(len(earlier), size=rows)
    return [(earlier[k], rng.integers(len(earlier[k]), size=int((source == k).sum())))
            for k in range(len(earlier)) if (source == k).any()]
