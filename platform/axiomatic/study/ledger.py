"""The study directory: what every cell (arm x seed) is, how far it got, and what it scored.

    runs/<study>/         (or its --storage URI: object storage, location.py)
      study.yaml          the spec as last run (for humans and for the compatibility check)
      fingerprint.json    what defines an existing arm; a change to it is refused unless --new
      optuna.db           Optuna storage: one Optuna trial per arm (or, for a database server,
                          optuna_storage.json: its URL and study name; study/storage.py)
      cells/<cell>/       cell.json (arm, params, seed, status, final metrics, error),
                          metrics.jsonl (one line per evaluation) and its TensorBoard events,
                          attempts.jsonl (one line per start), error.txt (last failure),
                          checkpoint/ (latest; in object storage two slots, train/run_files.py)
      tune/               Ray Tune's own experiment directories, one per invocation
      logs/               Ray and Tune logs (on the driver's machine: runs/<study>/logs)
      report/             tables and plots

The ledger, not Tune's experiment state, is the source of truth for resume: a cell whose
cell.json says done/stopped is never scheduled again, and an unfinished one restarts from its
checkpoint. This survives SIGKILL, added seeds and added samples alike.

A cell's status is a :class:`CellStatus`. STOPPED (ended early by the scheduler) is final like DONE
but is not DONE: its metrics are those of the epoch it reached, so the report keeps it out of every
statistic, while the search objective told to Optuna may still use it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from axiomatic.digest import json_digest
from axiomatic.errors import UserError
from axiomatic.location import Location, without_query
from axiomatic.train.history import HISTORY
from axiomatic.train.run_files import ATTEMPTS, ERROR


class CellStatus(str, Enum):
    """Where a cell stands. The values are the strings cell.json has always held, so ledgers
    written before this type existed load unchanged; being a ``str``, a status also compares
    equal to its string (``CellStatus.DONE == "done"``) in plain-dict trial records."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"  # ran to its last epoch
    STOPPED = "stopped"  # ended early by the scheduler (ASHA): final, but not run to the end
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """Never scheduled again: a scheduler's decision to stop a cell is final too."""
        return self in (CellStatus.DONE, CellStatus.STOPPED)

    def __str__(self) -> str:
        return self.value


def arm_id(params: dict) -> str:
    return json_digest(params)[:12]


def cell_id(arm: str, seed: int) -> str:
    return f"{arm}-s{seed}"


@dataclass
class Cell:
    arm_id: str
    arm: str  # readable arm name
    params: dict
    seed: int
    status: CellStatus = CellStatus.PENDING
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    optuna_trial: int | None = None

    def __post_init__(self):
        self.status = CellStatus(self.status)  # cell.json holds the plain string

    @property
    def id(self) -> str:
        return cell_id(self.arm_id, self.seed)

    @property
    def finished(self) -> bool:
        """Final for resume (DONE or STOPPED). Not "ran to the end": that is status DONE."""
        return self.status.is_final


