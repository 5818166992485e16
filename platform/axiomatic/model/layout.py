"""Row layouts: which tokens of a row may attend to which, and at what position each one sits.

A plain row is one instance, ``premise + question``: causal attention, positions 0..T-1, the answer
read at the last token. A *multi-question* row holds one premise followed by k questions::

    A causes B . B causes C . | Does A cause C ? | Does C cause A ? | ...
    segment 0 (the premise)     segment 1          segment 2

Each question attends to the premise and to its own earlier tokens only, its positions continue
from the premise's end exactly as if it stood alone, and its answer is read at its own ``?``.
So every question's logits equal those of a plain row holding the premise and that question
(tests/test_model.py checks it for every positional encoding): k labels for the premise's cost once.

A *packed* row goes one step further: several instances (each a premise and its questions) back to
back in one row of fixed length, each marked by its own *document* id. A token attends only within
its document, positions restart at 0 where a document starts, and the mixer sees no predecessor
there, so each instance gives the logits it gives alone (:meth:`Layout.packed`). The one mask of
:meth:`Layout.mask` serves all three kinds of row.

:class:`Layout` carries what the decoder needs per token (position, segment, the logically
previous token for the local mixer) and builds the boolean attention mask. It is built on the
device from span lengths, once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PAD_SEGMENT = -1


@dataclass
class Layout:
    positions: torch.Tensor    # (B, T) int64: each token's position as if its question stood alone
    segments: torch.Tensor     # (B, T) int64: 0 premise, j >= 1 question j, PAD_SEGMENT padding
    predecessor: torch.Tensor  # (B, T) int64: index of the token before it in its own sequence, -1 none
    answers: torch.Tensor      # (B, K) int64: index of each question's last token (0 where absent)
    present: torch.Tensor      # (B, K) bool: which of the K questions a row has
    documents: torch.Tensor    # (B, T) int64: which instance of the row a token belongs to, -1 padding

    @classmethod
    def from_spans(cls, premise: torch.Tensor, questions: torch.Tensor, width: int) -> "Layout":
        """premise: (B,) premise lengths; questions: (B, K) question lengths, 0 where a row has
        fewer than K questions (absent ones come last); width: T, at least every row's length."""
        B, K = questions.shape
        index = torch.arange(width, device=premise.device)
        starts = premise[:, None] + torch.cumsum(questions, dim=1) - questions  # (B, K)
        length = premise + questions.sum(dim=1)
        # question j (1-based) covers starts[j-1] .. starts[j-1] + len - 1; absent ones start at the end
        segment = (index[None, None, :] >= starts[:, :, None]).sum(dim=1)  # (B, T): 0 in the premise
        segment = torch.where(index[None, :] < length[:, None], segment, PAD_SEGMENT)
        own_start = starts.gather(1, (segment - 1).clamp(min=0))
        in_question = segment > 0
        positions = torch.where(in_question, premise[:, None] + index - own_start, index)
        positions = torch.where(segment == PAD_SEGMENT, 0, positions)
        # a question's first token follows the premise's last one, not the previous question
        first = in_question & (index[None, :] == own_start)
        predecessor = torch.where(first, premise[:, None] - 1, index[None, :] - 1)
        present = questions > 0
        answers = torch.where(present, starts + questions - 1, 0)
        documents = torch.where(segment == PAD_SEGMENT, -1, 0)
        return cls(positions, segment, predecessor, answers, present, documents)

    @classmethod
    def packed(cls, premise: torch.Tensor, questions: torch.Tensor, place: "Placement") -> "Layout":
        """N instances (premise (N,) and question (N, K) lengths, as for :meth:`from_spans`) laid
        into rows as ``place`` says. Answers are (rows, slots * K): instance n's question j at
        ``place.slot[n] * K + j`` of its row; slots a row does not fill are absent."""
        own = cls.from_spans(premise, questions, place.instance_width)  # each instance alone
        offset = place.offset[:, None]
        predecessor = torch.where(own.predecessor >= 0, own.predecessor + offset, -1)
        answers = place.lay_answers(own.answers + offset, 0)
        present = place.lay_answers(own.present, False)
        return cls(place.lay(own.positions, 0), place.lay(own.segments, PAD_SEGMENT),
                   place.lay(predecessor, -1), answers, present,
                   place.lay(torch.where(own.segments == PAD_SEGMENT, -1, place.slot[:, None]), -1))

    @classmethod
    def plain(cls, lengths: torch.Tensor, width: int) -> "Layout":
        """The layout of one-question rows, spelled out (what ``layout=None`` means)."""
        index = torch.arange(width, device=lengths.device)
        B = lengths.size(0)
        segments = torch.where(index[None, :] < lengths[:, None], 0, PAD_SEGMENT)
        return cls(index.expand(B, -1), segments, (index - 1).expand(B, -1), (lengths - 1)[:, None],
                   torch.ones(B, 1, dtype=torch.bool, device=lengths.device), segments)

    def allows(self, row: torch.Tensor, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """True where query position ``query`` of row ``row`` may attend to key position ``key``
        (broadcasting index tensors): key <= query, the key is not padding, both are in one
        instance, and the key is in its premise or in the query's own question. Every token also
        sees itself, so a padding token's row is never empty (softmax over nothing is NaN, and a
        NaN in a padding value would reach real tokens through their zero weights). The one rule
        of the dense mask and of FlexAttention's block mask."""
        query_segment, key_segment = self.segments[row, query], self.segments[row, key]
        same_instance = self.documents[row, query] == self.documents[row, key]
        same_sequence = (key_segment == 0) | (key_segment == query_segment)
        visible = (key <= query) & same_instance & same_sequence & (key_segment != PAD_SEGMENT)
        return visible | (key == query)

    def mask(self) -> torch.Tensor:
        """(B, 1, T, T) bool, True where query i may attend to key j (:meth:`allows`)."""
        B, T = self.segments.shape
        index = torch.arange(T, device=self.segments.device)
        rows = torch.arange(B, device=self.segments.device)
        return self.allows(rows[:, None, None], index[None, :, None], index[None, None, :])[:, None]

    def next_token_targets(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For the auxiliary next-token loss: (targets (B, T-1), valid (B, T-1)). Position i
        predicts token i+1 wherever both belong to one sequence and i is not an answer position:
        inside the premise, from the premise's end into the first question, inside a question.
        (From the premise's end every question starts with the same word, so one target serves.)"""
        seg, nxt = self.segments[:, :-1], self.segments[:, 1:]
        is_answer = torch.zeros_like(self.segments, dtype=torch.bool)
        # absent questions write False at 0; two writes at one index are both False or both True
        is_answer.scatter_(1, self.answers, self.present)
        same_instance = self.documents[:, :-1] == self.documents[:, 1:]
        valid = (seg != PAD_SEGMENT) & (nxt != PAD_SEGMENT) & same_instance & ~is_answer[:, :-1]
        return tokens[:, 1:], valid


@dataclass
class Placement:
    """Where each of N instances lies in a batch of packed rows: row ``row[n]``, starting at
    column ``offset[n]``, as the row's ``slot[n]``-th instance. Built on the host by
    :func:`axiomatic.train.batches.assemble_packed`; ``rows``, ``width`` and ``slots`` fix the
    batch's shape."""

    row: torch.Tensor     # (N,) int64
    offset: torch.Tensor  # (N,) int64
    slot: torch.Tensor    # (N,) int64
    lengths: torch.Tensor  # (N,) int64: each instance's tokens
    rows: int             # rows of the batch
    width: int            # tokens of a row
    slots: int            # instances a row holds at most
    instance_width: int   # columns of the per-instance tensors laid into rows (>= every length)

    def lay(self, values: torch.Tensor, fill: int) -> torch.Tensor:
        """Per-instance values (N, instance_width) laid into (rows, width), ``fill`` elsewhere.
        Columns past an instance's length go to one spare cell at the end, then are cut off: a
        scatter with a fixed shape, where boolean indexing would wait for the device."""
        N, W = values.shape
        columns = torch.arange(W, device=values.device)
        target = self.row[:, None] * self.width + self.offset[:, None] + columns
        spare = self.rows * self.width
        target = torch.where(columns < self.lengths[:, None], target, spare)
        flat = torch.full((spare + 1,), fill, dtype=values.dtype, device=values.device)
        flat.scatter_(0, target.flatten(), values.flatten())
        return flat[:spare].view(self.rows, self.width)

    def lay_answers(self, values: torch.Tensor, fill) -> torch.Tensor:
        """Per-question values (N, K) laid into (rows, slots * K): instance n's question j at
        column ``slot[n] * K + j`` of its row, ``fill`` where a row has no such question."""
        N, K = values.shape
        out = torch.full((self.rows, self.slots * K), fill, dtype=values.dtype, device=values.device)
        columns = self.slot[:, None] * K + torch.arange(K, device=values.device)
        out[self.row[:, None].expand(N, K), columns] = values
        return out
