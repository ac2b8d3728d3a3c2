"""``malote bench workers --database postgres://…``: delivery by 1, 2 and 4 worker processes on
one PostgreSQL outbox, against procrastinate doing the same work in the same run.

For each worker count, each side gets: a fresh queue, its own sink process (``sink.py``), N real
worker processes started and seen claiming (one warm-up message each, delivered before the clock
starts), then M messages over K orders, interleaved, committed in one transaction. The clock runs
from that commit to the last arrival at the sink. Per-order order is checked from the sink's log:
every order's sequence numbers must arrive ascending and complete.

Malote: ``malote worker --no-schedules --threads T`` (keyed FIFO claim, ``FOR UPDATE SKIP LOCKED``).
procrastinate: ``procrastinate_peer`` workers with ``concurrency=T``, one job per message,
``lock=<order key>``. Same machine, same database server, same sink, same HTTP code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from malote.sync import outbox
from malote_dev.bench.database import child_environment, on_postgres, scratch_url, use_fresh_database
from malote_dev.bench.sink import SinkProcess

WARMUP_PREFIX = "warmup:"
START_TIMEOUT_SECONDS = 60.0
GOAL = ">= 3x procrastinate at every worker count, aggregate deliveries/s growing with workers"


def workload(messages: int, orders: int) -> list[tuple[str, int]]:
    """``messages`` (key, seq) pairs over ``orders`` keys, interleaved: order 0 seq 0, order 1
    seq 0, …, order 0 seq 1, …"""
    return [(f"order:{n % orders}", n // orders) for n in range(messages)]


def check_order(lines: list[str], expected: dict[str, int]) -> dict[str, Any]:
    """What the sink received: distinct deliveries, orders whose sequence numbers arrived out of
    order or incomplete, redeliveries, and the first and last arrival times."""
    seen: dict[str, list[int]] = defaultdict(list)
    times: list[float] = []
    received = 0
    for line in lines:
        at, key, body = line.split(" ", 2)
        if key.startswith(WARMUP_PREFIX):
            continue
        received += 1
        times.append(float(at))
        seqs = seen[key]
        seq = int(json.loads(body)["seq"])
        if not seqs or seqs[-1] != seq:  # an at-least-once redelivery of the same message
            seqs.append(seq)
    out_of_order = sum(1 for seqs in seen.values() if seqs != sorted(seqs))
    incomplete = sum(
        1 for key, count in expected.items() if sorted(set(seen.get(key, []))) != list(range(count))
    )
    return {
        "delivered": len({(key, seq) for key, seqs in seen.items() for seq in seqs}),
        "received_requests": received,
        "orders_out_of_order": out_of_order,
        "orders_incomplete": incomplete,
        "first_at": min(times, default=0.0),
        "last_at": max(times, default=0.0),
    }


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _count(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Side:
    """One system under test: how to start its workers, enqueue, and tell they are up."""

    name = ""
    queue_table = ""

    def __init__(self, threads: int, workdir: Path) -> None:
        self.threads = threads
        self.workdir = workdir
        self.env = child_environment(
            {**os.environ, "MALOTE_VAR_DIR": str(workdir), "MALOTE_LOG_LEVEL": "WARNING"}
        )

    def reset(self) -> None:
        raise NotImplementedError

    def start_worker(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def workers_up(self) -> int:
        raise NotImplementedError

    def enqueue(self, url: str, work: list[tuple[str, int]]) -> None:
        raise NotImplementedError

    def describe(self, count: int) -> str:
        raise NotImplementedError


class Malote(Side):
    name = "malote"
    queue_table = "sync_outboxmessage"

    def reset(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE sync_outboxmessage, sync_workerheartbeat")

    def start_worker(self) -> subprocess.Popen[bytes]:
        command = ["worker", "--no-schedules", "--threads", str(self.threads), "--batch", "50"]
        return subprocess.Popen(
            [sys.executable, "-m", "malote.cli", *command], env=self.env, stdout=subprocess.DEVNULL
        )

    def workers_up(self) -> int:
        return _count("SELECT COUNT(*) FROM sync_workerheartbeat")

    def enqueue(self, url: str, work: list[tuple[str, int]]) -> None:
        with transaction.atomic():
            for key, seq in work:
                body = {"key": key, "seq": seq}
                outbox.enqueue("http:sink", "bench", {"url": url, "body": body}, key=key)

    def describe(self, count: int) -> str:
        return f"{count} `malote worker` process(es), --threads {self.threads} --batch 50"


class Procrastinate(Side):
    name = "procrastinate"
    queue_table = "procrastinate_jobs"

    def reset(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_workers CASCADE")

    def start_worker(self) -> subprocess.Popen[bytes]:
        command = ["--dsn", scratch_url(), "--concurrency", str(self.threads)]
        return subprocess.Popen(
            [sys.executable, "-m", "malote_dev.bench.procrastinate_peer", *command],
            env=self.env,
            stdout=subprocess.DEVNULL,
        )

    def workers_up(self) -> int:
        return _count("SELECT COUNT(*) FROM procrastinate_workers")

    def enqueue(self, url: str, work: list[tuple[str, int]]) -> None:
        from malote_dev.bench import procrastinate_peer

        procrastinate_peer.defer_all(scratch_url(), url, work)

    def describe(self, count: int) -> str:
        return f"{count} procrastinate worker process(es), concurrency {self.threads}, lock per order"


def measure(side: Side, count: int, work: list[tuple[str, int]]) -> dict[str, Any]:
    """Deliveries/s of ``count`` worker processes of ``side`` over ``work``, order checked."""
    side.reset()
    sink = SinkProcess(side.workdir / f"{side.name}-{count}.log")
    processes = [side.start_worker() for _ in range(count)]
    try:
        started = time.perf_counter()
        _wait_for(lambda: side.workers_up() >= count, START_TIMEOUT_SECONDS, f"{side.name} workers")
        # One warm-up message per process, delivered before the clock starts: workers claiming,
        # connections to the sink open.
        side.enqueue(sink.url, [(f"{WARMUP_PREFIX}{n}", 0) for n in range(count)])
        _wait_for(lambda: len(sink.lines()) >= count, START_TIMEOUT_SECONDS, f"{side.name} warm-up")
        startup_seconds = time.perf_counter() - started
        before = len(sink.lines())
        enqueue_start = time.perf_counter()
        side.enqueue(sink.url, work)
        committed_at = time.time()
        enqueue_seconds = time.perf_counter() - enqueue_start
        # The statistics a queue table in steady use has from autovacuum, inside the timed window:
        # without them, procrastinate's fetch function keeps a plan made on the near-empty table.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {side.queue_table}")
        timeout = max(120.0, len(work) / 10)
        _wait_for(lambda: len(sink.lines()) - before >= len(work), timeout, f"{side.name} deliveries")
    finally:
        _stop(processes)
        lines = sink.lines()
        sink.stop()
    expected: dict[str, int] = defaultdict(int)
    for key, _ in work:
        expected[key] += 1
    check = check_order(lines, expected)
    seconds = check["last_at"] - committed_at
    steady = check["last_at"] - check["first_at"]
    return {
        "workers": side.describe(count),
        "deliveries_per_second": round(len(work) / seconds, 1),
        "seconds_commit_to_last_delivery": round(seconds, 3),
        "deliveries_per_second_first_to_last": round((len(work) - 1) / steady, 1) if steady else None,
        "delivered": check["delivered"],
        "received_requests": check["received_requests"],
        "orders_out_of_order": check["orders_out_of_order"],
        "orders_incomplete": check["orders_incomplete"],
        "enqueue_seconds": round(enqueue_seconds, 2),
        "startup_seconds": round(startup_seconds, 2),
    }


def run(messages: int, orders: int, threads: int, counts: list[int]) -> dict[str, Any]:
    if not on_postgres():
        return {
            "benchmark": "workers",
            "skipped": "needs --database postgres://… (several worker processes share one database)",
        }
    # Here, not at the top: procrastinate is in the bench dependency group only.
    from malote_dev.bench import procrastinate_peer

    workdir = Path(tempfile.mkdtemp(prefix="malote-bench-workers-"))
    where = use_fresh_database()
    procrastinate_peer.apply_schema(scratch_url())
    connection.close()  # fresh connection: the schema's tables now exist
    work = workload(messages, orders)
    malote, peer = Malote(threads, workdir), Procrastinate(threads, workdir)
    rows: dict[str, Any] = {}
    for count in counts:
        ours = measure(malote, count, work)
        theirs = measure(peer, count, work)
        rows[str(count)] = {
            "malote": ours,
            "procrastinate": theirs,
            "ratio_malote_to_procrastinate": round(
                ours["deliveries_per_second"] / theirs["deliveries_per_second"], 2
            ),
        }
    base = counts[0]
    for count in counts:
        row = rows[str(count)]
        for name in ("malote", "procrastinate"):
            rate_one = rows[str(base)][name]["deliveries_per_second"] / base  # per process
            row[f"scaling_efficiency_{name}"] = round(
                row[name]["deliveries_per_second"] / (count * rate_one), 2
            )
    return {
        "benchmark": "workers",
        "database": where,
        "messages": messages,
        "orders": orders,
        "threads_per_process": threads,
        "by_worker_count": rows,
        "table": [
            {
                "workers": int(count),
                "malote_per_second": row["malote"]["deliveries_per_second"],
                "procrastinate_per_second": row["procrastinate"]["deliveries_per_second"],
                "ratio": row["ratio_malote_to_procrastinate"],
                "efficiency_malote": row["scaling_efficiency_malote"],
                "efficiency_procrastinate": row["scaling_efficiency_procrastinate"],
            }
            for count, row in rows.items()
        ],
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal": GOAL,
    }
