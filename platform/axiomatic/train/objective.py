"""What training minimises: the paper's answer loss, and the optional auxiliary next-token loss.

The paper's loss is a cross-entropy over the vocabulary at one position per question, the last
input token (``?``), whose target is ``Yes`` or ``No``. ``train.aux_loss: w`` adds ``w`` times a
language-modelling loss on the premise and question tokens: while the answer is at chance it gives
no gradient toward finding the question's names in the premise, but predicting the 2nd and 3rd
character of a name seen before is exactly that copy (a departure from the paper, off by default).
``train.node_loss: w`` adds ``w`` times a per-node loss on question-first d-separation chains: does
each node block the asked path, is it given (``axiomatic.data.axioms.blocking``)?
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from axiomatic.data.axioms import blocking
from axiomatic.data.tokenizer import NO_ID, YES_ID
from axiomatic.model.layout import Layout

IGNORE = -100  # cross_entropy's ignore_index: an absent question, or a position without a target


def targets(labels: torch.Tensor) -> torch.Tensor:
    """Label 1/0 -> the token id the model must put its mass on."""
    return torch.where(labels.bool(), YES_ID, NO_ID)


def answer_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (B, K, vocab) at K questions per row, labels (B, K) with -1 for absent ones ->
    (mean loss over the present questions, (B, K) correct, False where absent). No boolean
    indexing, so nothing waits for the device."""
    present = labels >= 0
    wanted = torch.where(present, targets(labels.clamp(min=0)), IGNORE)
    loss = F.cross_entropy(logits.float().flatten(0, 1), wanted.flatten(), ignore_index=IGNORE)
    said_yes = logits[..., YES_ID] > logits[..., NO_ID]
    return loss, (said_yes == (labels == 1)) & present


def node_loss(logits: torch.Tensor, targets: torch.Tensor, count: int) -> torch.Tensor:
    """Mean binary cross-entropy of the (No, Yes) logits at the ``count`` positions with a node
    target (1: Yes, the node blocks the asked path or is given), from logits (B, T, vocab) at
    every position and targets (B, T) with ``blocking.IGNORE`` elsewhere. Only the two logits
    compete, so it leaves the next-token loss at the same positions free; 0 for a batch without
    targets (``count`` is read on the host, so nothing waits for the device)."""
    pair = logits[..., [NO_ID, YES_ID]].float().flatten(0, 1)
    total = F.cross_entropy(pair, targets.flatten(), ignore_index=blocking.IGNORE, reduction="sum")
    return total / max(count, 1)


def next_token_loss(logits: torch.Tensor, tokens: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Mean cross-entropy of predicting each premise and question token from the ones before it
    in its own sequence; logits (B, T, vocab) from ``Decoder.forward(..., every_position=True)``."""
    following, valid = layout.next_token_targets(tokens)
    wanted = torch.where(valid, following, IGNORE)
    return F.cross_entropy(logits[:, :-1].float().flatten(0, 1), wanted.flatten(), ignore_index=IGNORE)
