"""One JSON object per log line, for log collectors (``MALOTE_LOG_FORMAT=json``).

Every line carries ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger`` and ``message``
(the formatted message), then every field passed through ``extra=`` under its own name, then
``exception`` (the formatted traceback) and ``stack`` when the record has them. A value JSON
cannot hold is written as its ``str()`` (a circular one makes every value text). The object is on
one line: newlines inside values (tracebacks) are escaped by the encoder.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# The attributes every LogRecord has; anything else on a record came through ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(entry, ensure_ascii=False, default=str)
        except ValueError:  # a circular extra: write every value as text rather than lose the line
            return json.dumps({key: str(value) for key, value in entry.items()}, ensure_ascii=False)
