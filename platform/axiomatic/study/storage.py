"""Where a study keeps its Optuna trials (one per arm).

By default an SQLite file in the run directory, ``runs/<study>/optuna.db``, under the study's
name. ``optuna_storage:`` in the study file or ``platform study --optuna-storage URL`` names a
database server instead (any SQLAlchemy URL Optuna takes; PostgreSQL is the tested one), which
several drivers, ``optuna-dashboard`` and ``optuna.load_study`` can reach from other machines.
There the Optuna study is named ``<study>.<start time>``, so a run started afresh with ``--new``
never finds the trials of the run it archived; the run directory records the URL (without its
password: give that through ``PGPASSWORD`` or ``~/.pgpass``) and the name, for resume and reports.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from axiomatic.errors import UserError
from axiomatic.files import write_json_atomically

RECORD = "optuna_storage.json"
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class OptunaStorage:
    url: str
    study_name: str


def default(root: Path, study: str) -> OptunaStorage:
    return OptunaStorage(f"sqlite:///{Path(root) / 'optuna.db'}", study)


def recorded(root: Path) -> OptunaStorage | None:
    path = Path(root) / RECORD
    return OptunaStorage(**json.loads(path.read_text())) if path.is_file() else None


def of_run(root: Path, study: str, url: str | None = None, source: str = "--optuna-storage") -> OptunaStorage:
    """The storage of an existing run. ``url`` (a user's, password and all) replaces the recorded
    one when it names the same database, and is refused when it names another: the run's trials
    are where it recorded them."""
    kept = recorded(root) or default(root, study)
    if url and without_password(parse(url, source)) != without_password(kept.url):
        raise UserError(f"{source}: optuna_storage {without_password(url)} differs from the storage of "
                        f"the run in {root} ({without_password(kept.url)}), which holds its trials; "
                        "drop the setting, or run the study under another name or --runs-dir.")
    return OptunaStorage(url or kept.url, kept.study_name)


def for_study(root: Path, study: str, requested: str | None, existing: bool, source: str) -> OptunaStorage:
    """The storage a ``platform study`` uses: the existing run's, or for a new run the requested
    one (checked to connect) or the default."""
    if existing:
        return of_run(root, study, requested, source)
    if not requested:
        return default(root, study)
    check(requested, source)
    return OptunaStorage(requested, f"{study}.{time.strftime('%Y%m%d-%H%M%S')}")


def record(root: Path, storage: OptunaStorage) -> None:
    """Remember a server storage in the run directory (the default needs no record)."""
    if storage != default(root, storage.study_name):
        write_json_atomically(Path(root) / RECORD,
                              asdict(OptunaStorage(without_password(storage.url), storage.study_name)))


def without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(password=None).render_as_string(hide_password=False)


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
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise UserError(f"{source}: optuna_storage {shown}: cannot connect ({reason})") from None
    finally:
        engine.dispose()
