"""A write transaction that takes SQLite's write lock promptly while another process keeps writing.

SQLite lets one writer at a time. A connection that finds the lock taken waits in SQLite's
busy handler, which sleeps 1, 2, 5 … 50 ms and then 100 ms between tries. Against a steady
writer (a web process committing orders 200 times a second, each commit an fsync) the lock is
free only for short gaps, and a waiter that looks once every 100 ms misses them again and again:
the delivery worker's claim or settle waited up to 3 s (``malote bench latency``) while every
commit of the other process went through. ``write_transaction`` asks for the lock with a busy
timeout of a few milliseconds and tries again at once, so it looks often enough to take the next
gap, up to the connection's own timeout.

On PostgreSQL (row locks, no single writer), or inside a transaction already open, it is
``transaction.atomic()``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from django.db import OperationalError, connection, transaction

# One try at SQLite's busy handler: its first sleeps (1 and 2 ms) within this many milliseconds.
POLL_MILLISECONDS = 3
DEFAULT_TIMEOUT_SECONDS = 20.0


def _configured_timeout_seconds() -> float:
    options = connection.settings_dict.get("OPTIONS") or {}
    return float(options.get("timeout") or DEFAULT_TIMEOUT_SECONDS)


def _is_lock_busy(exc: OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


@contextmanager
def _busy_timeout(milliseconds: int) -> Iterator[int]:
    """Set the connection's busy timeout for the block; yields the one it had."""
    connection.ensure_connection()
    raw = connection.connection
    previous = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
    raw.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    try:
        yield previous
    finally:
        raw.execute(f"PRAGMA busy_timeout = {previous}")


@contextmanager
def write_transaction() -> Iterator[None]:
    """``transaction.atomic()`` whose SQLite write lock is asked for every few milliseconds."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with ExitStack() as stack:
        deadline = time.monotonic() + _configured_timeout_seconds()
        with _busy_timeout(POLL_MILLISECONDS):
            while True:
                try:
                    stack.enter_context(transaction.atomic())  # BEGIN IMMEDIATE: the write lock
                    break
                except OperationalError as exc:
                    if not _is_lock_busy(exc) or time.monotonic() >= deadline:
                        raise
                    time.sleep(random.uniform(0, 0.001))  # out of step with the other writer's rhythm
        yield
