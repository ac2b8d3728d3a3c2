"""The demo loader and the console entry point."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from malote.accounts.models import ApiToken
from malote.orders.models import Order, OrderEvent
from malote.stock.models import StockItem

pytestmark = pytest.mark.django_db


def test_demo_loads_orders_in_many_statuses_and_is_idempotent() -> None:
    out = io.StringIO()
    call_command("demo", orders=28, stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert "API token:" in text
    assert Order.objects.count() == 28
    statuses = set(Order.objects.values_list("status", flat=True))
    assert {"pending_payment", "paid", "invoiced", "shipped", "delivered", "canceled"} <= statuses
    assert Order.objects.filter(external_id="02-704319102").exists()
    assert StockItem.objects.count() >= 8
    assert OrderEvent.objects.count() > 28
    call_command("demo", orders=28, stdout=io.StringIO(), stderr=io.StringIO())
    assert Order.objects.count() == 28
    assert ApiToken.objects.count() == 2  # a fresh token per run, printed each time


def _printed_logins(text: str) -> dict[str, str]:
    return dict(re.findall(r"login:\s+(\S+) / (\S+)", text))


def test_demo_passwords_are_random_per_run_and_printed() -> None:
    first, second = io.StringIO(), io.StringIO()
    call_command("demo", orders=1, stdout=first, stderr=io.StringIO())
    call_command("demo", orders=1, stdout=second, stderr=io.StringIO())
    before, after = _printed_logins(first.getvalue()), _printed_logins(second.getvalue())
    assert set(before) == set(after) == {"operador", "admin"}
    users = get_user_model().objects
    for username, password in after.items():
        assert len(password) >= 16 and password != before[username]
        assert users.get(username=username).check_password(password)  # the printed one works
        assert not users.get(username=username).check_password(before[username])  # the old one not
        assert not users.get(username=username).check_password("malote-demo")  # the published one


def test_console_command_runs_django_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "malote.cli", "help", "bench"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "transitions" in result.stdout and "search" in result.stdout
