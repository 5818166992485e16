"""A directory named by a local path or a URI (``s3://``, ``gs://``, ...), read and written through
the ``pyarrow`` filesystem that Ray Train and Tune use for their own storage.

A study's run directory is one (``--storage``): the driver keeps its ledger there and each cell
its history and checkpoints, so a cell on another node writes where the driver reads without a
shared mount. The URI's query carries what pyarrow's ``FileSystem.from_uri`` accepts (for an
S3-compatible server: ``?endpoint_override=host:port&scheme=http``); credentials come from the
environment (``AWS_ACCESS_KEY_ID`` ...), never from the URI, so a URI can be printed and recorded.
How often each S3 request is tried before it fails comes from the environment too
(``AXIOMATIC_STORAGE_ATTEMPTS``, else pyarrow's 3).

On a local disk each write is atomic (a temporary file renamed into place); in object storage a
PUT is atomic by nature. Object stores have no appending and no renaming of directories, so a
JSONL log is read and written whole (and a cell keeps its checkpoints in two slots:
:mod:`axiomatic.train.run_files`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from axiomatic.errors import UserError
from axiomatic.files import write_json_atomically

# "s3:/bucket", "s3:bucket": a scheme with its "://" mistyped. As a local path it would
# quietly become a directory "./s3:/bucket" and the study would run outside its storage.
MISTYPED_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

# How many times each S3 request is tried before it fails (pyarrow's default, 3, waits about 6 s in
# all on a server that refuses connections): more rides out longer pauses, 1 learns at once that a
# storage is gone. Read where a location is opened, so each node's environment sets its own.
ATTEMPTS_ENV = "AXIOMATIC_STORAGE_ATTEMPTS"


class Location:
    """A directory: ``Location("runs/x")`` or ``Location("s3://bucket/prefix?endpoint_override=...")``."""

    def __init__(self, uri: str | Path, _resolved: tuple[pafs.FileSystem, str] | None = None):
        text = str(uri)
        if "://" not in text:
            _refuse_mistyped_uri(text)
            text = str(Path(text).expanduser().resolve())
        self.uri = text
        self.fs, self.path = _resolved or _filesystem(text)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    @property
    def local_path(self) -> Path:
        """The directory itself, for a location on this machine's disk."""
        if not self.is_local:
            raise ValueError(f"{self.uri} is not on a local disk")
        return Path(self.path)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        """The directory this one is in (a URI keeps its query)."""
        if "://" not in self.uri:
            return Location(str(Path(self.uri).parent), (self.fs, str(Path(self.path).parent)))
        base, query = (self.uri.split("?", 1) + [""])[:2]
        uri = base.rstrip("/").rsplit("/", 1)[0] + (f"?{query}" if query else "")
        return Location(uri, (self.fs, self.path.rstrip("/").rsplit("/", 1)[0]))

    def __truediv__(self, name: str) -> Location:
        if "://" not in self.uri:
            return Location(str(Path(self.uri) / name), (self.fs, str(Path(self.path) / name)))
        base, query = (self.uri.split("?", 1) + [""])[:2]
        uri = base.rstrip("/") + "/" + name + (f"?{query}" if query else "")
        return Location(uri, (self.fs, self.path.rstrip("/") + "/" + name))

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"Location({self.uri!r})"

    # ------------------------------------------------------------------ reading

    def exists(self, name: str = "") -> bool:
        return self._info(name).type != pafs.FileType.NotFound

    def is_file(self, name: str) -> bool:
        return self._info(name).type == pafs.FileType.File

    def read_bytes(self, name: str) -> bytes:
        with self.fs.open_input_stream(self._join(name)) as stream:
            return stream.read()

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode()

    def read_json(self, name: str):
        return json.loads(self.read_text(name))

    def read_jsonl(self, name: str) -> list[dict]:
        """Every row of a JSONL log; none when it does not exist (yet)."""
        if not self.is_file(name):
            return []
        return [json.loads(line) for line in self.read_text(name).splitlines() if line.strip()]

    def subdirectories(self) -> list[str]:
        """Names of the directories directly inside, sorted; none when it does not exist."""
        if not self.exists():
            return []
        selector = pafs.FileSelector(self.path, allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(selector)
                      if info.type == pafs.FileType.Directory)

    # ------------------------------------------------------------------ writing

    def make(self) -> None:
        self.fs.create_dir(self.path, recursive=True)

    def write_bytes(self, name: str, data: bytes) -> None:
        if self.is_local:
            target = self.local_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".tmp-", delete=False) as handle:
                handle.write(data)
            Path(handle.name).replace(target)
            return
        with self.fs.open_output_stream(self._join(name)) as stream:
            stream.write(data)

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode())

    def write_json(self, name: str, obj) -> None:
        if self.is_local:
            write_json_atomically(self.local_path / name, obj)
        else:
            self.write_text(name, json.dumps(obj, indent=2, default=str))

    def write_jsonl(self, name: str, rows: list[dict]) -> None:
        self.write_text(name, "".join(json.dumps(row, default=str) + "\n" for row in rows))

    def append_jsonl(self, name: str, row: dict) -> None:
        """One more row; read and rewritten whole where the storage cannot append (object stores)."""
        if self.is_local:
            path = self.local_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as handle:
                handle.write(json.dumps(row, default=str) + "\n")
            return
        self.write_jsonl(name, self.read_jsonl(name) + [row])

    def upload(self, local: Path, name: str) -> None:
        """Copy a local file or directory tree to ``name`` here."""
        local = Path(local)
        if local.is_file():
            self.write_bytes(name, local.read_bytes())
            return
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            self.write_bytes(f"{name}/{path.relative_to(local).as_posix()}", path.read_bytes())

    def download(self, name: str, local: Path) -> None:
        """Copy the directory tree ``name`` here to a local directory (made if missing)."""
        source = self._join(name)
        for info in self.fs.get_file_info(pafs.FileSelector(source, recursive=True)):
            if info.type == pafs.FileType.File:
                target = Path(local) / info.path[len(source):].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                with self.fs.open_input_stream(info.path) as stream:
                    target.write_bytes(stream.read())

    def delete(self, name: str) -> None:
        """Remove a file or a directory tree; nothing happens when it is not there."""
        info = self._info(name)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(info.path)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(info.path)

    def copy_to(self, target: Location) -> None:
        """Copy this whole directory tree to ``target`` (both may be anywhere)."""
        pafs.copy_files(self.path, target.path, source_filesystem=self.fs, destination_filesystem=target.fs)

    # ------------------------------------------------------------------ helpers

    def _join(self, name: str) -> str:
        return self.path.rstrip("/") + "/" + name if name else self.path

    def _info(self, name: str) -> pafs.FileInfo:
        return self.fs.get_file_info(self._join(name))


