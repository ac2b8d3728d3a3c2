"""The delivery worker: claim a batch, deliver it outside any transaction, settle it.

Any number of workers may run at once (on several hosts with PostgreSQL). Each holds leases that
a heartbeat thread renews; a worker killed mid-batch stops renewing, its leases expire, and
another worker delivers those messages again (at least once; remotes receive the message's
idempotency key so the effect happens once). SIGTERM finishes the batch in hand, gives back
what was not started, and exits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import close_old_connections, connections

from malote.sync import crashpoints, heartbeats, http, outbox, schedules
from malote.sync.errors import DeliveryError
from malote.sync.handlers import handler_for
from malote.sync.models import OutboxMessage

log = logging.getLogger(__name__)


@dataclass
class WorkerOptions:
    batch: int = 50
    threads: int = 8
    lease_seconds: float = 30.0
    idle_sleep: float = 0.05
    max_idle_sleep: float = 1.0
    run_schedules: bool = True
    prefix: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def deliver(message: OutboxMessage) -> outbox.Outcome:
    try:
        handler_for(message.destination)(message)
    except DeliveryError as exc:
        return outbox.Outcome(message.pk, exc)
    except Exception as exc:  # a handler bug must not kill the worker; keep it visible and retry
        log.exception("handler failed for outbox message %s", message.pk)
        return outbox.Outcome(message.pk, DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True))
    return outbox.Outcome(message.pk)


def _deliver_in_pool(message: OutboxMessage) -> outbox.Outcome:
    try:
        return deliver(message)
    finally:
        connections.close_all()  # the pool thread's own connections


class Worker:
    def __init__(self, options: WorkerOptions | None = None, name: str | None = None) -> None:
        self.options = options or WorkerOptions()
        self.name = name or worker_name()
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=self.options.threads, thread_name_prefix="deliver")

    def run_once(self) -> int:
        """Claim, deliver and settle one batch; returns how many messages it handled."""
        ids = outbox.claim(
            self.name,
            limit=self.options.batch,
            lease_seconds=self.options.lease_seconds,
            prefix=self.options.prefix,
        )
        if not ids:
            return 0
        crashpoints.reach("after_claim")
        messages = list(OutboxMessage.objects.filter(id__in=ids).order_by("id"))
        if self.stopping.is_set():
            outbox.release(self.name, ids)
            return 0
        if len(messages) == 1 or self.options.threads <= 1:
            outcomes = [deliver(m) for m in messages]
        else:
            outcomes = list(self._pool.map(_deliver_in_pool, messages))
        crashpoints.reach("after_remote_call")
        outbox.settle(self.name, outcomes)
        return len(outcomes)

    def _heartbeat(self) -> None:
        # Renew leases three times per lease, and beat at least every BEAT_EVERY whatever the lease.
        interval = min(max(self.options.lease_seconds / 3, 0.5), heartbeats.BEAT_EVERY.total_seconds())
        while not self.stopping.wait(interval):
            try:
                outbox.renew_leases(self.name, lease_seconds=self.options.lease_seconds)
            except Exception:
                log.exception("lease renewal failed")
            self._beat()
            close_old_connections()
        connections.close_all()

    def _beat(self) -> None:
        # A missed beat must not stop the worker: /healthz and the metrics show it going stale.
        try:
            heartbeats.beat(self.name)
        except Exception:
            log.exception("worker heartbeat failed")

    def _schedules(self) -> None:
        while not self.stopping.wait(1.0):
            try:
                schedules.run_due(self.name)
            except Exception:
                log.exception("schedules failed")
            finally:
                close_old_connections()
        connections.close_all()

    def run(self) -> None:
        """Loop until ``stopping`` is set (SIGTERM, SIGINT or a test)."""
        threads = [threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)]
        if self.options.run_schedules:
            threads.append(threading.Thread(target=self._schedules, name="schedules", daemon=True))
        try:
            heartbeats.prune()
        except Exception:
            log.exception("pruning old worker heartbeats failed")
        self._beat()  # at once, so a fresh start is seen as soon as it runs
        for thread in threads:
            thread.start()
        sleep = self.options.idle_sleep
        log.info("worker %s started", self.name)
        try:
            while not self.stopping.is_set():
                try:
                    handled = self.run_once()
                except Exception:  # database busy or gone: back off and try again
                    log.exception("worker loop error")
                    handled = 0
                if handled:
                    sleep = self.options.idle_sleep
                    continue
                self.stopping.wait(sleep)
                sleep = min(sleep * 2, self.options.max_idle_sleep)
        finally:
            self.stopping.set()
            self._pool.shutdown(wait=True)
            http.close_connections()
            for thread in threads:
                thread.join(timeout=5)
            try:
                heartbeats.forget(self.name)
            except Exception:
                log.exception("removing the worker heartbeat failed")
            log.info("worker %s stopped", self.name)

    def stop(self, *_: object) -> None:
        self.stopping.set()


def drain(max_rounds: int = 1000, *, prefix: str | None = None) -> int:
    """Deliver everything due now in this process (tests, the demo, ``malote outbox drain``)."""
    options = WorkerOptions(threads=1, run_schedules=False, prefix=prefix)
    worker = Worker(options, name="drain-" + uuid.uuid4().hex[:6])
    total = 0
    try:
        for _ in range(max_rounds):
            handled = worker.run_once()
            total += handled
            if not handled:
                break
            time.sleep(0)
    finally:
        worker.stop()
        worker._pool.shutdown(wait=True)
        http.close_connections()
    return total
