"""Three worker processes on one PostgreSQL outbox keep per-order order and recover a killed
worker's leases (1,000 orders, 5 changes each, enqueued interleaved)."""

from __future__ import annotations

import random
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest

from malote.sync.tests.processes import python, start_worker, worker_database
from malote_dev.testing.sync import HttpSink

pytestmark = pytest.mark.postgres

ORDERS = 1000
CHANGES = 5

ENQUEUE = """
import json, random
from django.db import transaction
from malote.sync import outbox
keys = list(range({orders}))
random.Random(5).shuffle(keys)
with transaction.atomic():
    for seq in range({changes}):
        for k in keys:
            key = f"order:{{k}}"
            body = {{"key": key, "seq": seq}}
            outbox.enqueue("http:receiver", "test", {{"url": "{url}", "body": body}}, key=key)
print(json.dumps(True))
"""

PROGRESS = """
import json
from django.db.models import Count
from malote.sync.models import OutboxMessage
print(json.dumps(dict(OutboxMessage.objects.values_list("state").annotate(n=Count("id")))))
"""


def test_three_workers_keep_per_order_order_and_recover_a_killed_worker(tmp_path: Path) -> None:
    with HttpSink() as receiver, worker_database(tmp_path) as env:
        python(env, ENQUEUE.format(orders=ORDERS, changes=CHANGES, url=receiver.url + "/events"))
        args = ("--lease", "2", "--batch", "25", "--threads", "4", "--no-schedules")
        workers = [start_worker(env, *args) for _ in range(3)]
        deadline = time.monotonic() + 240
        while len(receiver.requests) < ORDERS and time.monotonic() < deadline:
            time.sleep(0.2)
        workers[0].send_signal(signal.SIGKILL)  # mid-run, with leases in hand
        workers[0].communicate(timeout=30)
        workers.append(start_worker(env, *args))
        progress: dict[str, int] = {}
        while time.monotonic() < deadline:
            progress = python(env, PROGRESS)
            if progress.get("done") == ORDERS * CHANGES:
                break
            time.sleep(1)
        for worker in workers[1:]:
            worker.send_signal(signal.SIGTERM)
        for worker in workers[1:]:
            worker.communicate(timeout=60)
            assert worker.returncode == 0, "SIGTERM is a graceful stop"

    assert progress.get("done") == ORDERS * CHANGES, progress
    per_key: dict[str, list[int]] = defaultdict(list)
    for request in receiver.requests:
        body = request.json()
        seqs = per_key[body["key"]]
        if not seqs or seqs[-1] != body["seq"]:  # a redelivery after the kill repeats the last one
            seqs.append(body["seq"])
    assert len(per_key) == ORDERS
    disordered = {key: seqs for key, seqs in per_key.items() if seqs != list(range(CHANGES))}
    assert not disordered, (
        f"{len(disordered)} orders out of order, e.g. {random.choice(list(disordered.items()))}"
    )
