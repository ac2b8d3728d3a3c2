"""The peer of ``malote bench workers``: procrastinate, the PostgreSQL-native task engine, doing
Malote's delivery work through its own documented API — one job per message, ``lock=<order key>``
so each order's jobs run one at a time in the order they were deferred, POSTing to the sink with
the same HTTP code Malote's ``http`` handler uses, so only the queue machinery differs.

``python -m malote_dev.bench.procrastinate_peer --dsn URL --concurrency N`` runs one worker
process until SIGTERM. Its schema goes only in the benchmark's scratch database.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
from collections.abc import Iterable

import procrastinate

TASK_NAME = "deliver_to_sink"


def deliver_to_sink(url: str, key: str, seq: int) -> None:
    # Imported here: the worker process sets Django up first (the HTTP code reads Malote's models).
    from malote.sync.http import post_json

    post_json(url, {"key": key, "seq": seq}, {"Malote-Key": key})


def make_app(dsn: str) -> procrastinate.App:
    logging.getLogger("procrastinate").setLevel(logging.WARNING)  # not a line per job deferred or run
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))
    app.task(name=TASK_NAME)(deliver_to_sink)
    return app


def apply_schema(dsn: str) -> None:
    app = make_app(dsn)
    with app.open():
        app.schema_manager.apply_schema()


def defer_all(dsn: str, url: str, work: Iterable[tuple[str, int]]) -> None:
    """Defer one job per message, in this order, in one transaction (committed together, as
    Malote's messages are): each with its order's key as the lock."""
    import psycopg

    app = make_app(dsn)
    with app.open(), psycopg.connect(dsn) as connection, connection.transaction():
        for key, seq in work:
            app.configure_task(TASK_NAME, lock=key, connection=connection).defer(url=url, key=key, seq=seq)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "malote_dev.settings")
    import django

    django.setup()
    # The module under its own name, not ``__main__``: tasks must not live in the main module.
    peer = importlib.import_module(__spec__.name if __spec__ else __name__)

    # Sync tasks run in threads (procrastinate hands them to a thread pool); ``concurrency`` jobs in
    # flight per process, as Malote's ``--threads``. Waits for jobs (LISTEN/NOTIFY) until SIGTERM.
    peer.make_app(args.dsn).run_worker(concurrency=args.concurrency, wait=True, listen_notify=True)


if __name__ == "__main__":
    main()
