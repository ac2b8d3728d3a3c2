"""The ``http`` outbox handler: POST ``payload["body"]`` as JSON to ``payload["url"]``.

A plain delivery for internal integrations, tests and the delivery benchmark. The message's
idempotency key travels as ``Idempotency-Key`` so the receiver can drop a repeat. It keeps one
keep-alive ``http.client`` connection per delivery thread and host: the standard library's client
costs a fraction of a general-purpose one per request, which matters at a thousand a second.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

from malote.sync.errors import RETRYABLE_4XX, DeliveryError, retry_after_seconds
from malote.sync.models import OutboxMessage

TIMEOUT_SECONDS = 10.0
_local = threading.local()
# Every connection opened, so a stopping worker can close them all (not only its own thread's).
_opened: list[http.client.HTTPConnection] = []
_opened_lock = threading.Lock()


def _connection(scheme: str, netloc: str) -> http.client.HTTPConnection:
    pool: dict[tuple[str, str], http.client.HTTPConnection] = _local.__dict__.setdefault("pool", {})
    conn = pool.get((scheme, netloc))
    if conn is None:
        cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        conn = pool[(scheme, netloc)] = cls(netloc, timeout=TIMEOUT_SECONDS)
        with _opened_lock:
            _opened.append(conn)
    return conn


def close_connections() -> None:
    """Close every keep-alive connection (a worker stopping, a test ending)."""
    with _opened_lock:
        opened = list(_opened)
        _opened.clear()
    for conn in opened:
        conn.close()
    _local.__dict__.pop("pool", None)


def _forget(scheme: str, netloc: str) -> None:
    conn = _local.__dict__.get("pool", {}).pop((scheme, netloc), None)
    if conn is not None:
        conn.close()
        with _opened_lock:
            if conn in _opened:
                _opened.remove(conn)


def deliver_http(message: OutboxMessage) -> None:
    headers = {"Idempotency-Key": message.idempotency_key, "Malote-Key": message.key}
    post_json(str(message.payload["url"]), message.payload.get("body", {}), headers)


def post_json(url: str, payload: object, extra_headers: dict[str, str]) -> None:
    """POST JSON over this thread's keep-alive connection; failures become classified DeliveryErrors."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DeliveryError(f"Not an http(s) URL: {url!r}.", retryable=False)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **extra_headers}
    conn = _connection(parts.scheme, parts.netloc)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()[:300].decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        _forget(parts.scheme, parts.netloc)
        raise DeliveryError(f"POST {url}: {type(exc).__name__}: {exc}", retryable=True) from exc
    if response.will_close:
        _forget(parts.scheme, parts.netloc)
    status = response.status
    if 200 <= status < 300:
        return
    raise DeliveryError(
        f"POST {url}: HTTP {status} {text}",
        retryable=status >= 500 or status in RETRYABLE_4XX,
        status=status,
        retry_after=retry_after_seconds(response.getheader("Retry-After")),
    )
