"""``kill -9`` of a worker at each dangerous point: nothing is lost, no effect happens twice.

A real ``malote worker`` process delivers to a real HTTP receiver that de-duplicates by
``Idempotency-Key`` (as the remotes Malote talks to do). The worker kills itself with SIGKILL
after claiming, after the remote calls but before recording them, or inside the commit that
records them; a second worker then finishes the job once the dead worker's leases expire.
"""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest

from malote.sync.crashpoints import POINTS
from malote.sync.tests.processes import python, run, start, worker_database
from malote_dev.testing.sync import HttpSink

pytestmark = pytest.mark.slow  # crash recovery: no date in its subject (the clock pass leaves it out)

KEYS = 6
MESSAGES = 24

ENQUEUE = """
import json
from django.db import transaction
from malote.sync import outbox
with transaction.atomic():
    for n in range({count}):
        key = f"order:{{n % {keys}}}"
        outbox.enqueue("http:receiver", "test", {{"url": "{url}", "body": {{"key": key, "seq": n}}}}, key=key)
print(json.dumps(True))
"""

STATES = """
import json
from malote.sync.models import OutboxMessage
print(json.dumps(sorted(OutboxMessage.objects.values_list("idempotency_key", "state"))))
"""


@pytest.mark.parametrize("point", POINTS)
def test_worker_killed_at_each_point_loses_nothing_and_duplicates_no_effect(
    tmp_path: Path, point: str
) -> None:
    with HttpSink() as receiver, worker_database(tmp_path) as env:
        python(env, ENQUEUE.format(count=MESSAGES, keys=KEYS, url=receiver.url + "/effects"))
        crashed = start(
            env, "worker", "--lease", "1", "--batch", "4", "--threads", "1", "--no-schedules",
            extra_env={"MALOTE_CRASH_AT": point},
        )  # fmt: skip
        _, stderr = crashed.communicate(timeout=60)
        assert crashed.returncode == -signal.SIGKILL, stderr
        time.sleep(1.2)  # the dead worker's leases expire
        run(env, "outbox", "drain")
        states = python(env, STATES)

    assert {state for _, state in states} == {"done"}, "every message delivered"
    sent = [(r.headers["Idempotency-Key"], r.json()) for r in receiver.requests]
    effects = dict(sent)
    assert set(effects) == {key for key, _ in states}, "the receiver got every message"
    assert len(effects) == MESSAGES, "each message has exactly one effect"
    if point == "after_claim":
        assert len(sent) == MESSAGES, "claimed but never sent: delivered once, after the lease expired"
    else:
        assert len(sent) > MESSAGES, "the crashed batch really was sent twice (and de-duplicated)"
    per_key: dict[str, list[int]] = defaultdict(list)
    for _, body in sent:
        seqs = per_key[body["key"]]
        if not seqs or seqs[-1] != body["seq"]:
            seqs.append(body["seq"])
    for key, seqs in per_key.items():
        assert seqs == sorted(seqs), f"{key} out of order: {json.dumps(seqs)}"