@dataclass(frozen=True)
class Unreadable:
    """An object of the run that could not be read: where it is, and what is wrong with it."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class DamagedLedger(UserError):
    """Objects of the run that cannot be read, each named with what is wrong."""

    def __init__(self, damaged: list[Unreadable]):
        self.damaged = damaged
        super().__init__("the run holds objects that cannot be read:\n"
                         + "\n".join(f"  {item}" for item in damaged)
                         + "\nRestore them, or remove a damaged cell's directory to run that cell again.")


# what a damaged JSON object raises when read: bad bytes, bad JSON, a JSON value of another shape,
# fields missing or unknown (TypeError), a status that is none (ValueError)
UNREADABLE = (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError)


class Ledger:
    """A study's run directory, kept at ``root`` (a local directory or object storage, see
    :class:`~axiomatic.location.Location`). ``work`` is this machine's directory for what only
    the driver touches (Ray's and Tune's logs, a working copy of an SQLite Optuna
    database kept in object storage); for a local root it is the root itself."""

    def __init__(self, root: Location | str | Path, work: Path | None = None):
        self.root = root if isinstance(root, Location) else Location(root)
        self.work = Path(work).resolve() if work is not None else self.root.local_path

    @property
    def cells_dir(self) -> Location:
        return self.root / "cells"

    def exists(self) -> bool:
        return self.root.is_file("fingerprint.json")

    def fingerprint(self) -> dict | None:
        if not self.exists():
            return None
        fingerprint = self._read("fingerprint.json", self.root.read_json)
        if not isinstance(fingerprint, dict):
            raise DamagedLedger([Unreadable(self.where("fingerprint.json"), "expected a JSON object")])
        return fingerprint

    def where(self, name: str) -> str:
        """An object's name as a message shows it (a URI without its query)."""
        return f"{without_query(self.root.uri).rstrip('/')}/{name}"

    def _read(self, name: str, reader):
        try:
            return reader(name)
        except UNREADABLE as err:
            raise DamagedLedger([Unreadable(self.where(name), _reason(err))]) from None

    def initialise(self, spec_text: str, fingerprint: dict) -> None:
        for sub in ("tune", "logs", "report"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        self.root.write_text("study.yaml", spec_text)
        self.root.write_json("fingerprint.json", fingerprint)

    def cell_dir(self, cell: str) -> Location:
        return self.cells_dir / cell

    def save(self, cell: Cell) -> None:
        self.root.write_json(f"cells/{cell.id}/cell.json", asdict(cell))

    def cells(self) -> list[Cell]:
        """Every cell; a cell.json that cannot be read is a :class:`DamagedLedger` naming it."""
        cells, damaged = self.readable_cells()
        if damaged:
            raise DamagedLedger(damaged)
        return cells

    def readable_cells(self) -> tuple[list[Cell], list[Unreadable]]:
        """The cells whose cell.json reads back, and what is wrong with the others."""
        cells, damaged = [], []
        for name in self.cells_dir.subdirectories():
            path = f"cells/{name}/cell.json"
            if not self.root.is_file(path):
                continue
            try:
                cells.append(self._read(path, lambda path: Cell(**self.root.read_json(path))))
            except DamagedLedger as err:
                damaged += err.damaged
        return cells, damaged

    def history(self, cell: str) -> list[dict]:
        return self._read(f"cells/{cell}/{HISTORY}", self._rows)

    def attempts(self, cell: str) -> list[dict]:
        return self._read(f"cells/{cell}/{ATTEMPTS}", self._rows)

    def _rows(self, name: str) -> list[dict]:
        rows = self.root.read_jsonl(name)
        if not all(isinstance(row, dict) for row in rows):
            raise ValueError("a row that is not a JSON object")
        return rows

    def check_readable(self) -> None:
        """Read every cell's record and logs, so that a damaged one stops a run before it
        starts, named, rather than failing a cell or the search halfway."""
        cells, damaged = self.readable_cells()
        for cell in cells:
            for read in (self.history, self.attempts):
                try:
                    read(cell.id)
                except DamagedLedger as err:
                    damaged += err.damaged
        if damaged:
            raise DamagedLedger(damaged)

    def error(self, cell: str) -> str | None:
        """The exception the cell's trainable recorded for its last failure, if any."""
        name = f"cells/{cell}/{ERROR}"
        return self.root.read_text(name) if self.root.is_file(name) else None

    def records(self) -> list[dict]:
        """Trial records in the shape study/results.py and the report expect; a STOPPED cell
        stays STOPPED, so no statistic mistakes it for one that ran to the end."""
        records, damaged = self.readable_records()
        if damaged:
            raise DamagedLedger(damaged)
        return records

    def readable_records(self) -> tuple[list[dict], list[Unreadable]]:
        """:meth:`records` of what can be read, and what cannot: a cell without a readable
        cell.json is left out, one without a readable history keeps its final metrics."""
        cells, damaged = self.readable_cells()
        records = []
        for c in cells:
            try:
                history = self.history(c.id)
            except DamagedLedger as err:
                history, damaged = [], damaged + err.damaged
            records.append({"arm": c.arm, "params": c.params, "seed": c.seed, "status": c.status,
                            "error": c.error, "metrics": c.metrics, "history": history})
        return records, damaged


def _reason(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"not JSON ({err.msg} at line {err.lineno})"
    if isinstance(err, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(err) if isinstance(err, ValueError) else f"not a record of the expected shape ({err})"
