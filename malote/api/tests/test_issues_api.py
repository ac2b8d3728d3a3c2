"""``/api/v1/issues``: list with filters, read with history, act; permissions and coded errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions
from malote.reconcile.models import IntegrationIssue, IssueKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue(make_order: Callable[..., Order], channel: Channel) -> IntegrationIssue:
    order = make_order()
    return actions.report(
        IssueKind.STUCK,
        channel=channel,
        actor=Actor.schedule("reconcile:stuck"),
        order=order,
        evidence={"stage": "paid_not_invoiced"},
        detail="Pago sem nota fiscal",
        recommended_action="investigate",
    ).issue


def test_list_and_read(api: Any, issue: IntegrationIssue) -> None:
    answer = api.get("/api/v1/issues")
    assert answer.status_code == 200
    (item,) = answer.json()
    assert item["id"] == issue.pk and item["kind"] == "stuck" and item["channel"] == "site"
    assert issue.order is not None
    assert item["evidence"] == {"stage": "paid_not_invoiced"} and item["order_number"] == issue.order.number
    assert api.get("/api/v1/issues?kind=divergent").json() == []
    assert api.get("/api/v1/issues?channel=other").json() == []
    assert api.get("/api/v1/issues?state=resolved").json() == []
    detail = api.get(f"/api/v1/issues/{issue.pk}").json()
    assert [h["action"] for h in detail["history"]] == ["opened"]
    assert detail["history"][0]["actor"] == "reconcile:stuck"


def test_act_dismiss_needs_a_reason(api: Any, issue: IntegrationIssue) -> None:
    refused = api.post(f"/api/v1/issues/{issue.pk}/actions/dismiss", {})
    assert refused.status_code == 422 and refused.json()["code"] == "reason_required"
    done = api.post(f"/api/v1/issues/{issue.pk}/actions/dismiss", {"reason": "retirada na loja"})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["result"] == "dismissed" and body["issue"]["state"] == "dismissed"
    assert body["issue"]["history"][-1]["actor"].startswith("operator-user")
    again = api.post(f"/api/v1/issues/{issue.pk}/actions/dismiss", {"reason": "de novo"})
    assert again.status_code == 409 and again.json()["code"] == "issue_closed"


def test_cancel_action_cancels_the_order_as_customer_gave_up(api: Any, issue: IntegrationIssue) -> None:
    done = api.post(f"/api/v1/issues/{issue.pk}/actions/cancel", {})
    assert done.status_code == 200, done.content
    order = Order.objects.get(pk=issue.order.pk if issue.order else 0)
    assert order.status == "canceled" and order.cancel_reason == "customer_gave_up"


def test_errors_and_permissions(api: Any, api_as: Callable[[str], Any], issue: IntegrationIssue) -> None:
    assert api.get("/api/v1/issues/999999").json()["code"] == "issue_not_found"
    assert api.post("/api/v1/issues/999999/actions/dismiss", {"reason": "x"}).status_code == 404
    assert api.post(f"/api/v1/issues/{issue.pk}/actions/explode", {}).status_code == 422
    viewer = api_as("viewer")
    assert viewer.get("/api/v1/issues").status_code == 200
    forbidden = viewer.post(f"/api/v1/issues/{issue.pk}/actions/dismiss", {"reason": "x"})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "permission_denied"
    assert "/api/v1/issues" in api.get("/api/v1/openapi.json").json()["paths"]
