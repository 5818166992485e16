"""Row layouts: which tokens of a row may attend to which, and at what position each one sits.

A plain row is one instance, ``premise + question``: causal attention, positions 0..T-1, the answer
read at the last token. A *multi-question* row holds one premise followed by k questions::

    A causes B . B causes C . | Does A cause C ? | Does C cause A ? | ...
    segment 0 (the premise)     segment 1          segment 2

Each question attends to the premise and to its own earlier tokens only, its positions continue
from the premise's end exactly as if it stood alone, and its answer is read at its own ``?``.
So every question's logits equal those of a plain row holding the premise and that question
(tests/test_model.py checks it for every positional encoding): k labels for the premise's cost once.

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
        return cls(positions, segment, predecessor, answers, present)

    @classmethod
    def plain(cls, lengths: torch.Tensor, width: int) -> "Layout":
        """The layout of one-question rows, spelled out (what ``layout=None`` means)."""
        index = torch.arange(width, device=lengths.device)
        B = lengths.size(0)
        segments = torch.where(index[None, :] < lengths[:, None], 0, PAD_SEGMENT)
        return cls(index.expand(B, -1), segments, (index - 1).expand(B, -1), (lengths - 1)[:, None],
                   torch.ones(B, 1, dtype=torch.bool, device=lengths.device))

    def mask(self) -> torch.Tensor:
        """(B, 1, T, T) bool, True where query i may attend to key j: j <= i, j is not padding,
        and j is in the premise or in i's own question."""
        query, key = self.segments[:, :, None], self.segments[:, None, :]
        T = self.segments.size(1)
        causal = torch.ones(T, T, dtype=torch.bool, device=self.segments.device).tril()
        same_sequence = (key == 0) | (key == query)
        return (causal & same_sequence & (key != PAD_SEGMENT))[:, None]

    def next_token_targets(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For the auxiliary next-token loss: (targets (B, T-1), valid (B, T-1)). Position i
        predicts token i+1 wherever both belong to one sequence and i is not an answer position:
        inside the premise, from the premise's end into the first question, inside a question.
        (From the premise's end every question starts with the same word, so one target serves.)"""
        seg, nxt = self.segments[:, :-1], self.segments[:, 1:]
        is_answer = torch.zeros_like(self.segments, dtype=torch.bool)
        is_answer.scatter_(1, self.answers, self.present)  # absent questions write False at 0
        valid = (seg != PAD_SEGMENT) & (nxt != PAD_SEGMENT) & ~is_answer[:, :-1]
        return tokens[:, 1:], valid
