"""The token-array form every dataset and suite takes: uint8 tokens, lengths, labels."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from axiomatic.data import tokenizer

UNKNOWN_CATEGORY = 255


@dataclass
class Dataset:
    tokens: np.ndarray  # (N, T) uint8, right-padded with PAD_ID
    lengths: np.ndarray  # (N,) int32: input tokens per row
    labels: np.ndarray  # (N,) uint8: 1 = Yes, 0 = No
    categories: np.ndarray  # (N,) uint8: graphs.CATEGORY_NAMES index, or UNKNOWN_CATEGORY
    nodes: np.ndarray  # (N,) int32: nodes in the premise graph

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index) -> "Dataset":
        picked = Dataset(*(getattr(self, f.name)[index] for f in fields(self)))
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
        for f in fields(self):
            np.save(directory / f"{f.name}.npy", getattr(self, f.name))

    @classmethod
    def load(cls, directory: Path) -> "Dataset":
        return cls(*(np.load(directory / f"{f.name}.npy") for f in fields(cls)))

    @classmethod
    def concat(cls, parts: list["Dataset"]) -> "Dataset":
        width = max(p.tokens.shape[1] for p in parts)
        tokens = np.zeros((sum(len(p) for p in parts), width), dtype=np.uint8)
        start = 0
        for p in parts:
            tokens[start : start + len(p), : p.tokens.shape[1]] = p.tokens
            start += len(p)
        rest = [np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)[1:]]
        return cls(tokens, *rest)

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
