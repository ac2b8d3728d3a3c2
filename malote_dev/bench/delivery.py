"""``malote bench delivery`` and ``malote bench latency``: the outbox against a local HTTP sink.

delivery: N messages over M orders (interleaved) delivered by one in-process worker, per-order
order checked at the sink; then the same workload through the ``django-tasks-db`` worker as a peer.
latency: a steady stream of committed messages at R per second, a real ``malote worker`` process
delivering them; p50/p99 from commit to arrival at the sink.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connections, transaction

from malote.sync import outbox
from malote.sync.worker import Worker, WorkerOptions
from malote_dev.bench.database import use_fresh_sqlite
from malote_dev.bench.sink import SinkProcess


def _violations(lines: list[str]) -> tuple[int, int]:
    """(orders delivered out of order, distinct deliveries) from the sink's log."""
    import json

    seen: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        _, key, body = line.split(" ", 2)
        seqs = seen[key]
        seq = int(json.loads(body)["seq"])
        if not seqs or seqs[-1] != seq:
            seqs.append(seq)
    bad = sum(1 for seqs in seen.values() if seqs != sorted(seqs))
    return bad, sum(len(s) for s in seen.values())


def _workload(messages: int, orders: int) -> list[tuple[str, int]]:
    return [(f"order:{n % orders}", n // orders) for n in range(messages)]


def run_delivery(messages: int, orders: int, threads: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="malote-bench-delivery-"))
    path = use_fresh_sqlite(workdir / "bench.sqlite3")
    work = _workload(messages, orders)

    sink = SinkProcess(workdir / "malote.log")
    with transaction.atomic():
        for key, seq in work:
            outbox.enqueue("http:sink", "bench", {"url": sink.url, "body": {"key": key, "seq": seq}}, key=key)
    worker = Worker(WorkerOptions(batch=100, threads=threads, run_schedules=False), name="bench")
    start = time.perf_counter()
    while worker.run_once():
        pass
    malote_seconds = time.perf_counter() - start
    worker.stop()
    malote_bad, malote_count = _violations(sink.lines())
    sink.stop()

    from malote_dev.bench.peer import deliver_to_sink

    peer_sink = SinkProcess(workdir / "peer.log")
    with transaction.atomic():
        for key, seq in work:
            deliver_to_sink.enqueue(peer_sink.url, key, seq)
    start = time.perf_counter()
    call_command("db_worker", batch=True, interval=0, startup_delay=False, verbosity=0, reload=False)
    peer_seconds = time.perf_counter() - start
    peer_bad, peer_count = _violations(peer_sink.lines())
    peer_sink.stop()

    malote_rate = messages / malote_seconds
    peer_rate = messages / peer_seconds
    return {
        "benchmark": "delivery",
        "database": f"sqlite (WAL) {path}",
        "messages": messages,
        "orders": orders,
        "malote": {
            "seconds": round(malote_seconds, 3),
            "deliveries_per_second": round(malote_rate, 1),
            "delivered": malote_count,
            "orders_out_of_order": malote_bad,
            "worker": f"1 process, batch 100, {threads} delivery threads",
        },
        "peer_django_tasks_db": {
            "seconds": round(peer_seconds, 3),
            "deliveries_per_second": round(peer_rate, 1),
            "delivered": peer_count,
            "orders_out_of_order": peer_bad,
            "worker": "db_worker --batch --interval 0 (one task at a time; no per-order ordering)",
        },
        "ratio_malote_to_peer": round(malote_rate / peer_rate, 2),
        "goal": ">= 1000 deliveries/s and >= 3x the peer",
    }


def run_latency(rate: float, seconds: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="malote-bench-latency-"))
    use_fresh_sqlite(workdir / "malote.sqlite3")
    connections["default"].close()
    sink = SinkProcess(workdir / "sink.log")
    env = {**os.environ, "MALOTE_VAR_DIR": str(workdir), "MALOTE_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "malote.cli", "worker", "--no-schedules", "--threads", "4", "--batch", "50"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    time.sleep(2.0)  # let the worker start
    total = int(rate * seconds)
    committed: dict[int, float] = {}
    start = time.perf_counter()
    for n in range(total):
        wait = start + n / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        key = f"order:{n % 200}"
        with transaction.atomic():
            outbox.enqueue("http:sink", "bench", {"url": sink.url, "body": {"key": key, "seq": n}}, key=key)
        committed[n] = time.time()
    produced_seconds = time.perf_counter() - start
    deadline = time.monotonic() + 30
    while len(sink.lines()) < total and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    import json

    latencies = []
    for line in sink.lines():
        received, _, body = line.split(" ", 2)
        seq = int(json.loads(body)["seq"])
        latencies.append((float(received) - committed[seq]) * 1000)
    sink.stop()
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))], 1)

    return {
        "benchmark": "latency",
        "rate_per_second": rate,
        "events": total,
        "produced_in_seconds": round(produced_seconds, 2),
        "delivered": len(latencies),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "worker": "1 `malote worker` process (4 delivery threads) on SQLite WAL",
        "goal": "p99 < 1000 ms",
    }
