"""The paper's published evaluation files, fetched from its public repository.

``fetch_published`` downloads every source file of ``published_sources.json`` from
``AniketVashishtha/Causal_Axioms`` at a pinned commit, checks each download against its known
sha256 before reading it, converts it to the platform's JSONL records (premise, hypothesis, label,
suite, size, source), checks the converted bytes against the digest of the reference conversion,
and moves the whole set into the dataset cache at once (``data_dirs.fetched_published_dir``),
where every command finds it when no other published directory exists.

The table holds digests only (computed from the reference conversion in
``../shared/benchmarks/causal_axioms``); the published files themselves are never part of this
repository.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from axiomatic.data.data_dirs import fetched_published_dir
from axiomatic.data.plain_pickle import loads_plain
from axiomatic.errors import AxiomaticError
from axiomatic.files import write_directory_atomically

REPOSITORY = "AniketVashishtha/Causal_Axioms"
# The commit the reference conversion was made from: the source digests in
# published_sources.json are those of its files, so a new commit needs new digests.
COMMIT = "fbddd14c1774473231c7d558cbb5065227473c16"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}"
DOWNLOAD_TIMEOUT_S = 60
SOURCE_TABLE = Path(__file__).with_name("published_sources.json")

# Inputs as the sources write them; names are alphanumeric, so the question is the one final
# sentence of its shape (a node may be named "Are" or "Does", which a plain split would trip on).
_TRANSITIVITY_INPUT = re.compile(r"(?P<premise>.*\.) (?P<hypothesis>Does \S+ cause \S+\?)")
_DSEPARATION_INPUT = re.compile(
    r"(?P<premise>.*\.) (?P<hypothesis>Are \S+ and \S+ d-separated(?: given \{[^}]*\})?\?)")
_PROMPT_PREMISE = "Premise: "
_DICT_LITERAL_MARKER = "Final dictionary is :"


class FetchError(AxiomaticError):
    """A download failed, or its content is not the published one; the message names the file."""


@dataclass(frozen=True)
class SourceFile:
    """One published file: where it comes from, what it becomes, and the digests of both."""

    file: str  # the converted JSONL file's name
    suite: str  # "<axiom>/<family>"
    size: int  # nodes of the chain or graph
    source: str  # path in the repository
    format: str  # "pickle", "dict-literal" or "jsonl"
    source_sha256: str
    sha256: str  # of the converted JSONL file


@dataclass(frozen=True)
class FetchResult:
    directory: Path
    files: int
    downloaded: bool  # False: a complete, verified copy was already in the cache


def source_table() -> list[SourceFile]:
    return [SourceFile(**entry) for entry in json.loads(SOURCE_TABLE.read_text())]


def fetch_published(cache_dir: str | os.PathLike | None = None, base_url: str = DEFAULT_BASE_URL,
                    table: list[SourceFile] | None = None) -> FetchResult:
    """Download, convert, verify and store the published files; a no-op when the cache already
    holds them. ``table`` stands in for the packaged one (tests serve sources of their own).
    Raises FetchError, and then leaves the cache as it was."""
    table = source_table() if table is None else table
    final = fetched_published_dir(cache_dir)
    if _holds(final, table):
        return FetchResult(final, len(table), downloaded=False)
    write_directory_atomically(final, lambda tmp: _fill(tmp, base_url, table))
    return FetchResult(final, len(table), downloaded=True)


def _holds(directory: Path, table: list[SourceFile]) -> bool:
    """Whether ``directory`` is a complete copy of ``table``: every file there, with its digest."""
    try:
        listed = {entry["file"] for entry in json.loads((directory / "index.json").read_text())}
    except (OSError, ValueError, KeyError, TypeError):  # absent, or not an index we wrote
        return False
    return listed == {entry.file for entry in table} and all(
        (directory / entry.file).is_file() and _sha256((directory / entry.file).read_bytes()) == entry.sha256
        for entry in table)


def _fill(directory: Path, base_url: str, table: list[SourceFile]) -> None:
    index = []
    for entry in table:
        content = converted_content(entry, _download(base_url, entry))
        (directory / entry.file).write_bytes(content)
        records = [json.loads(line) for line in content.splitlines()]
        index.append({"file": entry.file, "suite": entry.suite, "size": entry.size, "n": len(records),
                      "yes": sum(r["label"] == "Yes" for r in records), "source": entry.source,
                      "sha256": entry.sha256})
    (directory / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    provenance = {"repository": REPOSITORY, "commit": COMMIT, "base_url": base_url}
    (directory / "fetched.json").write_text(json.dumps(provenance, indent=1) + "\n")


def converted_content(entry: SourceFile, raw: bytes) -> bytes:
    """The JSONL bytes a source file becomes, after checking the source's digest (so that nothing
    but the known bytes is ever parsed) and the result's."""
    _check_digest(raw, entry.source_sha256, f"{entry.file}: the downloaded {entry.source} is not "
                  "the published source")
    lines = [json.dumps({"premise": premise, "hypothesis": hypothesis, "label": label,
                         "suite": entry.suite, "size": entry.size, "source": entry.source})
             for premise, hypothesis, label in _instances(entry, raw)]
    content = "".join(line + "\n" for line in lines).encode()
    _check_digest(content, entry.sha256, f"{entry.file}: converted from {entry.source}, it differs "
                  "from the published file")
    return content


