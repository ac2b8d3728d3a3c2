"""Benchmarks run on their own SQLite file, never on the operator's database."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connections


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
