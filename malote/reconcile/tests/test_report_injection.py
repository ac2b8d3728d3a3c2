"""The ``malote reconcile`` CSV report neutralises formula cells (OWASP CSV injection): external
references and details come from other systems."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from malote.reconcile.management.commands.reconcile import Command


def test_the_report_neutralises_formulas_and_keeps_plain_values(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"kind": "not_integrated", "channel": "ml", "external_ref": '=HYPERLINK("http://evil.example")'},
        {"kind": "not_integrated", "channel": "ml", "external_ref": "MLB-4455", "order": None},
    ]
    path = Command._write(rows, str(tmp_path / "report.csv"))
    with path.open(newline="", encoding="utf-8") as handle:
        hostile, plain = list(csv.DictReader(handle))
    assert hostile["external_ref"] == '\'=HYPERLINK("http://evil.example")'
    assert (plain["external_ref"], plain["order"], plain["kind"]) == ("MLB-4455", "", "not_integrated")
