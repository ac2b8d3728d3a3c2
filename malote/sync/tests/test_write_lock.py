"""write_transaction: atomic as usual, and on SQLite it waits out another process's write lock."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from django.db import OperationalError, connection

from malote.sync import write_lock
from malote.sync.models import RateBucket
from malote.sync.write_lock import write_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def _busy_timeout() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return int(cursor.fetchone()[0])


def _other_writer() -> sqlite3.Connection:
    """Another connection to the same file, as another process would have."""
    other = sqlite3.connect(
        connection.settings_dict["NAME"], isolation_level=None, timeout=20, check_same_thread=False
    )
    other.execute("PRAGMA journal_mode=WAL")
    return other


def _bucket() -> None:
    RateBucket.objects.create(key="k", tokens=1.0, refilled_at="2026-01-01T00:00:00Z")


def test_commits_and_rolls_back_like_atomic() -> None:
    with write_transaction():
        _bucket()
    assert RateBucket.objects.count() == 1
    with pytest.raises(RuntimeError), write_transaction():
        RateBucket.objects.update(tokens=5.0)
        raise RuntimeError("the block failed")
    assert RateBucket.objects.get().tokens == 1.0


def test_inside_an_open_transaction_it_is_a_savepoint() -> None:
    from django.db import transaction

    with transaction.atomic():
        with write_transaction():
            _bucket()
        assert connection.in_atomic_block
    assert RateBucket.objects.count() == 1


def test_waits_for_another_writer_and_keeps_the_busy_timeout() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer lock")
    before = _busy_timeout()
    other = _other_writer()
    other.execute("BEGIN IMMEDIATE")  # the other process holds the write lock …
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))  # … for a while
    release.start()
    try:
        with write_transaction():
            _bucket()
    finally:
        release.join()
        other.close()
    assert RateBucket.objects.count() == 1
    assert _busy_timeout() == before


def test_gives_up_after_the_connections_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer lock")
    monkeypatch.setattr(write_lock, "_configured_timeout_seconds", lambda: 0.05)
    before = _busy_timeout()
    other = _other_writer()
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError), write_transaction():
            _bucket()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not connection.in_atomic_block
    assert _busy_timeout() == before
    with write_transaction():  # the connection is still usable
        _bucket()
    assert RateBucket.objects.count() == 1
