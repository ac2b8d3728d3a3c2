"""JSON log lines: one object per line with the fixed fields, the extras and the exception; and
the MALOTE_LOG_FORMAT setting that turns them on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from malote.core.jsonlog import JsonFormatter


def _record(message: str, *args: Any, exc: bool = False, **extra: Any) -> logging.LogRecord:
    logger = logging.getLogger("malote.test")
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logger.makeRecord(logger.name, logging.ERROR, __file__, 1, message, args, exc_info, extra=extra)


def test_a_line_is_one_json_object_with_the_fixed_fields_and_the_extras() -> None:
    line = JsonFormatter().format(_record("order %s sent", "M1", order_id=5, destination="channel:tiny"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "malote.test"
    assert entry["message"] == "order M1 sent"
    assert entry["order_id"] == 5 and entry["destination"] == "channel:tiny"
    assert entry["time"].endswith("+00:00")
    assert "exception" not in entry
    assert not {"args", "msg", "pathname", "exc_info"} & set(entry)  # the record's plumbing stays out


def test_an_exception_is_a_field_on_the_same_line() -> None:
    line = JsonFormatter().format(_record("failed", exc=True))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: boom" in entry["exception"]


def test_values_json_cannot_hold_are_written_as_text() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    entry = json.loads(JsonFormatter().format(_record("x", when=object(), path=Path("/tmp/a"))))
    assert entry["path"] == "/tmp/a" and entry["when"].startswith("<object object")
    entry = json.loads(JsonFormatter().format(_record("x", loop=loop)))
    assert entry["message"] == "x" and isinstance(entry["loop"], str)


def _log_with(tmp_path: Path, log_format: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MALOTE_LOG_FORMAT", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="malote.settings", MALOTE_VAR_DIR=str(tmp_path))
    if log_format is not None:
        env["MALOTE_LOG_FORMAT"] = log_format
    code = (
        "import django, logging; django.setup()\n"
        "try:\n    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    logging.getLogger('malote.x').exception('delivery %s failed', 7, extra={'order_id': 7})\n"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_the_setting_turns_json_lines_on(tmp_path: Path) -> None:
    result = _log_with(tmp_path, "json")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"] == "delivery 7 failed" and entry["order_id"] == 7
    assert "ZeroDivisionError" in entry["exception"]


def test_text_is_the_default(tmp_path: Path) -> None:
    result = _log_with(tmp_path, None)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("delivery 7 failed\nTraceback")


def test_an_unknown_format_is_refused_at_start(tmp_path: Path) -> None:
    result = _log_with(tmp_path, "xml")
    assert result.returncode != 0
    assert "MALOTE_LOG_FORMAT must be text or json" in result.stderr


@pytest.mark.parametrize("log_format", ["JSON", " json "])
def test_the_setting_ignores_case_and_blanks(tmp_path: Path, log_format: str) -> None:
    result = _log_with(tmp_path, log_format)
    assert json.loads(result.stderr.strip())["logger"] == "malote.x"
