"""Node-name sampling: distinct names of random length over an alphabet, as token ids.

Names live directly in token space, one char token per character (see tokenizer.py), so a name
such as ``No`` or ``and`` is just characters and needs no special handling. The only rule is that
names are distinct within an instance.
"""

from __future__ import annotations

import numpy as np


def sample_names(rng: np.random.Generator, count: int, nodes: int, length: tuple[int, int],
                 alphabet_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (chars, lengths): chars (count, nodes, max_len) uint8 token ids, zero past lengths."""
    lo, hi = length
    chars = np.zeros((count, nodes, hi), dtype=np.uint8)
    lengths = np.zeros((count, nodes), dtype=np.int64)
    todo = np.arange(count)
    while todo.size:
        lengths[todo] = rng.integers(lo, hi + 1, size=(todo.size, nodes))
        picks = rng.integers(0, alphabet_ids.size, size=(todo.size, nodes, hi))
        live = np.arange(hi) < lengths[todo][..., None]
        chars[todo] = np.where(live, alphabet_ids[picks], 0)
        todo = todo[_has_duplicate(chars[todo], lengths[todo])]
    return chars, lengths


def _has_duplicate(chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rows where two nodes share a name (token ids + length identify a name exactly)."""
    # Fold each name into one integer key (its char ids as digits, plus the length). Long names
    # wrap around uint64; that can only make two distinct names collide (a harmless resample),
    # never hide a real duplicate.
    key = lengths.astype(np.uint64)
    for j in range(chars.shape[-1]):
        key = key * np.uint64(257) + chars[..., j].astype(np.uint64)
    key.sort(axis=1)
    return (key[:, 1:] == key[:, :-1]).any(axis=1)
