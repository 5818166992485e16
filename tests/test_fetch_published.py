"""`platform data fetch-published` against a local HTTP server laid out like the paper's repository.

The original sources are not here, so each test builds them in the upstream formats (a pickled
dict, the printed dict of the 10-node standard chains, the two d-separation JSONL shapes) from
the reference conversion in ../shared/benchmarks/causal_axioms, copied into tmp_path, and serves
them; the converted files must come out byte for byte the reference ones.
"""

import functools
import hashlib
import http.server
import json
import os
import pickle
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from axiomatic import cli
from axiomatic.data import data_dirs, upstream
from axiomatic.data.plain_pickle import RefusedPickle, loads_plain

# One entry of each upstream shape: pickle, dict literal, d-separation prompt and plain JSONL.
SAMPLE_FILES = ("transitivity__reversed_chain__3.jsonl", "transitivity__standard_chain__10.jsonl",
                "dseparation__flipped_chain__7.jsonl", "dseparation__branching_bf1.4__5.jsonl")
PROMPT = "Answer the following question with ONLY 'Yes' or 'No'.\n\nPremise: "


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def upstream_source(entry: upstream.SourceFile, records: list[dict]) -> bytes:
    """The bytes the paper's repository holds for ``entry``, rebuilt from its converted records."""
    questions = {f"{r['premise']} {r['hypothesis']}": r["label"] for r in records}
    if entry.format == "pickle":
        return pickle.dumps(questions)
    if entry.format == "dict-literal":
        return f"Final dictionary is : {questions!r}\n".encode()
    if entry.suite == "dseparation/flipped_chain":
        rows = [{"prompt": f"{PROMPT}{r['premise']} {r['hypothesis']}", "completion": r["label"]} for r in records]
    else:  # the branching d-separation files: premises without their final period
        rows = [{"premise": r["premise"].removesuffix("."), "hypothesis": r["hypothesis"], "label": r["label"]}
                for r in records]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


class Repository:
    """Files under ``root/<commit>/<path>``, served on 127.0.0.1; counts the requests."""

    def __init__(self, root: Path):
        self.root, self.requests = root, 0
        repository = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                repository.requests += 1
                super().do_GET()

            def log_message(self, *args):  # keep pytest's output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/{upstream.COMMIT}"

    def path(self, source: str) -> Path:
        return self.root / upstream.COMMIT / source

    def put(self, source: str, content: bytes) -> None:
        self.path(source).parent.mkdir(parents=True, exist_ok=True)
        self.path(source).write_bytes(content)


@pytest.fixture
def reference(published_dir, tmp_path) -> Path:
    """The reference files of the sample, copied: nothing below reads ../shared directly."""
    copy = tmp_path / "reference"
    copy.mkdir()
    for name in SAMPLE_FILES:
        (copy / name).write_bytes((published_dir / name).read_bytes())
    return copy


@pytest.fixture
def repository(tmp_path):
    served = Repository(tmp_path / "served")
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def table(reference, repository) -> list[upstream.SourceFile]:
    """The packaged entries of the sample, their sources served, with those sources' digests."""
    packaged = {entry.file: entry for entry in upstream.source_table()}
    entries = []
    for name in SAMPLE_FILES:
        records = [json.loads(line) for line in (reference / name).read_text().splitlines()]
        source = upstream_source(packaged[name], records)
        repository.put(packaged[name].source, source)
        entries.append(replace(packaged[name], source_sha256=sha256(source)))
    return entries


@pytest.fixture
def only_fetched(monkeypatch, table):
    """No ../shared and no $AXIOMATIC_PUBLISHED_DIR: commands find only what was fetched; the
    command fetches the sample table instead of the packaged one."""
    monkeypatch.setattr(data_dirs, "shared_published_dir", lambda: None)
    monkeypatch.delenv(data_dirs.PUBLISHED_ENV, raising=False)
    monkeypatch.setattr(upstream, "source_table", lambda: table)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fetch(capsys, repository, cache: Path) -> tuple[int, str, str]:
    return run_cli(capsys, "data", "fetch-published", "--base-url", repository.base_url,
                   "--cache-dir", str(cache), "--json")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(directory.rglob("*"))}


