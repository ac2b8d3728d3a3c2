"""Scale-out tried: three ``malote worker`` processes on one PostgreSQL database, one killed mid-run.

While a stream of outbox messages for several orders arrives and three schedules fall due every
one or two seconds, one worker is killed with SIGKILL while it holds a delivery in flight (the
receiver holds that request open, so the kill surely lands between the remote call and the
settling commit). The other two keep going. Afterwards:

- every schedule slot was run at most once (the job's own effect is counted, not only the
  ``ScheduleRun`` rows), every finished run had exactly one effect, and slots after the kill ran;
- each order's messages reached the receiver in order (a redelivery repeats only the last one);
- every message was delivered exactly once, except those the killed worker held, which were
  delivered again under the same ``Idempotency-Key``;
- nothing is stuck: every message is done, the killed worker's leases expired and were taken.

The workers are the real ``worker`` command, started inside ``malote shell`` so the process first
registers the test's schedule job (a job that tells the receiver which slot it runs).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from malote.sync.tests.processes import python, worker_database
from malote_dev.testing.sync import HttpSink, Received, Reply

pytestmark = pytest.mark.postgres

ORDERS = 12
ROUNDS = 40  # one message per order per round, a round every 0.15 s: about 6 s of stream
HELD = ("order:0", 5)  # the receiver holds this delivery open until its worker is killed
LEASE = "2"
SCHEDULES = {"beacon-1s-a": 1, "beacon-1s-b": 1, "beacon-2s": 2}
DEADLINE = 120.0  # seconds, generous for a loaded machine; every wait below ends by it (about 20 s quiet)

SETUP = """
import json
from malote.sync.models import Schedule
Schedule.objects.update(enabled=False)  # whatever migrate created: only the test's schedules run
for name, interval in {schedules}.items():
    Schedule.objects.create(
        name=name, job="test.beacon", interval_seconds=interval, params={{"url": "{url}"}}
    )
print(json.dumps(True))
"""

# The real worker command, in a process that first registers the beacon job.
WORKER = """
from django.core.management import call_command
from malote.sync import http, schedules

def beacon(schedule, slot):
    body = {{"schedule": schedule.name, "slot": slot.timestamp(), "worker": "{name}"}}
    http.post_json(schedule.params["url"], body, {{}})
    return "beacon"

schedules.register_job("test.beacon", beacon)
call_command("worker", "--name", "{name}", "--lease", "{lease}", "--batch", "8", "--threads", "4")
"""

FEED = """
import json, time
from django.db import transaction
from malote.sync import outbox
for seq in range({rounds}):
    with transaction.atomic():
        for k in range({orders}):
            key = f"order:{{k}}"
            body = {{"key": key, "seq": seq}}
            outbox.enqueue("http:receiver", "test", {{"url": "{url}", "body": body}}, key=key)
    time.sleep(0.15)
print(json.dumps(True))
"""

HOLDER = """
import json
from malote.sync.models import OutboxMessage
held = OutboxMessage.objects.get(idempotency_key="{key}")
mine = OutboxMessage.objects.filter(state="in_flight", lease_owner=held.lease_owner)
print(json.dumps([held.lease_owner, sorted(mine.values_list("idempotency_key", flat=True))]))
"""

FINAL = """
import json
from malote.sync.models import OutboxMessage, ScheduleRun
print(json.dumps({
    "messages": list(OutboxMessage.objects.values("idempotency_key", "state", "attempts", "lease_owner")),
    "runs": [
        [run.schedule.name, run.slot.timestamp(), run.worker, run.finished_at is not None]
        for run in ScheduleRun.objects.filter(schedule__job="test.beacon").select_related("schedule")
    ],
}))
"""


class Receiver:
    """The HTTP sink's answers: the held delivery waits until released; everything else at once."""

    def __init__(self) -> None:
        self.held_arrived = threading.Event()
        self.release = threading.Event()
        self.held_key = ""

    def __call__(self, request: Received) -> Reply:
        body = request.json()
        if (body.get("key"), body.get("seq")) == HELD and not self.held_arrived.is_set():
            self.held_key = request.headers["Idempotency-Key"]
            self.held_arrived.set()
            self.release.wait(timeout=DEADLINE)
        return Reply()