def _check_digest(content: bytes, expected: str, what: str) -> None:
    got = _sha256(content)
    if got != expected:
        raise FetchError(f"{what} (sha256 {got[:16]}..., expected {expected[:16]}...); "
                         "nothing was stored")


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _download(base_url: str, entry: SourceFile) -> bytes:
    from urllib.error import URLError
    from urllib.request import urlopen

    url = f"{base_url.rstrip('/')}/{quote(entry.source)}"
    try:
        with urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            return response.read()
    except (URLError, OSError, ValueError) as err:  # ValueError: a malformed --base-url
        raise FetchError(f"{entry.file}: downloading {url} failed: {err}") from None


# ---------------------------------------------------------------- the source formats

def _instances(entry: SourceFile, raw: bytes) -> list[tuple[str, str, str]]:
    """(premise, hypothesis, label) of every item, in the source's order."""
    readers = {"pickle": _from_pickle, "dict-literal": _from_dict_literal, "jsonl": _from_jsonl}
    if entry.format not in readers:
        raise FetchError(f"{entry.file}: unknown source format {entry.format!r}; known: {', '.join(readers)}")
    try:
        return readers[entry.format](raw)
    except FetchError:
        raise
    except Exception as err:  # any failure to read a source is that file's fault: say which
        raise FetchError(f"{entry.file}: {entry.source} ({entry.format}): {err}; nothing was stored") from None


def _from_pickle(raw: bytes) -> list[tuple[str, str, str]]:
    # A dict {premise + " " + question: label}. Never pickle.loads: see plain_pickle.
    return _from_question_dict(loads_plain(raw))


def _from_dict_literal(raw: bytes) -> list[tuple[str, str, str]]:
    # The same dict, printed after a caption; literal_eval builds literals and evaluates nothing.
    text = raw.decode("utf-8")
    if _DICT_LITERAL_MARKER not in text:
        raise ValueError(f"no {_DICT_LITERAL_MARKER!r} caption before the dict")
    return _from_question_dict(ast.literal_eval(text.split(_DICT_LITERAL_MARKER, 1)[1].strip()))


def _from_question_dict(items) -> list[tuple[str, str, str]]:
    if not isinstance(items, dict):
        raise ValueError(f"expected a dict of question -> label, got {type(items).__name__}")
    return [(*_split_input(question, _TRANSITIVITY_INPUT, number), _label(label, number))
            for number, (question, label) in enumerate(items.items(), 1)]


def _from_jsonl(raw: bytes) -> list[tuple[str, str, str]]:
    lines = [line for line in raw.decode("utf-8").splitlines() if line.strip()]
    return [_dseparation_item(json.loads(line), number) for number, line in enumerate(lines, 1)]


def _dseparation_item(item, number: int) -> tuple[str, str, str]:
    """Either {premise, hypothesis, label}, the premise without its final period, or
    {prompt: "...Premise: <premise> <question>", completion: label}."""
    if not isinstance(item, dict):
        raise ValueError(f"record {number}: expected an object")
    if "prompt" in item:
        _, found, text = str(item["prompt"]).partition(_PROMPT_PREMISE)
        if not found:
            raise ValueError(f"record {number}: no {_PROMPT_PREMISE!r} in the prompt")
        return (*_split_input(text, _DSEPARATION_INPUT, number), _label(item.get("completion"), number))
    premise, hypothesis = item.get("premise"), item.get("hypothesis")
    if not isinstance(premise, str) or not isinstance(hypothesis, str):
        raise ValueError(f"record {number}: expected string fields premise and hypothesis")
    premise = premise if premise.endswith(".") else premise + "."
    return premise, hypothesis, _label(item.get("label"), number)


def _split_input(text, pattern: re.Pattern, number: int) -> tuple[str, str]:
    match = pattern.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"record {number}: expected '<premise>. <question>', got {str(text)[:80]!r}")
    return match["premise"], match["hypothesis"]


def _label(label, number: int) -> str:
    if label not in ("Yes", "No"):
        raise ValueError(f"record {number}: label must be 'Yes' or 'No', got {label!r}")
    return label
