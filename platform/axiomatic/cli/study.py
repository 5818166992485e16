"""``platform study``, ``platform plan`` and ``platform report``."""

from __future__ import annotations

import difflib
import json
import os
import time
from pathlib import Path

import yaml

from axiomatic.cli.common import DATA_DIRS, JSON_OUTPUT, console, data_store, emit_json, notices
from axiomatic.cli.plan import check_cells_train
from axiomatic.errors import Incomplete, UserError

INTERRUPTED = 130  # what a shell reports for a command stopped by Ctrl-C (128 + SIGINT)


def add_commands(commands) -> None:
    study = commands.add_parser("study", help="run (or resume, or extend) a study YAML",
                                parents=[JSON_OUTPUT, *DATA_DIRS])
    study.add_argument("file")
    study.add_argument("--runs-dir", default="runs", help="this machine's parent of runs/<study> (default runs)")
    study.add_argument("--storage", metavar="URI",
                       help="where the study is kept: a directory (shared by every node) or object storage, "
                            "e.g. s3://bucket/studies (default: the study file's storage, else --runs-dir)")
    study.add_argument("--address", help="join a running Ray cluster: host:port, or auto for the one 'ray start' "
                       "started here (default: RAY_ADDRESS if set, else an embedded Ray on this machine)")
    study.add_argument("--new", action="store_true", help="archive an incompatible existing run, start afresh")
    study.add_argument("--optuna-storage", metavar="URL",
                       help="database for the Optuna trials, e.g. postgresql://user@host/db (default: the "
                            "study file's optuna_storage, else runs/<study>/optuna.db)")
    study.set_defaults(handler=_study)

    report = commands.add_parser("report", help="tables, comparisons and plots of a study run",
                                 parents=[JSON_OUTPUT, *DATA_DIRS])
    report.add_argument("run_dir", help="the study's run directory: runs/<study>, or its storage URI "
                        "(s3://bucket/studies/<study>)")
    report.add_argument("--optuna-storage", metavar="URL",
                        help="the run's Optuna database with its password (default: the one it recorded)")
    report.add_argument("--format", choices=("md", "latex", "csv"), action="append",
                        help="table formats to write (default all three); the first is printed")
    report.set_defaults(handler=_report)


# ---------------------------------------------------------------- study

def _study(args) -> int:
    from axiomatic.ray_session import alive_nodes, check_cluster
    from axiomatic.study import load_study
    from axiomatic.study import storage as optuna_storage
    from axiomatic.study.lease import Lease

    store = data_store(args)
    spec = load_study(args.file, store.published)
    check_cells_train(spec, store)  # what 'platform plan' refuses is refused before the first cell
    ledger = _study_ledger(args, spec)
    fingerprint = _jsonable(spec.fingerprint())
    cluster = check_cluster(args.address)  # a cluster that does not answer or refuses us: nothing written
    if cluster and not cluster.startswith("ray://") and ledger.root.is_local:
        from axiomatic.shared_storage import require_shared

        require_shared(ledger.root.local_path, alive_nodes(cluster), cluster)
    resuming = ledger.exists() and ledger.fingerprint() == fingerprint
    if resuming:
        ledger.check_readable()  # a damaged record stops the run now, named, not a cell or the search halfway
    storage = optuna_storage.for_study(ledger, spec.name, args.optuna_storage or spec.optuna_storage,
                                       existing=resuming, source=args.file)
    lease = Lease(ledger.root.parent, ledger.root.name, spec.name)
    lease.take(notices.print)  # before anything of the run is written, and --new's archive
    try:
        return _run_and_report(args, spec, ledger, fingerprint, storage, store, lease)
    except KeyboardInterrupt:  # the lease's heartbeat stopped the driver outside Tune's own handling
        if lease.lost is None:
            raise
        raise _taken_over(lease, args) from None
    except (UserError, Incomplete):
        raise
    except Exception:
        lost = _storage_lost(ledger, args)
        if lost is None:
            raise
        raise lost from None
    finally:
        lease.release()


def _run_and_report(args, spec, ledger, fingerprint: dict, storage, store, lease) -> int:
    from axiomatic.study import CellStatus
    from axiomatic.study import storage as optuna_storage

    searcher = _run(args, spec, ledger, fingerprint, storage, store)
    if lease.lost:
        raise _taken_over(lease, args)
    if searcher.trials_lost:
        raise Incomplete(f"the Optuna database {optuna_storage.kept_at(ledger, storage)} stopped answering "
                         f"({searcher.trials_lost}): the run is incomplete, not every arm's value was told "
                         f"to Optuna. Its cells' results are kept in {ledger.root}; once the database "
                         f"answers again, rerun '{_resume_command(args)}' to finish the study.")
    if not searcher.complete():
        finished = sum(c.finished or c.status is CellStatus.FAILED for c in searcher.cells.values())
        notices.print(f"[yellow]interrupted[/]: {finished} of {searcher.total_cells()} cells have ended; "
                      f"rerun '{_resume_command(args)}' to resume (finished cells do not run again), "
                      f"or 'platform report {ledger.root}' for the partial tables")
        return INTERRUPTED
    return _finish(spec, ledger, store, ("md", "latex", "csv"), args.json, storage)