def test_fetch_stores_the_reference_files_and_commands_find_them(only_fetched, reference, repository,
                                                                 tmp_path, capsys):
    cache = tmp_path / "cache"
    code, out, err = fetch(capsys, repository, cache)
    assert code == 0, err
    doc = json.loads(out)
    fetched = data_dirs.fetched_published_dir(cache)
    assert doc == {"directory": str(fetched), "files": 4, "downloaded": True,
                   "commit": upstream.COMMIT, "read_by_default": True}
    for name in SAMPLE_FILES:
        assert (fetched / name).read_bytes() == (reference / name).read_bytes()
    assert {e["file"] for e in json.loads((fetched / "index.json").read_text())} == set(SAMPLE_FILES)
    assert not [p for p in fetched.parent.iterdir() if p.name.startswith(".")]  # no temporary dir left

    code, out, err = run_cli(capsys, "data", "suites", "--cache-dir", str(cache), "--json")
    assert code == 0, err
    assert {"published/transitivity/standard_chain/len=10", "published/dseparation/flipped_chain/len=7",
            "published/dseparation/branching_bf1.4/n=5"} <= set(json.loads(out)["suites"])
    code, out, err = run_cli(capsys, "data", "show", "published/transitivity/reversed_chain/len=3",
                             "--cache-dir", str(cache), "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == 500 and json.loads(out)["baselines"]["mention_order"] == 0.336

    requests, before = repository.requests, snapshot(cache / "published")
    code, out, err = fetch(capsys, repository, cache)
    assert code == 0, err
    assert json.loads(out)["downloaded"] is False
    assert repository.requests == requests and snapshot(cache / "published") == before


def test_commands_read_shared_before_the_fetched_copy(only_fetched, repository, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    assert fetch(capsys, repository, cache)[0] == 0
    fetched = data_dirs.fetched_published_dir(cache)
    assert data_dirs.published_dir(root=cache) == fetched
    shared = tmp_path / "shared"
    monkeypatch.setattr(data_dirs, "shared_published_dir", lambda: shared)
    assert data_dirs.published_dir(root=cache) == shared
    monkeypatch.setenv(data_dirs.PUBLISHED_ENV, str(tmp_path / "from-env"))
    assert data_dirs.published_dir(root=cache) == tmp_path / "from-env"
    assert data_dirs.published_dir(tmp_path / "named", root=cache) == tmp_path / "named"


def test_packaged_digests_are_those_of_the_reference_files(published_dir):
    index = {entry["file"]: entry for entry in json.loads((published_dir / "index.json").read_text())}
    table = upstream.source_table()
    assert len(table) == len(index) == 47
    for entry in table:
        assert sha256((published_dir / entry.file).read_bytes()) == entry.sha256, entry.file
        assert (entry.suite, entry.size, entry.source) == tuple(index[entry.file][k] for k in ("suite", "size", "source"))


@pytest.mark.parametrize("tampering", ["source bytes", "expected conversion"])
def test_a_download_that_does_not_match_is_refused_and_the_cache_kept(only_fetched, table, repository, tmp_path,
                                                                      monkeypatch, capsys, tampering):
    cache = tmp_path / "cache"
    assert fetch(capsys, repository, cache)[0] == 0
    fetched = data_dirs.fetched_published_dir(cache)
    (fetched / SAMPLE_FILES[1]).unlink()  # an incomplete copy: the next fetch downloads again
    before = snapshot(cache)
    if tampering == "source bytes":
        source = repository.path(table[1].source)
        source.write_bytes(source.read_bytes().replace(b"'Yes'", b"'No'", 1))
    else:
        wrong = [replace(e, sha256="0" * 64) if e.file == SAMPLE_FILES[1] else e for e in table]
        monkeypatch.setattr(upstream, "source_table", lambda: wrong)

    code, _, err = fetch(capsys, repository, cache)
    assert code == 2
    assert SAMPLE_FILES[1] in err and "nothing was stored" in err
    assert snapshot(cache) == before  # the old copy as it was, no temporary directory left


def test_a_missing_source_is_named(only_fetched, table, repository, tmp_path, capsys):
    repository.path(table[2].source).unlink()
    code, _, err = fetch(capsys, repository, tmp_path / "cache")
    assert code == 2
    assert SAMPLE_FILES[2] in err and "404" in err
    assert not (tmp_path / "cache" / "published" / "causal_axioms").exists()


def test_a_base_url_that_is_no_url_is_refused(tmp_path, capsys):
    code, _, err = run_cli(capsys, "data", "fetch-published", "--base-url", "example.org/repo",
                           "--cache-dir", str(tmp_path / "cache"))
    assert code == 2 and "--base-url" in err
    assert not (tmp_path / "cache").exists()


class RunsACommand:
    """What a malicious pickle holds: loading it with pickle.loads would run ``command``."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_a_pickle_that_calls_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps(RunsACommand(f"touch {marker}"))
    with pytest.raises(RefusedPickle, match=r"refused global '(posix|os|nt)\.system'"):
        loads_plain(payload)
    assert not marker.exists()


def test_a_served_malicious_pickle_is_refused_by_the_command(only_fetched, table, repository, tmp_path,
                                                             monkeypatch, capsys):
    marker = tmp_path / "ran"
    payload = pickle.dumps(RunsACommand(f"touch {marker}"))
    repository.put(table[0].source, payload)
    # Even with its digest in the table (the packaged digests would stop it before unpickling),
    # the unpickler refuses it.
    malicious = [replace(table[0], source_sha256=sha256(payload)), *table[1:]]
    monkeypatch.setattr(upstream, "source_table", lambda: malicious)
    code, _, err = fetch(capsys, repository, tmp_path / "cache")
    assert code == 2
    assert table[0].file in err and "refused global" in err
    assert not marker.exists()
    assert not (tmp_path / "cache" / "published" / "causal_axioms").exists()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_loads_in_every_protocol(protocol):
    plain = {"A causes B. Does A cause B?": "Yes", "list": [1, 2.5, -3, 2**70], "tuple": (True, False, None)}
    assert loads_plain(pickle.dumps(plain, protocol=protocol)) == plain
