"""``malote reconcile``: summary on stdout, progress on stderr, a CSV; ``--dry-run`` changes nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from malote.channels.models import Channel
from malote.orders.models import Order
from malote.reconcile.models import IntegrationIssue
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox.server import RunningFake

pytestmark = pytest.mark.django_db


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("reconcile", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_dry_run_reports_without_changing_anything_then_a_real_run_repairs(
    tiny: Channel,
    tiny_fake: RunningFake[Any],
    paid_order: Callable[..., tuple[Order, str]],
    tmp_path: Path,
) -> None:
    tiny_fake.faults.set("drop_order_creation", 1)
    order, _ = paid_order()
    drain()
    report = tmp_path / "dry.csv"
    out, err = run("--dry-run", "--channel", "tiny", "--since", "2020-01-01", "--report", str(report))
    assert "Dry run" in out and "integration:tiny: checked 1, missing 1" in out
    assert str(report) in out and "[" in err and "1/" in err
    rows = read_csv(report)
    assert [(r["kind"], r["what"], r["order"], r["action"]) for r in rows] == [
        ("not_integrated", "missing_in_erp", order.number, "reintegrated")
    ]
    assert f"tiny {order.number}: reintegrated" in out
    assert not IntegrationIssue.objects.exists()
    assert OutboxMessage.objects.filter(payload__op="order").count() == 1

    real = tmp_path / "real.csv"
    out, _ = run("--channel", "tiny", "--report", str(real))
    assert "repair:reintegrated 1" in out
    rows = read_csv(real)
    assert rows[0]["state"] == "resolving" and rows[0]["recommended_action"] == "reintegrate"


def test_unknown_channel_and_bad_date_are_errors(db: None) -> None:
    with pytest.raises(CommandError):
        run("--channel", "nope")
    with pytest.raises(CommandError):
        run("--since", "ontem")
