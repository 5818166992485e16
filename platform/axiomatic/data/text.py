"""Every sentence template in one place, and the grammar that parses them back.

Parsing is by template, not by word lists: a name is whatever fills a name slot, so a node named
``and``, ``Are`` or ``No`` is read as a name. Generated data never goes through strings (it is
built directly in token space); this module serves the published files, user JSONL and display.

Three grammars: transitivity (``A causes B.`` sentences, ``Does X cause Y?``), d-separation (the
same premise, ``Are X and Y d-separated given {Z}?``) and Corr2Cause (``Suppose there is a closed
system of N variables, ...`` and a causal claim ending in ``.``; see docs/corr2cause.md). In
Corr2Cause text ``a`` ("a closed system", "is a cause") and the variable count are spelled with
character tokens, and ``i.e.`` is one word token, so a hypothesis holds no ``.`` token but its last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = r"([0-9A-Za-z]+)"
CAUSES = re.compile(rf"^{NAME} causes {NAME}$")
DOES_CAUSE = re.compile(rf"^Does {NAME} cause {NAME}\?$")
D_SEPARATED = re.compile(rf"^Are {NAME} and {NAME} d-separated(?: given \{{([0-9A-Za-z, ]*)\}})?\?$")

CORR2CAUSE_OPENING = "Suppose there is a closed system of"
SYSTEM = re.compile(rf"^{CORR2CAUSE_OPENING} ([0-9]+) variables, ([0-9A-Za-z, ]+)$")
FOLLOWS = re.compile(r"^All the statistical relations among these ([0-9]+) variables are as follows: (.+)$")
CORRELATES = re.compile(rf"^{NAME} correlates with {NAME}$")
INDEPENDENT = re.compile(rf"^{NAME} is independent of {NAME}$")
INDEPENDENT_GIVEN = re.compile(rf"^{NAME} and {NAME} are independent given ([0-9A-Za-z, ]+)$")
# hypothesis form -> its words, X and Y standing for the two names in text order
CLAIMS = {
    "direct": "X directly causes Y .",
    "mediated": "X causes something else which causes Y .",
    "indirect": "X is a cause for Y , but not a direct one .",
    "collider": "There exists at least one collider ( i.e. , common effect ) of X and Y .",
    "confounder": "There exists at least one confounder ( i.e. , common cause ) of X and Y .",
}


def _claim_pattern(words: str) -> re.Pattern:
    """The sentence as written (no space before , . ) or after (), names in the X, Y slots."""
    text = words.replace(" ,", ",").replace(" .", ".").replace("( ", "(").replace(" )", ")")
    return re.compile("^" + re.escape(text).replace("X", NAME).replace("Y", NAME) + "$")


CLAIM_PATTERNS = {form: _claim_pattern(words) for form, words in CLAIMS.items()}


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


@dataclass(frozen=True)
class Corr2CauseParsed:
    """A Corr2Cause premise's relations and its hypothesis's claim.

    ``statements`` keeps the premise's order: ("correlates", x, y, ()) or ("independent", x, y,
    given), with ``however`` the index of the statement "However," opens (None if none does).
    ``claim`` is a CLAIMS form; ``first``/``second`` are its two names in text order (for
    direct, mediated and indirect the cause, then the effect).
    """

    variables: tuple[str, ...]
    statements: tuple[tuple[str, str, str, tuple[str, ...]], ...]
    however: int | None
    claim: str
    first: str
    second: str

    @property
    def correlations(self) -> list[tuple[str, str]]:
        return [(x, y) for kind, x, y, _ in self.statements if kind == "correlates"]

    @property
    def independences(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(x, y, given) for kind, x, y, given in self.statements if kind == "independent"]


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


def is_corr2cause(premise: str) -> bool:
    return premise.lstrip().startswith(CORR2CAUSE_OPENING)


def _parse_name_list(text: str) -> tuple[str, ...]:
    words = text.split(" ")
    if len(words) == 1:
        names = words
    elif len(words) >= 3 and words[-2] == "and" and all(w.endswith(",") for w in words[:-3]):
        names = [w.rstrip(",") for w in words[:-3]] + [words[-3], words[-1]]
    else:
        raise ValueError(f"not a list of names like 'A, B and C': {text!r}")
    if not all(re.fullmatch(NAME, n) for n in names):
        raise ValueError(f"not a list of names like 'A, B and C': {text!r}")
    return tuple(names)


def _statement(sentence: str) -> tuple[str, str, str, tuple[str, ...]]:
    if match := CORRELATES.match(sentence):
        return "correlates", match.group(1), match.group(2), ()
    if match := INDEPENDENT.match(sentence):
        return "independent", match.group(1), match.group(2), ()
    if match := INDEPENDENT_GIVEN.match(sentence):
        return "independent", match.group(1), match.group(2), _parse_name_list(match.group(3))
    raise ValueError("Corr2Cause statement must be '<X> correlates with <Y>.', '<X> is independent of "
                     f"<Y>.' or '<X> and <Y> are independent given <Z, ...>.', got {sentence!r}")


def parse_corr2cause(premise: str, hypothesis: str) -> Corr2CauseParsed:
    """Read a Corr2Cause premise and hypothesis back (ValueError naming the sentence if not one)."""
    sentences = premise_sentences(premise)
    system = SYSTEM.match(sentences[0])
    follows = FOLLOWS.match(sentences[1]) if len(sentences) > 1 else None
    if system is None or follows is None or system.group(1) != follows.group(1):
        raise ValueError("Corr2Cause premise must open 'Suppose there is a closed system of N variables, "
                         "A, B and C. All the statistical relations among these N variables are as "
                         f"follows: ...', got {premise[:120]!r}")
    variables = _parse_name_list(system.group(2))
    if int(system.group(1)) != len(variables):
        raise ValueError(f"premise names {len(variables)} variables but says {system.group(1)}")
    statements, however = [], None
    for i, sentence in enumerate([follows.group(2)] + sentences[2:]):
        if sentence.startswith("However, ") and however is None:
            however, sentence = i, sentence[len("However, "):]
        statements.append(_statement(sentence))
    hypothesis = hypothesis.strip()
    for form, pattern in CLAIM_PATTERNS.items():
        if match := pattern.match(hypothesis):
            return Corr2CauseParsed(variables, tuple(statements), however, form, match.group(1), match.group(2))
    raise ValueError(f"Corr2Cause hypothesis must be one of {list(CLAIMS.values())}, got {hypothesis!r}")


def _corr2cause_pieces(parsed: Corr2CauseParsed) -> list[Piece]:
    def words(text: str) -> list[Piece]:  # "a" is the character token, as in every name
        return [Piece("punct" if w in ".,:()" else "word", w) for w in text.split()]

    def names(items) -> list[Piece]:
        out = []
        for i, name in enumerate(items):
            if i:
                out += words("and" if i == len(items) - 1 else ",")
            out.append(Piece("name", name))
        return out

    count = [Piece("name", d) for d in str(len(parsed.variables))]  # digits, spelled as characters
    pieces = words(CORR2CAUSE_OPENING) + count + words("variables ,") + names(parsed.variables)
    pieces += words(". All the statistical relations among these") + count + words("variables are as follows :")
    for i, (kind, x, y, given) in enumerate(parsed.statements):
        if i == parsed.however:
            pieces += words("However ,")
        if kind == "correlates":
            pieces += [Piece("name", x)] + words("correlates with") + [Piece("name", y)]
        elif not given:
            pieces += [Piece("name", x)] + words("is independent of") + [Piece("name", y)]
        else:
            pieces += [Piece("name", x), Piece("word", "and"), Piece("name", y)]
            pieces += words("are independent given") + names(given)
        pieces += words(".")
    for w in CLAIMS[parsed.claim].split():
        pieces.append(Piece("name", parsed.first) if w == "X" else Piece("name", parsed.second) if w == "Y"
                      else words(w)[0])
    return pieces


def parse_input(premise: str, hypothesis: str) -> list[Piece]:
    """The token-level pieces of one input, in order."""
    if is_corr2cause(premise):
        return _corr2cause_pieces(parse_corr2cause(premise, hypothesis))
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
