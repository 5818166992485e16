"""Score a model on datasets: the Yes/No decision at the last input token, as accuracy and, for
tasks whose Yes answers are the rarer and more telling ones (correlation-to-causation), as the Yes
class's precision, recall and F1.

Rows are read in large no-grad batches, grouped by length, or packed like training's
(``train.pack_length``): several questions back to back in rows of that many tokens, each read
at its own ``?`` through the same layouts, with the same logits. The counts stay on the device
and are read once per dataset."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from axiomatic.data import baselines, packing
from axiomatic.data.dataset import Dataset
from axiomatic.data.tokenizer import NO_ID, YES_ID
from axiomatic.train.batches import Phase, assemble_packed
from axiomatic.train.objective import IGNORE, targets


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Dataset, device: torch.device, batch_size: int = 512,
             autocast: bool = False, pack_length: int | None = None) -> dict[str, float]:
    """Accuracy, mean loss and the Yes class's scores on a dataset. With ``pack_length`` its rows
    are packed into rows of that many tokens (about ``batch_size`` questions a batch), unless one
    is longer than that: such a dataset is read grouped by length."""
    was_training = model.training
    model.eval()
    tally = torch.zeros(4, dtype=torch.float64, device=device)  # right, loss sum, said Yes, said Yes rightly
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        packable = pack_length is not None and 0 < len(data) and int(data.lengths.max()) <= pack_length
        batches = (packed(model, data, device, batch_size, pack_length) if packable
                   else by_length(model, data, device, batch_size))
        for logits, labels in batches:
            tally += counts(logits, labels)
    model.train(was_training)
    correct, loss_sum, said_yes, true_yes = tally.tolist()
    n = max(len(data), 1)
    return {"acc": correct / n, "loss": loss_sum / n, "n": len(data),
            **yes_class_scores(int(true_yes), int(said_yes), int(data.labels.sum()))}


@torch.no_grad()
def answers(model: torch.nn.Module, data: Dataset, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """(N,) bool: whether the model answers Yes to each row, in the dataset's row order."""
    was_training = model.training
    model.eval()
    said = [(logits[:, YES_ID] > logits[:, NO_ID]).cpu() for logits, _ in by_length(model, data, device, batch_size)]
    model.train(was_training)
    out = np.zeros(len(data), bool)
    out[np.argsort(data.lengths, kind="stable")] = torch.cat(said).numpy() if said else []
    return out


def by_group(said_yes: np.ndarray, data: Dataset, grouping: tuple[np.ndarray, tuple[str, ...]] | None
             ) -> dict[str, dict[str, float]]:
    """Accuracy per group of rows (``grouping``: each row's group index and the groups' names, as
    ``tasks.row_categories`` or ``tasks.row_hops`` give them), each beside the shortcut rules'
    accuracy on the same rows: {group: {"n", "accuracy", rule: accuracy, ...}}; empty for None."""
    if grouping is None:
        return {}
    codes, names = grouping
    labels = data.labels.astype(bool)
    rules = baselines.predictions(data) or {}
    out = {}
    for code in np.unique(codes):
        rows = codes == code
        out[names[code]] = {"n": int(rows.sum()), "accuracy": float((said_yes[rows] == labels[rows]).mean()),
                            **{rule: float((pred[rows] == labels[rows]).mean()) for rule, pred in rules.items()}}
    return out


def by_length(model: torch.nn.Module, data: Dataset, device: torch.device,
              batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(logits (B, vocab), labels (B,)) of batches of rows of similar length, right-padded."""
    order = np.argsort(data.lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = int(data.lengths[idx].max())
        tokens = torch.from_numpy(data.tokens[idx, :width].astype(np.int64)).to(device)
        lengths = torch.from_numpy(data.lengths[idx].astype(np.int64)).to(device)
        yield model(tokens, lengths), torch.from_numpy(data.labels[idx].astype(np.int64)).to(device)


def packed(model: torch.nn.Module, data: Dataset, device: torch.device, batch_size: int,
           pack_length: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(logits (R, slots, vocab), labels (R, slots), -1 where a slot is empty) of batches of
    packed rows, each batch about ``batch_size`` questions."""
    rows = max(1, round(batch_size * float(data.lengths.mean()) / pack_length))
    phase = Phase(data, 1, device, rows, pack_length)
    for plan in packing.in_order(phase.packing, phase.lengths_np, rows):
        batch = assemble_packed(phase, plan)
        yield model(batch.tokens, layout=batch.layout).answers, batch.labels


def counts(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(right answers, summed loss, Yes said, Yes said rightly) over the present questions
    (labels >= 0), as float64 on the device: adding them up reads nothing back."""
    present, yes = labels >= 0, labels == 1
    said_yes = (logits[..., YES_ID] > logits[..., NO_ID]) & present
    wanted = torch.where(present, targets(labels.clamp(min=0)), IGNORE)
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), wanted.reshape(-1),
                           ignore_index=IGNORE, reduction="sum")
    right = (said_yes == yes) & present
    return torch.stack([t.double() for t in (right.sum(), loss, said_yes.sum(), (said_yes & yes).sum())])


def yes_class_scores(true_yes: int, said_yes: int, yes: int) -> dict[str, float]:
    """Precision, recall and F1 of the Yes answers (0 where a ratio has nothing to divide by)."""
    precision = true_yes / said_yes if said_yes else 0.0
    recall = true_yes / yes if yes else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
