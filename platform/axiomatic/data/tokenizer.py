"""A fixed vocabulary that never depends on the training data.

Word-level terms of every axiom's templates are single tokens; node names are spelled character
by character from the 62 alphanumerics, so a node called ``No``, ``Yes`` or ``y`` is three, three
and one character tokens, never the label words. The labels ``Yes`` / ``No`` exist only as
targets. Ids fit in uint8, which is how datasets are stored.

Strings are parsed by the sentence grammar in :mod:`axiomatic.data.text` (names are whatever sits
in a name slot), so reserved words used as names cannot confuse the tokenizer.
"""

from __future__ import annotations

import string

import numpy as np

from axiomatic.data import text

VERSION = "axiomatic-vocab-2"  # 2: the article "a" dropped from WORDS (it shadowed the character)

PAD = "<pad>"
LABELS = ("Yes", "No")
ALPHANUMERICS = string.digits + string.ascii_uppercase + string.ascii_lowercase

# Every word of the transitivity, d-separation and correlation-to-causation templates, plus room
# to grow: appending keeps existing ids stable, re-ordering would need a new VERSION.
WORDS = (
    "causes", "cause", "Does", "Are", "and", "d-separated", "given",
    "correlates", "with", "independent", "of", "are", "is", "Suppose", "there", "closed",
    "system", "variables", "All", "the", "statistical", "relations", "among", "these", "as",
    "follows", "However", "directly", "something", "else", "which", "for", "but", "not",
    "direct", "one", "There", "exists", "at", "least", "collider", "confounder", "i.e.",
    "common", "effect",
)
PUNCTUATION = (".", "?", ",", "{", "}", "(", ")", ":")

VOCAB: tuple[str, ...] = (PAD, *WORDS, *PUNCTUATION, *ALPHANUMERICS, *LABELS)
TOKEN_ID = {tok: i for i, tok in enumerate(VOCAB)}
assert len(VOCAB) < 256, "token ids must fit in uint8"

VOCAB_SIZE = len(VOCAB)
PAD_ID = TOKEN_ID[PAD]
YES_ID = TOKEN_ID["Yes"]
NO_ID = TOKEN_ID["No"]
CHAR_ID = np.array([TOKEN_ID[c] for c in ALPHANUMERICS], dtype=np.uint8)
_IS_CHAR = np.zeros(256, dtype=bool)
_IS_CHAR[CHAR_ID] = True


def word(w: str) -> int:
    return TOKEN_ID[w]


def char_ids(alphabet: str) -> np.ndarray:
    """Token ids of an alphabet's characters (each must be one of the 62 alphanumerics)."""
    return np.array([TOKEN_ID[c] for c in alphabet], dtype=np.uint8)


def encode_name(name: str) -> list[int]:
    return [TOKEN_ID[c] for c in name]


def encode(premise: str, hypothesis: str) -> list[int]:
    """Token ids of one input: the premise's sentences, then the question."""
    ids: list[int] = []
    for piece in text.parse_input(premise, hypothesis):
        if piece.kind == "name":
            ids.extend(encode_name(piece.value))
        else:
            ids.append(TOKEN_ID[piece.value])
    return ids


def encode_label(label: str) -> int:
    if label not in LABELS:
        raise ValueError(f"label must be 'Yes' or 'No', got {label!r}")
    return 1 if label == "Yes" else 0


def decode(ids) -> str:
    """Render token ids as text: names re-joined, spaces between words, none before punctuation."""
    out: list[str] = []
    prev_char = False
    for i in ids:
        i = int(i)
        if i == PAD_ID:
            break
        tok = VOCAB[i]
        is_char = bool(_IS_CHAR[i])
        if is_char and prev_char:
            out[-1] += tok
        elif tok in PUNCTUATION and tok not in "{(" and out:
            out[-1] += tok
        elif out and out[-1].endswith(("{", "(")):
            out[-1] += tok
        else:
            out.append(tok)
        prev_char = is_char
    return " ".join(out)


def split_input(ids) -> tuple[str, str]:
    """Decode one input row back into (premise, hypothesis) strings."""
    rendered = decode(ids)
    cut = rendered.rfind(". ") + 1
    return rendered[:cut], rendered[cut + 1:]


def encode_many(pairs, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode (premise, hypothesis) pairs into a right-padded uint8 matrix and lengths."""
    rows = [encode(p, h) for p, h in pairs]
    lengths = np.array([len(r) for r in rows], dtype=np.int32)
    width = max_len or (int(lengths.max()) if len(rows) else 0)
    tokens = np.zeros((len(rows), width), dtype=np.uint8)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = row
    return tokens, lengths
