"""Running real ``malote`` processes against a database of their own (crash and multi-worker tests).

On SQLite the processes share a file under the test's tmp dir; on PostgreSQL (when the suite runs
with DATABASE_URL) a throwaway database is created on the same server and dropped afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings


@contextmanager
def worker_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for child processes, pointing at a fresh, migrated database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MALOTE_CRASH_AT")}
    env["MALOTE_VAR_DIR"] = str(tmp_path)
    env["MALOTE_LOG_LEVEL"] = "WARNING"
    db = settings.DATABASES["default"]
    name = ""
    if "postgresql" in str(db["ENGINE"]):
        import psycopg

        name = f"malote_proc_{uuid.uuid4().hex[:10]}"
        admin = _pg_admin(db)
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        user = admin["user"] or ""
        env["DATABASE_URL"] = f"postgres://{user}@{admin['host']}:{admin['port']}/{name}"
    try:
        run(env, "migrate", "--noinput", "-v", "0")
        yield env
    finally:
        if name:
            import psycopg

            with psycopg.connect(**_pg_admin(db), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin(db: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "dbname": "postgres",
    }


def run(
    env: dict[str, str], *args: str, timeout: float = 120, extra_env: dict[str, str] | None = None
) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "malote.cli", *args],
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"malote {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


def python(env: dict[str, str], code: str) -> Any:
    """Run Django code in a child process; the code must ``print(json.dumps(...))`` last."""
    out = run(env, "shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else None


def start(env: dict[str, str], *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "malote.cli", *args],
        env={**env, **(extra_env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_web(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    """gunicorn (the production server ``make run`` uses) on 127.0.0.1:port; waits until it answers."""
    import time
    import urllib.request

    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    bind = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [gunicorn, "malote.wsgi:application", "--bind", bind, "--workers", "1", "--threads", "8"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"gunicorn did not start: {process.communicate()[1][-2000:]}")


def start_worker(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.Popen[str]:
    """A ``malote worker`` process, returned once it says it is running (its signal handlers set)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "malote.cli", "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the worker prints it (or exits)
    if "running" not in line:
        process.kill()
        raise AssertionError(
            f"worker did not start: {line!r} {process.communicate(timeout=timeout)[1][-2000:]}"
        )
    return process
