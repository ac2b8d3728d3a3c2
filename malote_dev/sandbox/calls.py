"""Log of every API request a fake received (control-API requests are not logged).

Each :class:`CallRecord` keeps the method, path, query, a subset of headers (credentials masked),
the body, the status answered (``None`` when the connection was dropped), the faults applied and
the timing. Tests assert on it ("Malote sent exactly one PUT with this body").
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from malote_dev.sandbox.router import Request

#: Request headers worth keeping in the log.
LOGGED_HEADERS = (
    "content-type", "accept", "user-agent", "idempotency-key", "authorization",
    "x-vtex-api-appkey", "x-vtex-api-apptoken", "x-api-key",
)  # fmt: skip
#: Logged only as present/absent: their values are secrets.
SECRET_HEADERS = frozenset({"x-vtex-api-apptoken", "x-api-key"})


def mask_authorization(value: str) -> str:
    """Keep the scheme (and the Basic user name) but never the secret."""
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return "Basic <unreadable>"
        return f"Basic {user}:***"
    return f"{scheme} ***"


@dataclass
class CallRecord:
    """One API request and the answer it got."""

    seq: int
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str
    started_at: float
    status: int | None = None
    faults: list[str] = field(default_factory=list)
    finished_at: float | None = None

    @property
    def json(self) -> Any:
        """The request body parsed as JSON, or ``None``."""
        try:
            return json.loads(self.body)
        except json.JSONDecodeError:
            return None

    @property
    def dropped(self) -> bool:
        return "drop" in self.faults

    @property
    def duration_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at) * 1000, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "faults": list(self.faults),
            "time": self.started_at,
            "duration_ms": self.duration_ms,
        }


class CallLog:
    """Thread-safe, append-only (until cleared) list of :class:`CallRecord`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []
        self._seq = 0

    def begin(self, request: Request) -> CallRecord:
        headers = {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers}
        if "authorization" in headers:
            headers["authorization"] = mask_authorization(headers["authorization"])
        for name in SECRET_HEADERS.intersection(headers):
            headers[name] = "***"
        with self._lock:
            self._seq += 1
            record = CallRecord(
                seq=self._seq,
                method=request.method,
                path=request.path,
                query={name: list(values) for name, values in request.query.items()},
                headers=headers,
                body=request.body.decode("utf-8", "replace"),
                started_at=time.time(),
            )
            self._records.append(record)
        return record

    def finish(self, record: CallRecord, status: int | None, faults: list[str]) -> None:
        with self._lock:
            record.status = status
            record.faults = list(faults)
            record.finished_at = time.time()

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def all(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def filter(self, method: str | None = None, path_prefix: str | None = None) -> list[CallRecord]:
        """Records whose method equals ``method`` and whose path starts with ``path_prefix``."""
        return [
            record
            for record in self.all()
            if (method is None or record.method == method.upper())
            and (path_prefix is None or record.path.startswith(path_prefix))
        ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __getitem__(self, index: int) -> CallRecord:
        with self._lock:
            return self._records[index]

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self.all())
