"""A study's run directory as a whole: where it is kept (a location, else the runs directory),
checked writable before anything is written; the fingerprint that says what its arms mean, and
the diff shown when a file means something else; archiving a run aside; reading back the study
file a run was started with."""

from __future__ import annotations

import difflib
import json
import os
import time
from pathlib import Path

import yaml

from axiomatic.data.store import Store
from axiomatic.digest import json_digest
from axiomatic.errors import UserError
from axiomatic.location import Location, without_query
from axiomatic.study.ledger import Ledger
from axiomatic.study.spec import StudySpec, validate_study
from axiomatic.strict_yaml import read_yaml


def ledger_for(spec: StudySpec, location: str | None, runs_dir: str | Path,
               source: str) -> tuple[Ledger, str | None]:
    """The study's ledger: kept under ``location`` (a directory or a URI; None: the spec's
    ``storage``, else ``runs_dir``), with this machine's files under ``runs_dir``; and what named
    the location, for messages (``source`` for ``location``, else the spec's field; None for the
    runs directory). Nothing is written: :func:`probe_writable` checks a named location."""
    runs = Path(runs_dir).resolve()
    where, named_by = (location, source) if location is not None else (spec.storage, f"{spec.source}: storage")
    if where is None:
        return Ledger(runs / spec.name), None
    if not where.strip():  # never "the current directory" by accident
        raise UserError(f"{named_by}: empty; name a directory or a URI, or leave it out for --runs-dir")
    try:
        root = Location(where) / spec.name
    except UserError as err:
        raise UserError(f"{named_by}: {err}") from None
    if root.is_local:
        return Ledger(root), named_by
    # named after the storage too: never the directory of a local run of the same name
    return Ledger(root, runs / f"{spec.name}.{root.fs.type_name}-{json_digest(root.uri)[:8]}"), named_by


def probe_writable(root: Location, source: str) -> None:
    """Write and remove one small object and one directory, as the ledger and Ray Tune will, so
    storage that cannot be written fails now (exit 2). Both: without credentials, a server that
    does not check them took the object and refused Tune's directory after the run was written."""
    name = f".probe-{os.getpid()}"
    try:
        root.write_text(name, "")
        root.delete(name)
        (root / name).make()
        root.delete(name)
    except OSError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{source}: storage {without_query(root.uri)} is not writable ({reason})") from None


def fingerprint_of(spec: StudySpec) -> dict:
    """The spec's fingerprint as the run keeps it: JSON, so that it compares equal once read back."""
    return json.loads(json.dumps(spec.fingerprint(), sort_keys=True, default=str))


def fingerprint_diff(old: dict, new: dict, old_name: str = "existing run", new_name: str = "this file") -> str:
    """A unified diff of two fingerprints, as YAML ("" when they are equal)."""
    dump = lambda d: yaml.safe_dump(d, sort_keys=True, default_flow_style=False).splitlines()
    return "\n".join(difflib.unified_diff(dump(old), dump(new), old_name, new_name, lineterm="", n=2))


def incompatible(ledger: Ledger, fingerprint: dict, source: str, new: bool) -> bool:
    """Whether an existing run means something else than this spec; refused unless ``new``."""
    if not ledger.exists() or ledger.fingerprint() == fingerprint:
        return False
    if not new:
        raise UserError(f"{source}: this study's data/model/train/suites/objective differ from "
                        f"the existing run in {ledger.root}; its finished arms would mean something "
                        f"else.\n{fingerprint_diff(ledger.fingerprint(), fingerprint)}\n"
                        "Rerun with --new to archive that run and start afresh, or use another name.")
    return True


def archive(ledger: Ledger) -> str:
    """Move an incompatible run aside as <name>.<time> (copied, then removed, in object storage)."""
    stamp = time.strftime('%Y%m%d-%H%M%S')
    if ledger.root.is_local:
        moved = ledger.root.local_path.with_name(f"{ledger.root.name}.{stamp}")
        os.rename(ledger.root.local_path, moved)
        return str(moved)
    moved = ledger.root.parent / f"{ledger.root.name}.{stamp}"
    ledger.root.copy_to(moved)
    ledger.root.delete("")
    return str(moved)


def stored_spec(ledger: Ledger, store: Store) -> StudySpec:
    """The study file the run was last started with, as its run directory keeps it."""
    source = ledger.where("study.yaml")
    if not ledger.root.is_file("study.yaml"):
        raise UserError(f"{source}: missing; the report reads the study from it (put the study file back)")
    if ledger.root.is_local:
        return validate_study(read_yaml(ledger.root.local_path / "study.yaml", source), source, store.published)
    copy = ledger.work / "study.yaml"  # read as a local file is: strictly, naming the stored object
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(ledger.root.read_bytes("study.yaml"))
    return validate_study(read_yaml(copy, source), source, store.published)