def _taken_over(lease, args) -> Incomplete:
    return Incomplete(f"the lease of study {lease.study} ({lease.where}) was taken over by {lease.lost}, which "
                      "found it stale (this driver was not heard from for a while): this driver stopped, and "
                      "the study goes on under that one. To run it here again, stop that driver and rerun "
                      f"'{_resume_command(args)}'.")


def _run(args, spec, ledger, fingerprint: dict, storage, store):
    """Run the study's missing cells (the caller holds its lease); returns the searcher."""
    from axiomatic.report.console import LiveConsole
    from axiomatic.study import storage as optuna_storage
    from axiomatic.study.runner import quiet_environment, run_cells, study_ray

    incompatible = _incompatible(args, ledger, fingerprint)  # without --new: exit 2
    # Ray before the run is written: a cluster without room for one cell is refused first
    with study_ray(spec, ledger.work / "logs", args.address) as (dashboard, slots):
        if incompatible:
            notices.print(f"archived the previous run to {_archive(ledger)}")  # stderr: --json owns stdout
            quiet_environment(ledger.work / "logs")  # a local run's archive took the driver log along
        optuna_storage.pull(ledger)  # a run in object storage: its SQLite file, under the lease
        ledger.initialise(Path(args.file).read_text(), fingerprint)
        optuna_storage.record(ledger, storage)
        with LiveConsole(spec, console, enabled=not args.json) as live:
            return run_cells(spec, ledger, dashboard, slots, console_callback=live, store=store,
                             storage=storage)


def _storage_lost(ledger, args) -> Incomplete | None:
    """After an error: an Incomplete naming the study's storage if it no longer answers, else None."""
    from axiomatic.location import without_query

    try:
        ledger.root.exists("fingerprint.json")
    except OSError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Incomplete(f"the study's storage {without_query(ledger.root.uri)} stopped answering ({reason}); "
                          f"the run is kept there up to its last write. Once it answers again, rerun "
                          f"'{_resume_command(args)}' to resume (finished cells do not run again).")
    return None


def _incompatible(args, ledger, fingerprint: dict) -> bool:
    """Whether an existing run means something else than this file; refused unless --new."""
    if not ledger.exists() or ledger.fingerprint() == fingerprint:
        return False
    if not args.new:
        raise UserError(f"{args.file}: this study's data/model/train/suites/objective differ from "
                        f"the existing run in {ledger.root}; its finished arms would mean something "
                        f"else.\n{_diff(ledger.fingerprint(), fingerprint)}\n"
                        "Rerun with --new to archive that run and start afresh, or use another name.")
    return True


def _resume_command(args) -> str:
    """The command that resumes this run: the options that say where it is kept, what it joins
    and which data it reads, as they were given (a URL without its password)."""
    import shlex

    from axiomatic.study.storage import without_password

    named = {"--storage": args.storage, "--runs-dir": args.runs_dir if args.runs_dir != "runs" else None,
             "--address": args.address, "--published-dir": args.published_dir, "--cache-dir": args.cache_dir,
             "--optuna-storage": args.optuna_storage and without_password(args.optuna_storage)}
    words = ["platform", "study", args.file]
    for option, value in named.items():
        if value is not None:
            words += [option, value]
    return shlex.join(words)


def _study_ledger(args, spec):
    """The study's ledger: kept under --storage (or the file's ``storage``, or --runs-dir), with
    this machine's files under --runs-dir; checked to be writable before anything is written."""
    from axiomatic.digest import json_digest
    from axiomatic.location import Location
    from axiomatic.study import Ledger

    runs = Path(args.runs_dir).resolve()
    where = args.storage if args.storage is not None else spec.storage
    if where is None:
        return Ledger(runs / spec.name)
    source = "--storage" if args.storage is not None else f"{args.file}: storage"
    if not where.strip():  # never "the current directory" by accident
        raise UserError(f"{source}: empty; name a directory or a URI, or leave it out for --runs-dir")
    try:
        root = Location(where) / spec.name
    except UserError as err:
        raise UserError(f"{source}: {err}") from None
    probe_writable(root, source)
    if root.is_local:
        return Ledger(root)
    # named after the storage too: never the directory of a local run of the same name
    return Ledger(root, runs / f"{spec.name}.{root.fs.type_name}-{json_digest(root.uri)[:8]}")


