"""Which premise node blocks the asked path: per-node targets for question-first d-separation rows.

A d-separation answer on a chain is an OR over the nodes between X and Y: the pair is d-separated
(``Yes``) when some node between them *blocks* the path, and a node blocks exactly when it is a
collider (both edges point into it) XOR it is in the given set (a chain's collider has no
descendants). Learned from the final label alone, that XOR-then-OR is slow (docs/training.md,
"d-separation on a CPU"). ``train.node_loss`` supervises the inner steps at each node of a chain:

- ``blocks``, at the node's last mention in the premise, where both of its edges have been stated:
  does it block the asked path (``Yes``), or not (``No``, also for every node outside the path
  between X and Y, and for X and Y);
- ``given``, at the first mention of a node named twice (every node but the chain's two ends): is
  it in the question's given set. Membership is the half of the XOR that needs the question; with
  ``blocks`` alone some seeds took thousands of steps longer to find it (docs/training.md).

The targets are read from the tokens alone, so the same text gives the same targets wherever it
comes from. They need the question before the premise (``train.question_first``): stated after
it, the question is invisible to every premise token under causal attention, and no premise
token could know which path is asked. Only rows whose premise states a chain in path order
(each sentence shares one node with the next: chain, reversed or flipped order) get targets;
random DAGs and shuffled chains, where blocking depends on which path and on what comes later,
get none, and neither does any row that is not a d-separation question.
"""

from __future__ import annotations

import numpy as np

from axiomatic.data import tokenizer

IGNORE = -1  # a position without a node target
ARE, AND, D_SEPARATED, CAUSES = (tokenizer.word(w) for w in ("Are", "and", "d-separated", "causes"))
PERIOD, QUESTION_MARK = tokenizer.TOKEN_ID["."], tokenizer.TOKEN_ID["?"]
OPEN, CLOSE, COMMA = (tokenizer.TOKEN_ID[p] for p in ("{", "}", ","))


KINDS = ("blocks", "given")


def node_targets(tokens: np.ndarray, lengths: np.ndarray, kinds: tuple[str, ...] = KINDS) -> np.ndarray:
    """(B, T) int64: at the last character of a node's mention, 1 or 0 for the target of each
    kind asked for (``blocks`` at its last mention, ``given`` at the first of two), IGNORE
    everywhere else (and in every row without targets)."""
    out = np.full(tokens.shape, IGNORE, dtype=np.int64)
    for row, length in enumerate(lengths):
        for position, kind, value in _row_targets(tokens[row, :length].tolist()):
            if kind in kinds:
                out[row, position] = value
    return out


def _row_targets(row: list[int]) -> list[tuple[int, str, int]]:
    """(position, kind, target) of one question-first row; empty when the row has none."""
    if QUESTION_MARK not in row:
        return []
    end = row.index(QUESTION_MARK)
    question = _question(row[:end])
    sentences = _sentences(row, end + 1)
    if question is None or sentences is None:
        return []
    path = _path(sentences)
    x, y, given = question
    if path is None or x not in path or y not in path or not given <= set(path):
        return []
    low, high = sorted((path.index(x), path.index(y)))
    targets = []
    for k, node in enumerate(path):
        into = [effect == node for effect in _effects_at(sentences, k)]
        collider = len(into) == 2 and all(into)
        blocks = low < k < high and collider != (node in given)
        targets.append((_last_mention(sentences, k, node), "blocks", int(blocks)))
        if 0 < k < len(path) - 1:  # named twice, in sentences k - 1 and k
            targets.append((_mention(sentences[k - 1], node), "given", int(node in given)))
    return targets


def _question(tokens: list[int]) -> tuple[tuple, tuple, set] | None:
    """(X, Y, given names) of ``Are X and Y d-separated given {Z1, Z2}`` in either order of its
    clauses (``train.given_first``), names as tuples of token ids; None for other questions."""
    if ARE not in tokens or AND not in tokens or D_SEPARATED not in tokens:
        return None
    x = tuple(tokens[tokens.index(ARE) + 1 : tokens.index(AND)])
    y = tuple(tokens[tokens.index(AND) + 1 : tokens.index(D_SEPARATED)])
    given = set()
    if OPEN in tokens:
        inside = tokens[tokens.index(OPEN) + 1 : tokens.index(CLOSE)]
        given = {tuple(name) for name in _split(inside, COMMA)}
    return x, y, given


def _sentences(row: list[int], start: int) -> list[tuple[tuple, int, tuple, int]] | None:
    """Each ``A causes B .`` of the premise as (cause, position of its last character, effect,
    position of its last character); None when the premise is not made of such sentences."""
    sentences, begin = [], start
    for end in [i for i in range(start, len(row)) if row[i] == PERIOD]:
        words = row[begin:end]
        if words.count(CAUSES) != 1:
            return None
        split = begin + words.index(CAUSES)
        cause, effect = tuple(row[begin:split]), tuple(row[split + 1 : end])
        if not cause or not effect:
            return None
        sentences.append((cause, split - 1, effect, end - 1))
        begin = end + 1
    return sentences if sentences and begin == len(row) else None


def _path(sentences) -> list[tuple] | None:
    """The chain's nodes in the order the premise walks them, or None when the sentences are not
    a chain stated in path order (sentence k joins node k and node k + 1)."""
    pairs = [(cause, effect) for cause, _, effect, _ in sentences]
    if len(pairs) == 1:
        return list(pairs[0])
    shared = [set(a) & set(b) for a, b in zip(pairs, pairs[1:])]
    if any(len(s) != 1 for s in shared):
        return None
    inner = [s.pop() for s in shared]
    path = [*(set(pairs[0]) - {inner[0]}), *inner, *(set(pairs[-1]) - {inner[-1]})]
    return path if len(path) == len(pairs) + 1 == len(set(path)) else None


def _effects_at(sentences, k: int) -> list[tuple]:
    """The effects of the sentences naming path node k: sentence k - 1 and sentence k."""
    return [effect for _, _, effect, _ in sentences[max(k - 1, 0) : k + 1]]


def _last_mention(sentences, k: int, node: tuple) -> int:
    """Where path node k is last named: in sentence k, or in the last sentence for the last node."""
    return _mention(sentences[min(k, len(sentences) - 1)], node)


def _mention(sentence, node: tuple) -> int:
    """The position of the last character of ``node``'s name in one sentence that names it."""
    cause, cause_end, _, effect_end = sentence
    return cause_end if cause == node else effect_end


def _split(tokens: list[int], separator: int) -> list[list[int]]:
    parts, current = [], []
    for token in tokens:
        if token == separator:
            parts.append(current)
            current = []
        else:
            current.append(token)
    return [*parts, current]
