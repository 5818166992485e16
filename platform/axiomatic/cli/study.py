"""``platform study`` and ``platform report``: parse the command line, call :class:`axiomatic.Study`, print."""

from __future__ import annotations

from axiomatic.cli.common import DATA_DIRS, JSON_OUTPUT, console, data_store, emit_json, notices

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
    from axiomatic import Study

    study = Study.open(args.file, args.storage, runs_dir=args.runs_dir, optuna_storage=args.optuna_storage,
                       store=data_store(args), location_source="--storage", rerun=_resume_command(args),
                       notify=notices.print)
    outcome = study.run(None if args.json else console, address=args.address, new=args.new)
    if not outcome.complete:
        notices.print(f"[yellow]interrupted[/]: {outcome.cells_ended} of {outcome.cells_total} cells have ended; "
                      f"rerun '{_resume_command(args)}' to resume (finished cells do not run again), "
                      f"or 'platform report {study.location}' for the partial tables")
        return INTERRUPTED
    return _finish(study, ("md", "latex", "csv"), args.json)


def _resume_command(args) -> str:
    """The command that resumes this run: the options that say where it is kept, what it joins
    and which data it reads, as they were given (a URL without its password)."""
    import shlex

    from axiomatic.study.optuna_db import without_password

    named = {"--storage": args.storage, "--runs-dir": args.runs_dir if args.runs_dir != "runs" else None,
             "--address": args.address, "--published-dir": args.published_dir, "--cache-dir": args.cache_dir,
             "--optuna-storage": args.optuna_storage and without_password(args.optuna_storage)}
    words = ["platform", "study", args.file]
    for option, value in named.items():
        if value is not None:
            words += [option, value]
    return shlex.join(words)


def _finish(study, formats, as_json: bool) -> int:
    """Write the report's files, then print it: tables, notes, comparisons and importances."""
    from axiomatic.report import reach, rendering, summary
    from axiomatic.study.optuna_db import without_password

    report = study.report()
    written = study.write_report(report, formats)
    if as_json:
        database = study.optuna_database
        optuna = {"storage": without_password(database.url), "study": database.study_name}
        emit_json({**report.to_json(), "files": [str(p) for p in written], "optuna": optuna})
        return _unreadable_exit(report.unreadable)
    paper_table = summary.table(report, study.spec)
    yes_class = summary.yes_class_tables(report, study.spec)
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
    ledger = study.ledger
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
    from axiomatic import Study

    study = Study.load(args.run_dir, optuna_storage=args.optuna_storage, store=data_store(args))
    return _finish(study, tuple(args.format or ("md", "latex", "csv")), args.json)
