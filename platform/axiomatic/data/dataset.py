"""The token-array form every dataset and suite takes: uint8 tokens, lengths, labels, and the
row structure training reads (how many of a premise's questions one training row holds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from axiomatic.data import tokenizer

UNKNOWN_CATEGORY = 255
ARRAYS = ("tokens", "lengths", "labels", "categories", "nodes")  # what is saved, one .npy each


@dataclass
class Dataset:
    tokens: np.ndarray  # (N, T) uint8, right-padded with PAD_ID
    lengths: np.ndarray  # (N,) int32: input tokens per row
    labels: np.ndarray  # (N,) uint8: 1 = Yes, 0 = No
    categories: np.ndarray  # (N,) uint8: graphs.CATEGORY_NAMES index, or UNKNOWN_CATEGORY
    nodes: np.ndarray  # (N,) int32: nodes in the premise graph
    # k > 1: the k rows that share a premise are its questions, trained together in one row
    # (data.questions_per_premise); set by the task's generator and the store, not saved
    questions_per_row: int = 1

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index) -> "Dataset":
        picked = Dataset(*(getattr(self, name)[index] for name in ARRAYS), self.questions_per_row)
        return picked.trimmed()

    def trimmed(self) -> "Dataset":
        """Drop padding columns no row uses."""
        width = int(self.lengths.max()) if len(self) else 0
        self.tokens = np.ascontiguousarray(self.tokens[:, :width])
        return self

    def text(self, i: int) -> tuple[str, str, str]:
        premise, hypothesis = tokenizer.split_input(self.tokens[i, : self.lengths[i]])
        return premise, hypothesis, "Yes" if self.labels[i] else "No"

    def save(self, directory: Path) -> None:
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, directory: Path, questions_per_row: int = 1) -> "Dataset":
        return cls(*(np.load(directory / f"{name}.npy") for name in ARRAYS), questions_per_row)

    @classmethod
    def concat(cls, parts: list["Dataset"]) -> "Dataset":
        width = max(p.tokens.shape[1] for p in parts)
        tokens = np.zeros((sum(len(p) for p in parts), width), dtype=np.uint8)
        start = 0
        for p in parts:
            tokens[start : start + len(p), : p.tokens.shape[1]] = p.tokens
            start += len(p)
        rest = [np.concatenate([getattr(p, name) for p in parts]) for name in ARRAYS[1:]]
        structures = {p.questions_per_row for p in parts}
        if len(structures) > 1:
            raise ValueError(f"cannot join datasets of {sorted(structures)} questions per row")
        return cls(tokens, *rest, structures.pop())

    @classmethod
    def from_text(cls, records: list[tuple[str, str, str]]) -> "Dataset":
        """Encode (premise, hypothesis, label) strings; used for published and user JSONL files."""
        tokens, lengths = tokenizer.encode_many([(p, h) for p, h, _ in records])
        labels = np.array([tokenizer.encode_label(lab) for _, _, lab in records], dtype=np.uint8)
        n = len(records)
        return cls(tokens, lengths, labels, np.full(n, UNKNOWN_CATEGORY, np.uint8),
                   np.zeros(n, np.int32))

    def row_keys(self) -> list[bytes]:
        """One bytes key per row (its input tokens): equal keys mean equal (premise, question)."""
        return [self.tokens[i, : self.lengths[i]].tobytes() for i in range(len(self))]
