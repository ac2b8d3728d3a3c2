"""Outgoing webhooks: a background sender so API calls are never slowed by delivery.

A fake calls :meth:`WebhookDispatcher.emit` with the exact body bytes and headers (already
signed); the dispatcher applies the webhook faults, queues the message and a worker thread POSTs
it with httpx (timeout 5 s by default, no proxy from the environment, no redirects, no retries).
When no target URL is configured the message is only recorded.

Every message ends up in :class:`WebhookLog`, in the order it was processed (so a reordered batch
shows up reversed): body, headers, target, answered status or transport error, whether it was
suppressed by ``webhook_off`` and which copy it is (``2`` for the duplicate).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from malote_dev.sandbox.faults import FaultController

logger = logging.getLogger("malote_dev.sandbox")

DEFAULT_WEBHOOK_TIMEOUT = 5.0


@dataclass
class WebhookRecord:
    """One webhook as it left (or would have left) the fake."""

    seq: int
    event: str
    url: str | None
    headers: dict[str, str]
    body: bytes
    queued_at: float
    status: int | None = None
    error: str | None = None
    suppressed: bool = False
    copy: int = 1
    sent_at: float | None = None

    @property
    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @property
    def delivered(self) -> bool:
        """The target answered 2xx."""
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "event": self.event,
            "url": self.url,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
            "status": self.status,
            "error": self.error,
            "delivered": self.delivered,
            "suppressed": self.suppressed,
            "copy": self.copy,
            "queued_at": self.queued_at,
            "sent_at": self.sent_at,
        }


class WebhookLog:
    """Thread-safe list of :class:`WebhookRecord` with a blocking :meth:`wait_for`."""

    def __init__(self, settle: Callable[[], object] | None = None) -> None:
        self._changed = threading.Condition()
        self._records: list[WebhookRecord] = []
        self._seq = 0
        self._settle = settle

    def append(self, record: WebhookRecord) -> WebhookRecord:
        with self._changed:
            self._seq += 1
            record.seq = self._seq
            self._records.append(record)
            self._changed.notify_all()
        return record

    def all(self) -> list[WebhookRecord]:
        """Every webhook sent so far, once the ones already queued went out (``settle``)."""
        if self._settle is not None:
            self._settle()
        with self._changed:
            return list(self._records)

    def events(self) -> list[str]:
        return [record.event for record in self.all()]

    def wait_for(self, count: int, timeout: float = 5.0, event: str | None = None) -> list[WebhookRecord]:
        """Block until ``count`` records (of ``event``, if given) exist or ``timeout`` passes.

        Returns the matching records either way; callers assert on the length.
        """
        deadline = time.monotonic() + timeout

        def matching() -> list[WebhookRecord]:
            return [record for record in self._records if event is None or record.event == event]

        with self._changed:
            while len(matching()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return matching()

    def clear(self) -> None:
        """Forget every webhook recorded so far, those still queued included: ``settle`` (the
        dispatcher's wait for its queue) runs first, so a webhook of an earlier step cannot be
        recorded after the clear and read as one of the next."""
        if self._settle is not None:
            self._settle()
        with self._changed:
            self._records.clear()

    def __len__(self) -> int:
        with self._changed:
            return len(self._records)

    def __getitem__(self, index: int) -> WebhookRecord:
        with self._changed:
            return self._records[index]

    def __iter__(self) -> Iterator[WebhookRecord]:
        return iter(self.all())


@dataclass
class _Outgoing:
    event: str
    url: str | None
    headers: dict[str, str]
    body: bytes
    queued_at: float = field(default_factory=time.time)
    copy: int = 1


class WebhookDispatcher:
    """Queue + worker thread that delivers webhooks and records them in :attr:`log`."""

    def __init__(self, faults: FaultController, *, timeout: float = DEFAULT_WEBHOOK_TIMEOUT) -> None:
        self.timeout = timeout
        self.log = WebhookLog(settle=self.wait_idle)
        self._faults = faults
        self._queue: queue.Queue[_Outgoing | None] = queue.Queue()
        self._held_lock = threading.Lock()
        self._held: list[_Outgoing] = []
        self._idle = threading.Condition()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def emit(self, event: str, body: bytes, headers: dict[str, str], urls: Sequence[str]) -> None:
        """Send ``body`` to every URL in ``urls`` (just record it when there is none)."""
        targets: list[str | None] = list(urls) or [None]
        for url in targets:
            self._route(_Outgoing(event=event, url=url, headers=dict(headers), body=body))

    def _route(self, item: _Outgoing) -> None:
        if self._faults.take("webhook_off") is not None:
            self.log.append(
                WebhookRecord(
                    0, item.event, item.url, item.headers, item.body, item.queued_at, suppressed=True
                )
            )
            return
        copies = [item]
        if self._faults.take("webhook_duplicate") is not None:
            copies.append(_Outgoing(item.event, item.url, item.headers, item.body, item.queued_at, copy=2))
        reorder = self._faults.take("webhook_reorder")
        if reorder is None:
            for copy in copies:
                self._enqueue(copy)
            return
        with self._held_lock:
            self._held.extend(copies)
        if reorder.remaining == 0:
            self.release_held()

    def release_held(self) -> None:
        """Send every webhook held by ``webhook_reorder``, newest first."""
        with self._held_lock:
            held, self._held = self._held, []
        for item in reversed(held):
            self._enqueue(item)

    def discard_held(self) -> None:
        with self._held_lock:
            self._held.clear()

    @property
    def held(self) -> int:
        """How many webhooks ``webhook_reorder`` is holding back."""
        with self._held_lock:
            return len(self._held)

    def _enqueue(self, item: _Outgoing) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(item)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook was processed (held ones excluded)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker after the messages already queued (held ones are dropped)."""
        self.discard_held()
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        # The client is built on the first delivery: building one costs an SSL context (tens of
        # milliseconds), which fakes that never send a webhook should not pay at start or stop.
        client: httpx.Client | None = None
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                try:
                    if client is None and item.url is not None:
                        client = httpx.Client(timeout=self.timeout, trust_env=False, follow_redirects=False)
                    self._deliver(client, item)
                except Exception:  # the worker must survive anything a target does
                    logger.exception("sandbox webhook delivery crashed")
                finally:
                    with self._idle:
                        self._pending -= 1
                        self._idle.notify_all()
        finally:
            if client is not None:
                client.close()

    def _deliver(self, client: httpx.Client | None, item: _Outgoing) -> None:
        record = WebhookRecord(
            0, item.event, item.url, item.headers, item.body, item.queued_at, copy=item.copy
        )
        if client is not None and item.url is not None:
            try:
                response = client.post(item.url, content=item.body, headers=item.headers)
                record.status = response.status_code
            except httpx.HTTPError as error:
                record.error = f"{type(error).__name__}: {error}"
            record.sent_at = time.time()
        self.log.append(record)
