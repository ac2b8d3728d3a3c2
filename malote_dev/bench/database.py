"""Benchmarks run on their own database, never on the operator's: a SQLite file by default, or
with ``--database postgres://…`` a scratch database of their own on that server (a unique name,
dropped when the benchmark ends).
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

CONNECT_TIMEOUT_SECONDS = 3


class DatabaseUnavailable(Exception):
    """The PostgreSQL server named by ``--database`` did not answer: the benchmark is skipped."""


class _Target:
    """Where ``use_fresh_database`` puts the benchmark: the PostgreSQL server, when one was chosen."""

    server_url: str | None = None
    scratch: list[str] = []


def _with_database_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(
        _with_database_name(url, "postgres"), autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
    )


def select_database(url: str | None) -> None:
    """``None``: SQLite files. ``postgres://…``: scratch databases on that server, reached now so
    that a server that does not answer skips the benchmark with a message instead of a traceback."""
    if not url:
        return
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise SystemExit("--database takes a postgres://user@host:port/… URL")
    import psycopg

    try:
        _admin(url).close()
    except psycopg.OperationalError as exc:
        where = urlsplit(url).hostname, urlsplit(url).port or 5432
        raise DatabaseUnavailable(
            f"no PostgreSQL server answers at {where[0]}:{where[1]} ({str(exc).strip()[:160]})"
        ) from exc
    _Target.server_url = url


def on_postgres() -> bool:
    return _Target.server_url is not None


def scratch_url() -> str:
    """The URL of the scratch database in use (for the worker processes a benchmark starts)."""
    assert _Target.server_url and _Target.scratch, "no scratch PostgreSQL database in use"
    return _with_database_name(_Target.server_url, _Target.scratch[-1])


def _point_default_at(config: dict[str, Any]) -> None:
    """Swap the default connection for one built from ``config`` (another backend may be needed)."""
    connections.close_all()
    settings.DATABASES["default"] = config
    connections.settings["default"] = connections.configure_settings({"default": config})["default"]
    # The next use builds a connection of the new backend (AttributeError: none was made yet).
    with contextlib.suppress(AttributeError):
        del connections["default"]


def use_fresh_database(path: Path | None = None, *, reuse: bool = False) -> str:
    """A new, migrated database for the benchmark: the SQLite file ``path`` (kept with ``reuse``),
    or on PostgreSQL a new scratch database (``path`` and ``reuse`` do not apply). Returns where."""
    if _Target.server_url is None:
        return str(use_fresh_sqlite(path, reuse=reuse))
    name = f"malote_bench_{uuid.uuid4().hex[:12]}"
    with _admin(_Target.server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    _Target.scratch.append(name)
    _point_default_at(dict(dj_database_url.parse(scratch_url(), conn_max_age=60)))
    call_command("migrate", verbosity=0)
    return f"postgresql://{urlsplit(_Target.server_url).hostname}/{name}"


def drop_scratch_databases() -> None:
    """Drop every scratch database this run created (its connections are ended with it)."""
    if _Target.server_url is None or not _Target.scratch:
        return
    connections.close_all()
    with _admin(_Target.server_url) as admin:
        while _Target.scratch:
            admin.execute(f'DROP DATABASE IF EXISTS "{_Target.scratch.pop()}" WITH (FORCE)')


def describe() -> str:
    """The database the figures were measured on, for the JSON."""
    if connection.vendor == "postgresql":
        major, minor = divmod(connection.cursor().connection.info.server_version, 10000)
        return f"postgresql {major}.{minor} (scratch database {connection.settings_dict['NAME']}, dropped)"
    return f"sqlite {sqlite3.sqlite_version} (WAL, synchronous={settings.SQLITE_SYNCHRONOUS})"


def relabel(result: dict[str, Any]) -> dict[str, Any]:
    """On PostgreSQL, name the database the figures came from instead of the SQLite defaults."""
    if not on_postgres() or "database" not in result:
        return result
    renamed = {"baseline_sqlite3_insert_tx_per_second": "baseline_psycopg_insert_tx_per_second"}
    out = {renamed.get(key, key): value for key, value in result.items() if key != "database_file"}
    out["database"] = describe()
    return out


def bulk_insert(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows in one transaction: COPY on PostgreSQL, executemany on SQLite."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)


def after_bulk_insert(table: str) -> None:
    """Rows inserted with explicit ids: move PostgreSQL's id sequence past them and refresh the
    planner's statistics (SQLite needs neither)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )
        cursor.execute(f"ANALYZE {table}")


def vacuum_analyze(table: str) -> None:
    """After bulk UPDATEs: on PostgreSQL, clear the dead row versions and refresh the statistics, as
    autovacuum would on a table in use (SQLite updates in place and needs neither)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")


def child_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process the benchmark starts (``malote worker``): on the same database."""
    env = dict(env)
    if on_postgres():
        env["DATABASE_URL"] = scratch_url()
    else:
        env.pop("DATABASE_URL", None)
    return env


def insert_baseline(count: int) -> float:
    """Single-row insert transactions per second through the bare driver, beside Malote's rate."""
    if connection.vendor != "postgresql":
        return sqlite_insert_baseline(count)
    import psycopg

    with psycopg.connect(scratch_url(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, order_id int, kind text, data jsonb)"
        )
        start = time.perf_counter()
        for n in range(count):
            with conn.transaction():
                conn.execute("INSERT INTO bench_baseline (order_id, kind, data) VALUES (%s, 'x', '{}')", (n,))
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_baseline")
    return count / elapsed


def use_fresh_sqlite(path: Path | None = None, *, reuse: bool = False) -> Path:
    """Point the default connection at a SQLite file (new unless ``reuse``) and migrate it."""
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="malote-bench-")) / "bench.sqlite3"
    connections["default"].close()
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connections["default"].settings_dict
    if "sqlite" not in db["ENGINE"]:
        raise SystemExit("benchmarks measure the embedded SQLite default; unset DATABASE_URL")
    db["NAME"] = str(path)
    settings.DATABASES["default"]["NAME"] = str(path)
    call_command("migrate", verbosity=0)
    return path


def sqlite_insert_baseline(count: int) -> float:
    """Single-row insert transactions per second through plain sqlite3, same pragmas as Malote."""
    synchronous = settings.SQLITE_SYNCHRONOUS
    directory = Path(tempfile.mkdtemp(prefix="malote-baseline-"))
    conn = sqlite3.connect(directory / "baseline.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, order_id INTEGER, kind TEXT, data TEXT, at REAL)")
    start = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO t (order_id, kind, data, at) VALUES (?, ?, ?, ?)", (n, "x", "{}", time.time())
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed
