"""``axiomatic.Study``: a study's whole life as one object, for a notebook, a script, the benchmarks
and the ``platform`` command alike.

    study = Study.open("studies/quickstart.yaml")      # or a StudySpec, or a mapping
    study.plan()                                       # arms x seeds, steps, time, disk
    study.run()                                        # lease, fingerprint, Optuna database, cells
    study.report()                                     # the StudyReport ``platform report`` prints
    Study.load("runs/quickstart").to_dataframe()       # a finished or running study, one row per cell

Bad input raises the :class:`~axiomatic.errors.UserError` the command line turns into exit 2,
before anything is written; a run cut short for a reason outside its input raises
:class:`~axiomatic.errors.Incomplete`.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from axiomatic.data.store import Store
from axiomatic.errors import Incomplete, UserError
from axiomatic.location import Location, without_query
from axiomatic.study import CellStatus, Ledger, StudySpec, load_study, validate_study
from axiomatic.study import plan as planning
from axiomatic.study import run_dir
from axiomatic.study import optuna_db as optuna_db
from axiomatic.study.comparison import RunRecords, StudyComparison, compare_runs
from axiomatic.study.optuna_db import OptunaStorage

if TYPE_CHECKING:
    from rich.console import Console

    from axiomatic.report.summary import StudyReport


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(frozen=True)
class RunOutcome:
    """How a :meth:`Study.run` ended: complete, or interrupted (Ctrl-C) with some of its cells
    ended (finished or failed; a failed cell runs again on the next run)."""

    complete: bool
    cells_ended: int
    cells_total: int


class Study:
    """One study: its spec, its run directory (the ledger, wherever it is kept), its Optuna
    database and the data directories its cells read. Build it with :meth:`open` (to plan or run
    it) or :meth:`load` (an existing run)."""

    def __init__(self, spec: StudySpec, store: Store, *, spec_text: str, ledger: Ledger | None = None,
                 location: str | None = None, runs_dir: str | Path = "runs", location_source: str = "location",
                 optuna: str | OptunaStorage | None = None, rerun: str | None = None,
                 notify: Callable[[str], None] = _to_stderr):
        self.spec, self.store = spec, store
        self._spec_text = spec_text
        self._ledger = ledger
        self._where = (location, runs_dir, location_source)  # resolved on first use: plan() needs no run
        self._named_by: str | None = None  # what named a location other than the runs directory
        self._optuna = optuna  # a requested URL before a run; the run's own storage after one, or loaded
        self._rerun = rerun or f"platform study {spec.source}"
        self._notify = notify

    def __repr__(self) -> str:
        return f"Study({self.spec.name!r}, location={without_query(self.ledger.root.uri)!r})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ledger(self) -> Ledger:
        """The run's record of every cell (study/ledger.py), wherever the run is kept."""
        if self._ledger is None:
            self._ledger, self._named_by = run_dir.ledger_for(self.spec, *self._where)
        return self._ledger

    @property
    def location(self) -> Location:
        """Where the run is kept: ``runs/<name>``, or its directory under the location given."""
        return self.ledger.root

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, study: str | Path | StudySpec | Mapping, location: str | None = None, *,
             runs_dir: str | Path = "runs", optuna_storage: str | None = None, store: Store | None = None,
             location_source: str = "location", rerun: str | None = None,
             notify: Callable[[str], None] = _to_stderr) -> Study:
        """A study from its file (checked whole), a :class:`StudySpec` or a mapping of its fields,
        kept under ``location`` (a directory or a URI such as ``s3://bucket/studies``; None: the
        file's ``storage``, else ``runs_dir``), its Optuna trials in ``optuna_storage`` (a database
        URL; None: the file's, else ``optuna.db`` in the run). ``store``: the dataset cache and
        published files its cells read (None: the defaults). Nothing is written until :meth:`run`.
        ``location_source`` names the location in messages, ``rerun`` is the command a message
        offers to resume with, and ``notify`` hears what a run does besides running (a lease taken
        over, a run archived)."""
        store = store or Store()
        spec, text = _read_spec(study, store)
        return cls(spec, store, spec_text=text, location=location, runs_dir=runs_dir,
                   location_source=location_source, optuna=optuna_storage, rerun=rerun, notify=notify)

    @classmethod
    def load(cls, path_or_uri: str | Path, *, optuna_storage: str | None = None, store: Store | None = None) -> Study:
        """The study run kept at ``path_or_uri`` (``runs/<name>``, or ``s3://bucket/studies/<name>``),
        finished, interrupted or still running, with the study file it was last started with.
        ``optuna_storage``: the run's database URL with its password (default: the one it recorded)."""
        store = store or Store()
        root = Location(str(path_or_uri))
        # a run in object storage is read from there alone; this machine only holds a working copy
        ledger = Ledger(root, None if root.is_local else _scratch())
        if not ledger.exists():
            raise UserError(f"{path_or_uri}: not a study run directory (no fingerprint.json)")
        spec = run_dir.stored_spec(ledger, store)
        optuna = optuna_db.of_run(ledger, spec.name, optuna_storage)
        optuna_db.pull(ledger)
        return cls(spec, store, spec_text=ledger.root.read_text("study.yaml"), ledger=ledger, optuna=optuna)

    # ------------------------------------------------------------ before and while it runs

    def plan(self, calibrate: bool = True) -> dict:
        """Arms, cells, resources, steps per cell, time (steps timed on this machine unless
        ``calibrate`` is False) and disk, as ``platform plan --json`` prints them. Writes nothing."""
        return planning.plan(self.spec, self.store, calibrate)

    def run(self, progress: Console | None = None, *, address: str | None = None, new: bool = False) -> RunOutcome:
        """Run every missing cell: take the study's lease (one driver per study), check that an
        existing run means what this spec means (else archive it with ``new``, or refuse), record
        the Optuna database, and let Ray Tune run the cells. ``progress``: a rich Console to draw
        the live table on (None: quiet). ``address``: a Ray cluster to join (None: RAY_ADDRESS,
        else a private embedded Ray). Resumes a run left unfinished; Ctrl-C ends it early, which
        the outcome says."""
        from axiomatic.ray_session import alive_nodes, check_cluster
        from axiomatic.study.lease import Lease

        planning.check_cells_train(self.spec, self.store)  # what the plan refuses is refused first
        ledger = self.ledger
        if self._named_by is not None:
            run_dir.probe_writable(ledger.root, self._named_by)
        fingerprint = run_dir.fingerprint_of(self.spec)
        cluster = check_cluster(address)  # a cluster that does not answer or refuses us: nothing written
        if cluster and not cluster.startswith("ray://") and ledger.root.is_local:
            from axiomatic.shared_directory import require_shared

            require_shared(ledger.root.local_path, alive_nodes(cluster), cluster)
        resuming = ledger.exists() and ledger.fingerprint() == fingerprint
        if resuming:
            ledger.check_readable()  # a damaged record stops the run now, named, not halfway
        storage = optuna_db.for_study(ledger, self.name, self._requested_optuna or self.spec.optuna_storage,
                                      existing=resuming, source=self.spec.source)
        lease = Lease(ledger.root.parent, ledger.root.name, self.name)
        lease.take(self._notify)  # before anything of the run is written, and new's archive
        try:
            return self._run_leased(lease, fingerprint, storage, progress, address, new)
        except KeyboardInterrupt:  # the lease's heartbeat stopped the driver outside Tune's own handling
            if lease.lost is None:
                raise
            raise self._taken_over(lease) from None
        except (UserError, Incomplete):
            raise
        except Exception:
            lost = self._storage_lost()
            if lost is None:
                raise
            raise lost from None
        finally:
            lease.release()

    def _run_leased(self, lease, fingerprint: dict, storage: OptunaStorage, progress: Console | None,
                    address: str | None, new: bool) -> RunOutcome:
        from axiomatic.report.console import LiveConsole
        from axiomatic.study.runner import quiet_environment, run_cells, study_ray

        archive = run_dir.incompatible(self.ledger, fingerprint, self.spec.source, new)  # without new: refused
        # Ray before the run is written: a cluster without room for one cell is refused first
        with study_ray(self.spec, self.ledger.work / "logs", address) as (dashboard, slots):
            if archive:
                self._notify(f"archived the previous run to {run_dir.archive(self.ledger)}")
                quiet_environment(self.ledger.work / "logs")  # a local run's archive took the driver log along
            optuna_db.pull(self.ledger)  # a run in object storage: its SQLite file, under the lease
            self.ledger.initialise(self._spec_text, fingerprint)
            optuna_db.record(self.ledger, storage)
            self._optuna = storage
            with LiveConsole(self.spec, progress, enabled=progress is not None) as live:
                searcher = run_cells(self.spec, self.ledger, dashboard, slots, console_callback=live,
                                     store=self.store, storage=storage)
        if lease.lost:
            raise self._taken_over(lease)
        if searcher.trials_lost:
            raise Incomplete(f"the Optuna database {optuna_db.kept_at(self.ledger, storage)} stopped answering "
                             f"({searcher.trials_lost}): the run is incomplete, not every arm's value was told "
                             f"to Optuna. Its cells' results are kept in {self.ledger.root}; once the database "
                             f"answers again, rerun '{self._rerun}' to finish the study.")
        ended = sum(c.finished or c.status is CellStatus.FAILED for c in searcher.cells.values())
        return RunOutcome(searcher.complete(), ended, searcher.total_cells())

    def _taken_over(self, lease) -> Incomplete:
        return Incomplete(f"the lease of study {lease.study} ({lease.where}) was taken over by {lease.lost}, which "
                          "found it stale (this driver was not heard from for a while): this driver stopped, and "
                          "the study goes on under that one. To run it here again, stop that driver and rerun "
                          f"'{self._rerun}'.")

    def _storage_lost(self) -> Incomplete | None:
        """After an error: an Incomplete naming the study's storage if it no longer answers, else None."""
        try:
            self.ledger.root.exists("fingerprint.json")
        except OSError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            return Incomplete(f"the study's storage {without_query(self.ledger.root.uri)} stopped answering "
                              f"({reason}); the run is kept there up to its last write. Once it answers again, "
                              f"rerun '{self._rerun}' to resume (finished cells do not run again).")
        return None

    # ------------------------------------------------------------ what it found

    @property
    def optuna_database(self) -> OptunaStorage:
        """Where the run keeps its Optuna trials (one per arm): the URL and the Optuna study name,
        for ``optuna.load_study`` or ``optuna-dashboard``."""
        if isinstance(self._optuna, OptunaStorage):
            return self._optuna
        return optuna_db.of_run(self.ledger, self.name, self._requested_optuna)

    @property
    def _requested_optuna(self) -> str | None:
        return self._optuna if isinstance(self._optuna, str) else None

    def report(self) -> StudyReport:
        """The report of the run as it stands (statistics over the seeds that ran to the end)."""
        from axiomatic.report import summary

        return summary.build(self.spec, self.ledger, self.store, self.optuna_database)

    def write_report(self, report: StudyReport, formats=("md", "latex", "csv")) -> list[Path]:
        """Write the report's tables (``formats``: md, latex, csv) and plots into the run's
        ``report/`` directory; returns the files written."""
        from axiomatic.report import summary

        return summary.write(report, summary.table(report, self.spec), self.ledger, formats,
                             summary.yes_class_tables(report, self.spec))

    def to_dataframe(self):
        """One row per cell: arm, arm_id, seed, status, the arm's parameters (a column per path,
        e.g. ``model.pe``) and every final metric (a column per name, e.g. ``val/acc``). Needs
        pandas, which the platform itself does not."""
        try:
            import pandas
        except ImportError:
            raise ModuleNotFoundError("Study.to_dataframe needs pandas, which is not installed "
                                      "(pip install pandas)", name="pandas") from None
        cells = sorted(self.ledger.cells(), key=lambda cell: (cell.arm, cell.seed))
        rows = [{"arm": c.arm, "arm_id": c.arm_id, "seed": c.seed, "status": str(c.status), **c.params,
                 **dict(sorted(c.metrics.items()))} for c in cells]
        return pandas.DataFrame(rows)

    def compare(self, other: Study) -> StudyComparison:
        """``other`` against this study: arms matched by their parameters, each metric both measured
        as other minus this with a 95 % interval (paired by seed where both ran the same seeds,
        Welch otherwise), what changed in the spec, and the arms only one of them has."""
        return compare_runs(self._as_compared(), other._as_compared())

    def _as_compared(self) -> RunRecords:
        return RunRecords(without_query(self.location.uri), self.ledger.records(), run_dir.fingerprint_of(self.spec))


def _read_spec(study: str | Path | StudySpec | Mapping, store: Store) -> tuple[StudySpec, str]:
    """The checked spec, its published suites read from the store's directory, and the text the
    run keeps as its study.yaml."""
    if isinstance(study, (str, Path)):
        return load_study(study, store.published), Path(study).read_text()
    if isinstance(study, StudySpec):
        raw, source = study.model_dump(mode="json", exclude_defaults=True), study.source
    elif isinstance(study, Mapping):
        raw, source = dict(study), "study"
    else:
        raise UserError(f"a study is a file, a StudySpec or a mapping of its fields, got {type(study).__name__}")
    return validate_study(raw, source, store.published), yaml.safe_dump(raw, sort_keys=False)


def _scratch() -> Path:
    """A working directory for a study read from object storage, removed when the interpreter
    exits (a report reads and writes through it; nothing in it outlives the run it copies)."""
    path = Path(tempfile.mkdtemp(prefix="axiomatic-report-"))
    atexit.register(shutil.rmtree, path, True)
    return path
