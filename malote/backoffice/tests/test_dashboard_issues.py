"""The dashboard counts integration issues per kind and stuck orders per stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.channels.models import Channel
from malote.conftest import SYSTEM
from malote.reconcile import actions
from malote.reconcile.models import IssueKind

pytestmark = pytest.mark.django_db


def test_dashboard_shows_issue_and_stuck_counts(
    user_with_role: Callable[[str], Any], channel: Channel, make_order: Any
) -> None:
    first, second = make_order(), make_order()
    actions.report(IssueKind.NOT_INTEGRATED, channel=channel, actor=SYSTEM, order=first)
    actions.report(
        IssueKind.STUCK, channel=channel, actor=SYSTEM, order=second, evidence={"stage": "paid_not_invoiced"}
    )
    client = Client()
    client.force_login(user_with_role("viewer"))
    html = client.get("/backoffice/dashboard/").content.decode()
    assert '<strong data-count="issue-not_integrated">1</strong>' in html
    assert '<strong data-count="issue-divergent">0</strong>' in html
    assert '<span data-count="stuck-total">1</span>' in html
    assert '<tr data-key="paid_not_invoiced"><td>' in html
