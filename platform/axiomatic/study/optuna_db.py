"""Where a study keeps its Optuna trials (one per arm).

By default an SQLite file in the run directory, ``runs/<study>/optuna.db``, under the study's
name. ``optuna_storage:`` in the study file or ``platform study --optuna-storage URL`` names a
database server instead (any SQLAlchemy URL Optuna takes; PostgreSQL is the tested one), which
several drivers, ``optuna-dashboard`` and ``optuna.load_study`` can reach from other machines.
There the Optuna study is named ``<study>.<start time>``, so a run started afresh with ``--new``
never finds the trials of the run it archived; the run directory records the URL (without its
password: give that through ``PGPASSWORD`` or ``~/.pgpass``) and the name, for resume and reports.

A run kept in object storage (``--storage s3://...``) works on its SQLite file in the driver's
local directory (``runs/<study>/optuna.db``, :attr:`Ledger.work`): it is fetched from the storage
when a run starts and put back after every change to the trials (an arm asked for, an arm's value
told), so the storage alone holds the whole run. One driver per study, as everywhere.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from axiomatic.errors import UserError
from axiomatic.study.ledger import Ledger

RECORD = "optuna_storage.json"
SQLITE = "optuna.db"
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class OptunaStorage:
    url: str
    study_name: str


def default(ledger: Ledger, study: str) -> OptunaStorage:
    return OptunaStorage(f"sqlite:///{ledger.work / SQLITE}", study)


def recorded(ledger: Ledger) -> OptunaStorage | None:
    return OptunaStorage(**ledger.root.read_json(RECORD)) if ledger.root.is_file(RECORD) else None


def of_run(ledger: Ledger, study: str, url: str | None = None, source: str = "--optuna-storage") -> OptunaStorage:
    """The storage of an existing run. ``url`` (a user's, password and all) replaces the recorded
    one when it names the same database, and is refused when it names another: the run's trials
    are where it recorded them."""
    kept = recorded(ledger) or default(ledger, study)
    if url and without_password(parse(url, source)) != without_password(kept.url):
        raise UserError(f"{source}: optuna_storage {without_password(url)} differs from the storage of "
                        f"the run in {ledger.root} ({without_password(kept.url)}), which holds its trials; "
                        "drop the setting, or run the study under another name or --runs-dir.")
    return OptunaStorage(url or kept.url, kept.study_name)


def for_study(ledger: Ledger, study: str, requested: str | None, existing: bool, source: str) -> OptunaStorage:
    """The storage a ``platform study`` uses: the existing run's, or for a new run the requested
    one (checked to connect) or the default."""
    if existing:
        return of_run(ledger, study, requested, source)
    if not requested:
        return default(ledger, study)
    check(requested, source)
    return OptunaStorage(requested, f"{study}.{time.strftime('%Y%m%d-%H%M%S')}")


def record(ledger: Ledger, storage: OptunaStorage) -> None:
    """Remember a server storage in the run directory (the default needs no record)."""
    if storage != default(ledger, storage.study_name):
        ledger.root.write_json(RECORD, asdict(OptunaStorage(without_password(storage.url), storage.study_name)))


def pull(ledger: Ledger) -> None:
    """For a run kept in object storage, make the driver's SQLite file the stored one: fetched
    when there is one, removed when there is none (a new run, or one archived by --new)."""
    if ledger.root.is_local:
        return
    copy = ledger.work / SQLITE
    copy.unlink(missing_ok=True)
    if ledger.root.is_file(SQLITE):
        ledger.work.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(ledger.root.read_bytes(SQLITE))


def push(ledger: Ledger, storage: OptunaStorage) -> None:
    """Put the driver's SQLite file back into object storage (where the run is kept locally,
    or its trials are on a server, there is nothing to do)."""
    if not ledger.root.is_local and storage == default(ledger, storage.study_name):
        ledger.root.upload(ledger.work / SQLITE, SQLITE)


def kept_at(ledger: Ledger, storage: OptunaStorage) -> str:
    """Where the run keeps its trials, as a message names it: the SQLite file in the run (in
    object storage, the stored object rather than the driver's copy), else the server's URL."""
    if storage == default(ledger, storage.study_name):
        return ledger.where(SQLITE)
    return without_password(storage.url)


def without_password(url: str) -> str:
    """The URL as it may be recorded and printed. Built anew without the password: SQLAlchemy
    2.1's ``URL.set(password=None)`` leaves the password as it was."""
    from sqlalchemy.engine import URL, make_url

    parsed = make_url(url)
    bare = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database,
                      parsed.query)
    return bare.render_as_string(hide_password=False)


def parse(url: str, source: str) -> str:
    """``url`` if SQLAlchemy reads it as a database URL; else an error naming the source."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(url)
    except ArgumentError:
        raise UserError(f"{source}: optuna_storage {url!r} is not a database URL "
                        "(expected e.g. postgresql://user@host:5432/database)") from None
    return url


def check(url: str, source: str) -> None:
    """Connect once, within seconds, or fail naming the URL (without its password) and why."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    parsed = make_url(parse(url, source))
    shown = without_password(url)
    backend = parsed.get_backend_name()
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if backend in ("postgresql", "mysql") else {}
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except ModuleNotFoundError as err:
        raise UserError(f"{source}: optuna_storage {shown}: its database driver is not installed "
                        f"({err.name}); for PostgreSQL: pip install 'psycopg[binary]'") from None
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as err:
        raise UserError(f"{source}: optuna_storage {shown}: cannot connect ({reason(err)})") from None
    finally:
        engine.dispose()


def reason(err: Exception) -> str:
    """The first line of what the database driver said (SQLAlchemy's own text adds the SQL;
    Optuna's StorageInternalError wraps it)."""
    while err.__cause__ is not None and getattr(err, "orig", None) is None:
        err = err.__cause__
    text = str(getattr(err, "orig", None) or err).strip()
    return text.splitlines()[0] if text else type(err).__name__