def probe_writable(root, source: str) -> None:
    """Write and remove one small object and one directory, as the ledger and Ray Tune will, so
    storage that cannot be written fails now (exit 2). Both: without credentials, a server that
    does not check them took the object and refused Tune's directory after the run was written."""
    from axiomatic.location import without_query

    name = f".probe-{os.getpid()}"
    try:
        root.write_text(name, "")
        root.delete(name)
        (root / name).make()
        root.delete(name)
    except OSError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{source}: storage {without_query(root.uri)} is not writable ({reason})") from None


def _archive(ledger) -> str:
    """Move an incompatible run aside as <name>.<time> (copied, then removed, in object storage)."""
    stamp = time.strftime('%Y%m%d-%H%M%S')
    if ledger.root.is_local:
        archive = ledger.root.local_path.with_name(f"{ledger.root.name}.{stamp}")
        os.rename(ledger.root.local_path, archive)
        return str(archive)
    archive = ledger.root.parent / f"{ledger.root.name}.{stamp}"
    ledger.root.copy_to(archive)
    ledger.root.delete("")
    return str(archive)


def _jsonable(obj):
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _diff(old: dict, new: dict) -> str:
    dump = lambda d: yaml.safe_dump(d, sort_keys=True, default_flow_style=False).splitlines()
    lines = difflib.unified_diff(dump(old), dump(new), "existing run", "this file", lineterm="", n=2)
    return "\n".join(lines)


def _finish(spec, ledger, store, formats, as_json: bool, storage) -> int:
    from axiomatic.report import reach, rendering, summary
    from axiomatic.study import storage as optuna_storage

    report = summary.build(spec, ledger, store, storage)
    paper_table = summary.table(report, spec)
    yes_class = summary.yes_class_tables(report, spec)
    written = summary.write(report, paper_table, ledger, formats, yes_class)
    if as_json:
        optuna = {"storage": optuna_storage.without_password(storage.url), "study": storage.study_name}
        emit_json({**report.to_json(), "files": [str(p) for p in written], "optuna": optuna})
        return _unreadable_exit(report.unreadable)
    for rich_table in rendering.to_rich(paper_table):
        console.print(rich_table)
    for measure, measure_table in yes_class.items():
        console.print(f"[bold]Yes class: {measure}[/]")
        for rich_table in rendering.to_rich(measure_table):
            console.print(rich_table)
    if report.reaches:
        console.print(reach.to_rich(report.reaches))
    for note in report.departures:
        console.print(f"[yellow]departs from the paper:[/] {note}")
    for note in report.unlearned:
        console.print(f"[bold red]stage not learned:[/] {note}")
    if report.comparisons:
        console.print(rendering.comparisons_markdown(report.comparisons))
    if report.importances:
        console.print(rendering.importances_markdown(report.importances))
        if report.importance_caveat:
            console.print(f"[bold yellow]warning:[/] {report.importance_caveat}")
    for failed in report.failed:
        console.print(f"[red]failed[/] {failed.arm} seed {failed.seed}: {summary.first_line(failed.error)}")
    console.print(f"report files: {ledger.work / 'report'}"
                  + ("" if ledger.root.is_local else f" (and {ledger.root / 'report'})"))
    return _unreadable_exit(report.unreadable)


def _unreadable_exit(unreadable) -> int:
    """0, or 2 after naming each object the report had to leave out (on stderr)."""
    for item in unreadable:
        notices.print(f"[bold red]unreadable[/] {item}; the report leaves it out", highlight=False)
    return 2 if unreadable else 0


# ---------------------------------------------------------------- report

def _report(args) -> int:
    import tempfile

    from axiomatic.location import Location
    from axiomatic.study import Ledger
    from axiomatic.study import storage as optuna_storage

    store = data_store(args)
    root = Location(args.run_dir)
    # a run in object storage is read from there alone; this machine only holds a working copy
    ledger = Ledger(root, None if root.is_local else Path(tempfile.mkdtemp(prefix="axiomatic-report-")))
    if not ledger.exists():
        raise UserError(f"{args.run_dir}: not a study run directory (no fingerprint.json)")
    spec = _stored_spec(ledger, store)
    storage = optuna_storage.of_run(ledger, spec.name, args.optuna_storage)
    optuna_storage.pull(ledger)
    return _finish(spec, ledger, store, tuple(args.format or ("md", "latex", "csv")), args.json, storage)


def _stored_spec(ledger, store):
    """The study file the run was last started with, as its run directory keeps it."""
    from axiomatic.study import validate_study
    from axiomatic.userfiles import read_yaml

    source = ledger.where("study.yaml")
    if not ledger.root.is_file("study.yaml"):
        raise UserError(f"{source}: missing; the report reads the study from it (put the study file back)")
    if ledger.root.is_local:
        return validate_study(read_yaml(ledger.root.local_path / "study.yaml", source), source, store.published)
    copy = ledger.work / "study.yaml"  # read as a local file is: strictly, naming the stored object
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(ledger.root.read_bytes("study.yaml"))
    return validate_study(read_yaml(copy, source), source, store.published)

