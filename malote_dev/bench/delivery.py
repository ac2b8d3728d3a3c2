"""``malote bench delivery`` and ``malote bench latency``: the outbox against a local HTTP sink.

delivery: N messages over M orders (interleaved) delivered by one in-process worker, per-order
order checked at the sink; then the same workload through the ``django-tasks-db`` worker as a peer.
latency: a real ``malote worker`` process is started and, once it has claimed and delivered a first
message (its start-up, reported apart), a steady stream of committed messages at R per second;
p50/p95/p99/max from commit to arrival at the sink, with the machine's load.
"""

from __future__ import annotations

import json
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
from malote_dev.bench.database import child_environment, use_fresh_database
from malote_dev.bench.sink import SinkProcess


def _violations(lines: list[str]) -> tuple[int, int]:
    """(orders delivered out of order, distinct deliveries) from the sink's log."""
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
    path = use_fresh_database(workdir / "bench.sqlite3")
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


def _percentile(ordered: list[float], p: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 1)


def _load() -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    return {"load_average_1_5_15": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": os.cpu_count()}


def _wait_for_lines(sink: SinkProcess, count: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    lines = sink.lines()
    while len(lines) < count and time.monotonic() < deadline:
        time.sleep(0.01)
        lines = sink.lines()
    return lines


def _enqueue_stamped(sink: SinkProcess, key: str, seq: int) -> float:
    with transaction.atomic():
        outbox.enqueue("http:sink", "bench", {"url": sink.url, "body": {"key": key, "seq": seq}}, key=key)
    return time.time()


def measure_latency(var_dir: Path, rate: float, seconds: float, *, keys: int = 200) -> dict[str, Any]:
    """Commit → arrival at the sink, through a real ``malote worker`` process on the default database.

    On SQLite the database must be ``<var_dir>/malote.sqlite3`` (the worker finds it through
    ``MALOTE_VAR_DIR``); on PostgreSQL the worker is given the scratch database's URL. The worker's
    start-up (spawn → the first message claimed and delivered: interpreter, Django and its checks,
    the first claim) is measured apart and not counted in the stream's figures: the stream starts
    once the worker is up and claiming.
    """
    connections["default"].close()
    sink = SinkProcess(var_dir / f"sink-{os.getpid()}-{time.monotonic_ns()}.log")
    env = child_environment({**os.environ, "MALOTE_VAR_DIR": str(var_dir), "MALOTE_LOG_LEVEL": "WARNING"})
    load_before = _load()
    # Committed before the spawn, so its arrival marks the worker's first claim.
    spawned_at = _enqueue_stamped(sink, "warm-up", -1)
    worker = subprocess.Popen(
        [sys.executable, "-m", "malote.cli", "worker", "--no-schedules", "--threads", "4", "--batch", "50"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        warm = _wait_for_lines(sink, 1, timeout=120)
        if not warm:
            raise RuntimeError("the worker delivered nothing within 120 s of its start")
        startup_seconds = float(warm[0].split(" ", 1)[0]) - spawned_at

        total = int(rate * seconds)
        committed: dict[int, float] = {}
        start = time.perf_counter()
        for n in range(total):
            wait = start + n / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            committed[n] = _enqueue_stamped(sink, f"order:{n % keys}", n)
        produced_seconds = time.perf_counter() - start
        lines = _wait_for_lines(sink, total + 1, timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        sink.stop()
    load_after = _load()

    latencies = []
    for line in lines[1:]:
        received, _, body = line.split(" ", 2)
        seq = int(json.loads(body)["seq"])
        if seq >= 0:
            latencies.append((float(received) - committed[seq]) * 1000)
    latencies.sort()
    return {
        "rate_per_second": rate,
        "events": total,
        "produced_in_seconds": round(produced_seconds, 2),
        "delivered": len(latencies),
        "p50_ms": _percentile(latencies, 0.50),
        "p95_ms": _percentile(latencies, 0.95),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "worker_startup_seconds": round(startup_seconds, 2),
        "worker_startup": "spawn → first message claimed and at the sink (not in the figures above)",
        "machine_before": load_before,
        "machine_after": load_after,
    }


def run_latency(rate: float, seconds: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="malote-bench-latency-"))
    database = use_fresh_database(workdir / "malote.sqlite3")
    figures = measure_latency(workdir, rate, seconds)
    return {
        "benchmark": "latency",
        "database": database,
        **figures,
        "worker": "1 `malote worker` process (4 delivery threads, batch 50)",
        "goal": "p99 < 1000 ms",
    }
