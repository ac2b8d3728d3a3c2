"""A short soak (≈ 90 s of wall time): a few sales on every channel, a dropped ERP creation and a
couple of 503s, over the shop's history seeded before the go-live, then the oracle. Asserts no
sale lost, none duplicated, no false alarm and the history untouched.

No harmful automatic action either. The full run is ``malote soak`` (a benchmark: it prints JSON).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The soak takes a scratch SQLite of its own (never the caller's DATABASE_URL).
pytestmark = pytest.mark.own_sqlite


def _soak(tmp_path: Path) -> dict[str, Any]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "malote_dev.settings"}
    env.pop("MALOTE_SOAK_INNER", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "malote.cli",
            "soak",
            "--seed",
            "3",
            "--minutes",
            "1.2",
            "--workers",
            "2",
            "--small",
            "--sales",
            "6",
            "--dir",
            str(tmp_path / "soak"),
            "--out",
            str(tmp_path / "soak.json"),
        ],
        capture_output=True,
        env=env,
        timeout=400,
        check=False,
    )
    log = (
        (tmp_path / "soak" / "soak.log").read_text(errors="replace")
        if (tmp_path / "soak" / "soak.log").exists()
        else ""
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:] + log[-3000:]
    return json.loads((tmp_path / "soak.json").read_text())


def test_short_soak_loses_nothing_duplicates_nothing_and_raises_no_false_alarm(tmp_path: Path) -> None:
    result = _soak(tmp_path)
    summary, report = result["summary"], result["report"]
    assert summary.get("lost") is not None and report["orders"]["sales_placed"] >= 6
    assert summary["lost"] == 0, report["orders"]["lost"]
    assert summary["duplicated"] == 0, report["orders"]["duplicated"]
    assert summary["issues_fp"] == 0, report["issues"]["false_positives"]
    assert summary["harmful_actions"] == 0, report["issues"]["actions"]
    # The shop's history (a previous integration's, dated before the go-live) stays as it was.
    assert report["history"]["records"] >= 30
    assert summary["history_records_touched"] == 0, report["history"]
    assert summary["history_orders_imported"] == 0, report["orders"]["history_imported"]
