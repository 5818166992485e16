"""Corr2Cause rows rendered straight into token ids: the opening sentence, the premise's
statements in each row's own listing order (full, or one minimal statement per pair), the
hypothesis, and the names spelled in. See docs/corr2cause.md, "The task".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from axiomatic.data import names, text, tokenizer
from axiomatic.data.causal import dags
from axiomatic.data.causal.classes import TYPES, class_table, minimal, relations

if TYPE_CHECKING:
    from axiomatic.data.axioms.corr2cause import Corr2CauseSpec

ALPHANUMERICS = tokenizer.ALPHANUMERICS
LETTERS = "ABCDEFGH"


# ---------------------------------------------------------------- items and their selection

@dataclass
class Items:
    """Selected rows, before rendering: which class, pair, type, and how the row names nodes."""

    n: np.ndarray  # (R,) graph size
    cls: np.ndarray  # (R,) class index in class_table(n)
    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray  # (R,) index into TYPES
    labels: np.ndarray  # (R,) bool
    order: np.ndarray  # (R, 8) nodes in listing order (first n columns used)
    keys: np.ndarray  # (R,) uint64 class key



# ---------------------------------------------------------------- rendering into token ids

def _w(word: str) -> int:
    return tokenizer.TOKEN_ID[word]


def _words(sentence: str) -> list[int]:
    return [_w(t) for t in sentence.split()]


NAME_X, NAME_Y = -100, -101  # hypothesis name slots; other negative slots name node -(v + 1)
SKIP = -1000  # an unused slot
_SWAPPED = str.maketrans("XY", "YX")
HYPOTHESES = {  # TYPES -> words (text.CLAIMS, the first published wording); X, Y are the pair
    "parent": text.CLAIMS["direct"],
    "ancestor": text.CLAIMS["mediated"],
    "child": text.CLAIMS["direct"].translate(_SWAPPED),
    "descendant": text.CLAIMS["indirect"].translate(_SWAPPED),
    "collider": text.CLAIMS["collider"],
    "confounder": text.CLAIMS["confounder"],
}


def _hypothesis_slots() -> np.ndarray:
    width = max(len(h.split()) for h in HYPOTHESES.values())
    table = np.full((len(TYPES), width), SKIP, dtype=np.int64)
    for t, name in enumerate(TYPES):
        words = HYPOTHESES[name].split()
        table[t, : len(words)] = [NAME_X if w == "X" else NAME_Y if w == "Y" else _w(w) for w in words]
    return table


HYPOTHESIS_SLOTS = _hypothesis_slots()


@functools.lru_cache(maxsize=None)
def statements(n: int, semantics: str, graphs_per_size: int, premise: str) -> tuple[np.ndarray, ...]:
    """Every class's premise statements, flattened: (offsets (K+1,), kind, u, v, z) where kind is
    0 for "u correlates with v" and 1 for "u and v are independent given z" (z = 0: marginal)."""
    table = class_table(n, semantics, graphs_per_size)
    separated = table.separated if premise == "full" else minimal(table.separated)
    u, v = dags.forward_pairs(n)
    k_corr, p_corr = np.nonzero(~table.separated[:, :, 0])
    k_ind, p_ind, z_ind = np.nonzero(separated)
    cls = np.concatenate([k_corr, k_ind])
    order = np.argsort(cls, kind="stable")
    kind = np.r_[np.zeros(k_corr.size, np.int64), np.ones(k_ind.size, np.int64)][order]
    pair = np.r_[p_corr, p_ind][order]
    z = np.r_[np.zeros(k_corr.size, np.int64), z_ind][order]
    offsets = np.r_[0, np.cumsum(np.bincount(cls, minlength=len(table.keys)))]
    return offsets, kind, u[pair], v[pair], z


def render(items: Items, rows: np.ndarray, n: int, spec: Corr2CauseSpec, rng: np.random.Generator,
           with_hypothesis: bool = True, chunk_slots: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Token rows (premise, then hypothesis) for the selected rows of one graph size.

    Rows are rendered in chunks of similar premise length (sorted by statement count) to bound
    memory; names are drawn per row, so the same class reads differently on every row.
    """
    offsets, kind, su, sv, sz = statements(n, spec.semantics, spec.graphs_per_size, spec.premise)
    if spec.names == "random":
        chars, name_lengths = names.sample_names(rng, rows.size, n, spec.name_length,
                                                 tokenizer.char_ids(ALPHANUMERICS))
    else:
        chars = np.tile(tokenizer.char_ids(LETTERS[:n])[None, :, None], (rows.size, 1, 1))
        name_lengths = np.ones((rows.size, n), dtype=np.int64)
    count = offsets[items.cls[rows] + 1] - offsets[items.cls[rows]]
    by_length = np.argsort(-count, kind="stable")  # a chunk's first row is its longest
    pieces = []
    start = 0
    while start < rows.size:
        per_row = (int(count[by_length[start]]) + 1) * (2 * n + 4) + 64
        part = by_length[start : start + max(1, chunk_slots // per_row)]
        slots = _slots(items, rows[part], n, (offsets, kind, su, sv, sz), with_hypothesis)
        pieces.append((part, *_expand(slots, chars[part], name_lengths[part])))
        start += part.size
    total = max(p[1].shape[1] for p in pieces)
    tokens = np.zeros((rows.size, total), dtype=np.uint8)
    lengths = np.zeros(rows.size, dtype=np.int32)
    for part, part_tokens, part_lengths in pieces:
        tokens[part, : part_tokens.shape[1]] = part_tokens
        lengths[part] = part_lengths
    return tokens, lengths


def _slots(items: Items, rows: np.ndarray, n: int, stmts, with_hypothesis: bool) -> np.ndarray:
    """(B, L) slot values: a token id (>= 0), node v's name (-(v + 1)) or SKIP."""
    offsets, kind, su, sv, sz = stmts
    count = rows.size
    b = np.arange(count)[:, None]
    order = items.order[rows, :n]  # nodes in listing order
    position = np.argsort(order, axis=1)
    cls = items.cls[rows]
    n_statements = offsets[cls + 1] - offsets[cls]
    valid = np.arange(n_statements.max()) < n_statements[:, None]  # (B, S)
    index = np.where(valid, offsets[cls][:, None] + np.arange(valid.shape[1]), 0)
    k, u, v, z = kind[index], su[index], sv[index], sz[index]
    pu, pv = position[b, u], position[b, v]
    first, second = np.where(pu < pv, u, v), np.where(pu < pv, v, u)
    # the conditioning nodes of each statement, in listing order
    in_z = (z[:, :, None] >> order[:, None, :]) & 1  # (B, S, n): node at position j conditioned
    given = np.full(in_z.shape, -1, dtype=np.int64)
    given_position = np.zeros(in_z.shape, dtype=np.int64)
    rank = np.cumsum(in_z, axis=2) - 1
    bb, ss, jj = np.nonzero(in_z)
    given[bb, ss, rank[bb, ss, jj]] = order[bb, jj]
    given_position[bb, ss, rank[bb, ss, jj]] = jj + 1
    n_given = in_z.sum(axis=2)
    # Corr2Cause's order: correlations, then independences, each by (first, second, given list)
    digits = [np.where(valid, k, 2), np.minimum(pu, pv), np.maximum(pu, pv)]
    digits += [given_position[:, :, j] for j in range(n - 2)]
    key = np.zeros(valid.shape, dtype=np.int64)
    for d in digits:
        key = key * (n + 1) + d
    s = np.argsort(key, axis=1, kind="stable")
    k, first, second, n_given, valid = (np.take_along_axis(a, s, axis=1)
                                        for a in (k, first, second, n_given, valid))
    given = np.take_along_axis(given, s[:, :, None], axis=1)
    stated = _statement_slots(k, first, second, given, n_given, valid, n)
    prefix = _prefix_slots(order, n)
    parts = [prefix, stated.reshape(count, -1)]
    if with_hypothesis:
        hypothesis = HYPOTHESIS_SLOTS[items.kind[rows]]
        hypothesis = np.where(hypothesis == NAME_X, -(items.x[rows][:, None] + 1), hypothesis)
        parts.append(np.where(hypothesis == NAME_Y, -(items.y[rows][:, None] + 1), hypothesis))
    return np.concatenate(parts, axis=1)


def _statement_slots(k, first, second, given, n_given, valid, n) -> np.ndarray:
    """(B, S, 2n + 4): "However ," where it belongs, then each statement's words."""
    shape = k.shape
    width = 2 * n + 2
    ref_first, ref_second = -(first + 1), -(second + 1)

    def fixed(*words):  # a statement body with name slots from the arrays above
        body = np.full(shape + (width,), SKIP, dtype=np.int64)
        for j, w in enumerate(words):
            body[..., j] = w if isinstance(w, np.ndarray) else _w(w)
        return body

    correlation = fixed(ref_first, "correlates", "with", ref_second, ".")
    marginal = fixed(ref_first, "is", "independent", "of", ref_second, ".")
    conditional = fixed(ref_first, "and", ref_second, "are", "independent", "given")
    rel = np.arange(width - 6)  # slots after "given": Z1 , Z2 and Z3 .
    ng = n_given[..., None]
    name_at = given[..., rel // 2]  # the (rel // 2)-th conditioning node
    tail = np.full(shape + (width - 6,), SKIP, dtype=np.int64)
    tail = np.where((rel % 2 == 0) & (rel // 2 < ng), -(name_at + 1), tail)
    tail = np.where((rel % 2 == 1) & (rel < 2 * ng - 1), np.where(rel == 2 * ng - 3, _w("and"), _w(",")), tail)
    tail = np.where(rel == 2 * ng - 1, _w("."), tail)
    conditional[..., 6:] = tail
    body = np.where((k == 0)[..., None], correlation,
                    np.where((n_given == 0)[..., None], marginal, conditional))
    body = np.where(valid[..., None], body, SKIP)
    n_corr = ((k == 0) & valid).sum(axis=1, keepdims=True)
    however = (np.arange(shape[1])[None, :] == n_corr) & (n_corr > 0) & valid
    lead = np.where(however[..., None], np.array([_w("However"), _w(",")]), SKIP)
    return np.concatenate([lead, body], axis=2)


def _prefix_slots(order: np.ndarray, n: int) -> np.ndarray:
    """"Suppose there is a closed system of N variables, A, B and C. All the statistical
    relations among these N variables are as follows:" with the names in listing order."""
    number = [tokenizer.TOKEN_ID[d] for d in str(n)]
    head = _words("Suppose there is a closed system of") + number + _words("variables ,")
    middle = _words(".") + _words("All the statistical relations among these") + number
    tail = _words("variables are as follows :")
    listing = np.zeros((order.shape[0], 2 * n - 1), dtype=np.int64)
    listing[:, 0::2] = -(order + 1)
    listing[:, 1::2] = _w(",")
    listing[:, 2 * n - 3] = _w("and")
    count = order.shape[0]
    return np.concatenate([np.tile(head, (count, 1)), listing, np.tile(middle + tail, (count, 1))], axis=1)


def _expand(slots: np.ndarray, chars: np.ndarray, name_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spell the slots into a right-padded uint8 token matrix: a name takes its characters."""
    rows = np.arange(slots.shape[0])[:, None]
    is_name = (slots < 0) & (slots != SKIP)
    node = np.where(is_name, -slots - 1, 0)
    width = np.where(slots == SKIP, 0, np.where(is_name, name_lengths[rows, node], 1))
    end = np.cumsum(width, axis=1)
    start = end - width
    lengths = end[:, -1].astype(np.int32)
    tokens = np.zeros((slots.shape[0], int(lengths.max(initial=0))), dtype=np.uint8)
    r, c = np.nonzero(slots >= 0)
    tokens[r, start[r, c]] = slots[r, c]
    for j in range(chars.shape[2]):
        r, c = np.nonzero(is_name & (width > j))
        tokens[r, start[r, c] + j] = chars[r, node[r, c], j]
    return tokens, lengths

