"""Every sentence template in one place, and the grammar that parses them back.

Parsing is by template, not by word lists: a name is whatever fills a name slot, so a node named
``and``, ``Are`` or ``No`` is read as a name. Generated data never goes through strings (it is
built directly in token space); this module serves the published files, user JSONL and display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = r"([0-9A-Za-z]+)"
CAUSES = re.compile(rf"^{NAME} causes {NAME}$")
DOES_CAUSE = re.compile(rf"^Does {NAME} cause {NAME}\?$")
D_SEPARATED = re.compile(rf"^Are {NAME} and {NAME} d-separated(?: given \{{([0-9A-Za-z, ]*)\}})?\?$")


@dataclass(frozen=True)
class Piece:
    kind: str  # "word", "name" or "punct"
    value: str


@dataclass(frozen=True)
class Parsed:
    """A premise's edges and the question's pair, for baselines and checks."""

    edges: list[tuple[str, str]]
    question: str  # "transitivity" or "dseparation"
    x: str
    y: str
    given: tuple[str, ...] = ()


def causes_sentence(a: str, b: str) -> str:
    return f"{a} causes {b}."


def does_cause_question(x: str, y: str) -> str:
    return f"Does {x} cause {y}?"


def premise_sentences(premise: str) -> list[str]:
    premise = premise.strip()
    if not premise.endswith("."):
        raise ValueError(f"premise must end with '.': {premise[-40:]!r}")
    return [s.strip() for s in premise[:-1].split(".")]


def parse_edges(premise: str) -> list[tuple[str, str]]:
    edges = []
    for sentence in premise_sentences(premise):
        match = CAUSES.match(sentence)
        if match is None:
            raise ValueError(f"premise sentence is not '<A> causes <B>.': {sentence!r}")
        edges.append((match.group(1), match.group(2)))
    return edges


def parse_question(hypothesis: str) -> tuple[str, str, str, tuple[str, ...]]:
    hypothesis = hypothesis.strip()
    if match := DOES_CAUSE.match(hypothesis):
        return "transitivity", match.group(1), match.group(2), ()
    if match := D_SEPARATED.match(hypothesis):
        given = tuple(g.strip() for g in (match.group(3) or "").split(",") if g.strip())
        return "dseparation", match.group(1), match.group(2), given
    raise ValueError(
        "hypothesis must be 'Does <X> cause <Y>?' or 'Are <X> and <Y> d-separated [given {..}]?', "
        f"got {hypothesis!r}"
    )


def parse(premise: str, hypothesis: str) -> Parsed:
    question, x, y, given = parse_question(hypothesis)
    return Parsed(parse_edges(premise), question, x, y, given)


def parse_input(premise: str, hypothesis: str) -> list[Piece]:
    """The token-level pieces of one input, in order."""
    parsed = parse(premise, hypothesis)
    pieces: list[Piece] = []
    for a, b in parsed.edges:
        pieces += [Piece("name", a), Piece("word", "causes"), Piece("name", b), Piece("punct", ".")]
    if parsed.question == "transitivity":
        pieces += [Piece("word", "Does"), Piece("name", parsed.x), Piece("word", "cause"),
                   Piece("name", parsed.y)]
    else:
        pieces += [Piece("word", "Are"), Piece("name", parsed.x), Piece("word", "and"),
                   Piece("name", parsed.y), Piece("word", "d-separated")]
        if parsed.given:
            pieces += [Piece("word", "given"), Piece("punct", "{")]
            for i, z in enumerate(parsed.given):
                if i:
                    pieces.append(Piece("punct", ","))
                pieces.append(Piece("name", z))
            pieces.append(Piece("punct", "}"))
    pieces.append(Piece("punct", "?"))
    return pieces