def _refuse_mistyped_uri(text: str) -> None:
    if MISTYPED_URI.match(text):
        raise UserError(f"storage {text}: looks like a mistyped URI (expected SCHEME://bucket/prefix, "
                        "e.g. s3://bucket/studies); a local directory is named by a path without ':'")


def _filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in uri:
        return pafs.LocalFileSystem(), uri
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception as err:  # pyarrow raises ArrowInvalid, OSError or ValueError by scheme
        raise UserError(f"storage {without_query(uri)}: not a storage URI pyarrow can open "
                        f"({type(err).__name__}: {err})") from None
    if not urlsplit(uri).path.strip("/") and not path.strip("/"):
        raise UserError(f"storage {without_query(uri)}: name a bucket (s3://BUCKET/prefix)")
    return _with_attempts(fs), path


def _with_attempts(fs: pafs.FileSystem) -> pafs.FileSystem:
    """``fs`` trying each request as often as ``AXIOMATIC_STORAGE_ATTEMPTS`` says, where it is set
    (S3 only: the URI's query cannot carry a retry strategy)."""
    wanted = os.environ.get(ATTEMPTS_ENV, "").strip()
    if not wanted or not isinstance(fs, pafs.S3FileSystem):
        return fs
    if not wanted.isdigit() or int(wanted) < 1:
        raise UserError(f"{ATTEMPTS_ENV}={wanted!r}: expected a whole number of attempts, 1 or more")
    options = fs.__reduce__()[1][0]  # what the URI set, as pyarrow pickles it (without the strategy)
    return pafs.S3FileSystem(**options, retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=int(wanted)))


def without_query(uri: str) -> str:
    return uri.split("?", 1)[0]
