"""Score a model on datasets: the Yes/No decision at the last input token, as accuracy and, for
tasks whose Yes answers are the rarer and more telling ones (correlation-to-causation), as the Yes
class's precision, recall and F1."""

from __future__ import annotations

import numpy as np
import torch

from axiomatic.data.dataset import Dataset
from axiomatic.data.tokenizer import NO_ID, YES_ID
from axiomatic.train.objective import loss_and_correct


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Dataset, device: torch.device, batch_size: int = 512,
             autocast: bool = False) -> dict[str, float]:
    """Accuracy and mean loss on a dataset, in large no-grad batches grouped by length."""
    was_training = model.training
    model.eval()
    order = np.argsort(data.lengths, kind="stable")
    correct, loss_sum, said_yes, true_yes = 0, 0.0, 0, 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = int(data.lengths[idx].max())
        tokens = torch.from_numpy(data.tokens[idx, :width].astype(np.int64)).to(device)
        lengths = torch.from_numpy(data.lengths[idx].astype(np.int64)).to(device)
        labels = torch.from_numpy(data.labels[idx].astype(np.int64)).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(tokens, lengths)
        loss, hits = loss_and_correct(logits, labels)
        correct += int(hits.sum())
        said = logits[:, YES_ID] > logits[:, NO_ID]
        said_yes += int(said.sum())
        true_yes += int((said & labels.bool()).sum())
        loss_sum += float(loss) * len(idx)
    model.train(was_training)
    n = max(len(order), 1)
    return {"acc": correct / n, "loss": loss_sum / n, "n": len(order),
            **yes_class_scores(true_yes, said_yes, int(data.labels.sum()))}


def yes_class_scores(true_yes: int, said_yes: int, yes: int) -> dict[str, float]:
    """Precision, recall and F1 of the Yes answers (0 where a ratio has nothing to divide by)."""
    precision = true_yes / said_yes if said_yes else 0.0
    recall = true_yes / yes if yes else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