def start_worker(env: dict[str, str], name: str) -> subprocess.Popen[str]:
    code = WORKER.format(name=name, lease=LEASE)
    return subprocess.Popen(
        [sys.executable, "-m", "malote.cli", "shell", "--no-imports", "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_running(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    line = worker.stdout.readline()  # the worker command prints it once its signal handlers are set
    if not line.startswith("worker "):
        worker.kill()
        raise AssertionError(f"worker did not start: {line!r} {worker.communicate(timeout=30)[1][-2000:]}")


def wait_for(condition: Any, deadline: float, what: str) -> Any:
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}")


def test_killed_worker_leaves_schedules_once_per_slot_and_orders_in_order(tmp_path: Path) -> None:
    receiver_answers = Receiver()
    with HttpSink(receiver_answers) as receiver, worker_database(tmp_path) as env:
        deadline = time.monotonic() + DEADLINE
        python(env, SETUP.format(schedules=SCHEDULES, url=receiver.url + "/beacon"))
        names = ["w1", "w2", "w3"]
        workers: dict[str, subprocess.Popen[str]] = {}
        feeder: subprocess.Popen[str] | None = None
        try:
            workers.update((name, start_worker(env, name)) for name in names)
            for worker in workers.values():
                wait_running(worker)
            feeder = subprocess.Popen(
                [sys.executable, "-m", "malote.cli", "shell", "--no-imports", "-c",
                 FEED.format(rounds=ROUNDS, orders=ORDERS, url=receiver.url + "/events")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            wait_for(receiver_answers.held_arrived.is_set, deadline, "the held delivery")
            victim, killed_keys = python(env, HOLDER.format(key=receiver_answers.held_key))
            workers[victim].send_signal(signal.SIGKILL)  # its batch is still waiting on the held reply
            workers[victim].communicate(timeout=30)
            assert workers[victim].returncode == -signal.SIGKILL, "killed, not stopped"
            killed_at = time.time()
            receiver_answers.release.set()
            _, feed_errors = feeder.communicate(timeout=max(deadline - time.monotonic(), 1))
            assert feeder.returncode == 0, feed_errors[-2000:]
            survivors = [name for name in names if name != victim]

            def all_delivered_and_slots_after_kill() -> bool:
                state = python(env, FINAL)
                done = all(m["state"] == "done" for m in state["messages"])
                after = Counter(name for name, slot, _, _ in state["runs"] if slot > killed_at + 1)
                return (
                    done
                    and len(state["messages"]) == ORDERS * ROUNDS
                    and min(after[name] for name in SCHEDULES) >= 2
                )

            wait_for(
                all_delivered_and_slots_after_kill, deadline, "every message and two slots after the kill"
            )
        finally:
            receiver_answers.release.set()
            for worker in workers.values():
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            for worker in workers.values():
                worker.communicate(timeout=60)
            if feeder is not None and feeder.poll() is None:
                feeder.kill()
                feeder.communicate(timeout=30)
        for name in survivors:
            assert workers[name].returncode == 0, f"{name}: SIGTERM is a graceful stop"
        state = python(env, FINAL)

    events = [(r.headers["Idempotency-Key"], r.json()) for r in receiver.requests if r.path == "/events"]
    beacons = [r.json() for r in receiver.requests if r.path == "/beacon"]
    killed = set(killed_keys)

    # Schedules: each slot's job ran at most once, each finished run had exactly one effect.
    effects = Counter((b["schedule"], b["slot"]) for b in beacons)
    assert not [slot for slot, n in effects.items() if n > 1], "a schedule slot ran twice"
    finished = {(name, slot): worker for name, slot, worker, done in state["runs"] if done}
    runs = {(name, slot) for name, slot, _, _ in state["runs"]}
    assert set(effects) <= runs, "a job ran without winning its slot"
    assert finished.keys() <= set(effects), "a finished run left no effect"
    assert {
        (b["schedule"], b["slot"]): b["worker"] for b in beacons if (b["schedule"], b["slot"]) in finished
    } == finished
    after_kill = {name for name, slot, _, _ in state["runs"] if slot > killed_at + 1}
    assert after_kill == set(SCHEDULES), "every schedule ran after the kill"

    # Delivery: every message once, the killed worker's again under the same key, nothing stuck.
    messages = {m["idempotency_key"]: m for m in state["messages"]}
    assert len(messages) == ORDERS * ROUNDS
    assert {m["state"] for m in messages.values()} == {"done"}, "nothing stuck or dead"
    received = Counter(key for key, _ in events)
    assert set(received) == set(messages), "every message reached the receiver"
    assert receiver_answers.held_key in killed, "the kill landed with the held delivery in flight"
    assert received[receiver_answers.held_key] >= 2, "the held delivery was delivered again"
    repeated = {key for key, n in received.items() if n > 1}
    assert repeated <= killed, f"delivered twice without a kill: {sorted(repeated - killed)[:5]}"
    assert all(messages[key]["attempts"] >= 2 for key in killed), "the expired leases were taken over"
    bodies: dict[str, set[str]] = defaultdict(set)
    for key, body in events:
        bodies[key].add(json.dumps(body, sort_keys=True))
    assert all(len(versions) == 1 for versions in bodies.values()), "a redelivery is the same message"

    # Per-order order: seqs ascending; a redelivery repeats only the message just sent.
    per_order: dict[str, list[int]] = defaultdict(list)
    for _, body in events:
        seqs = per_order[body["key"]]
        if not seqs or seqs[-1] != body["seq"]:
            seqs.append(body["seq"])
    disordered = {key: seqs for key, seqs in per_order.items() if seqs != list(range(ROUNDS))}
    assert len(per_order) == ORDERS
    assert not disordered, f"out of order: {json.dumps(disordered)[:500]}"
