"""Cancelling from the inbox: an invoiced order is never canceled without saying what happens to its
NF-e (the button leads to the order page's cancel form; the API asks for ``nfe_action``), and a
refused action reads in the operator's language, never the English detail."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from malote.backoffice.tests.test_integration_inbox import INBOX, ISSUES, _item, _shown, client_for
from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


def _unpaid_issue(order: Order, channel: Channel) -> IntegrationIssue:
    return actions.report(
        IssueKind.UNPAID,
        channel=channel,
        actor=Actor.schedule("reconcile:unpaid"),
        order=order,
        evidence={"payment": {"verdict": "unpaid"}, "status": order.status},
        detail="Boleto vencido sem pagamento",
        recommended_action="cancel",
    ).issue


@pytest.fixture
def invoiced_issue(make_order: Callable[..., Order], channel: Channel) -> IntegrationIssue:
    return _unpaid_issue(bring_to(make_order(), "invoiced"), channel)


@pytest.fixture
def plain_issue(make_order: Callable[..., Order], channel: Channel) -> IntegrationIssue:
    return _unpaid_issue(make_order(), channel)


def _status(issue: IntegrationIssue) -> str:
    assert issue.order_id is not None
    return Order.objects.get(pk=issue.order_id).status


def _cancel_control(card: str) -> str:
    found = re.search(r'<(a|button)[^>]*data-action="cancel"[^>]*>', card)
    assert found is not None, card
    return found.group(0)


def test_the_inbox_cancel_of_an_invoiced_order_leads_to_the_order_page_form(
    user_with_role: Callable[[str], Any], invoiced_issue: IntegrationIssue, plain_issue: IntegrationIssue
) -> None:
    html = client_for(user_with_role, "operator").get(INBOX).content.decode()
    invoiced = _cancel_control(_item(html, invoiced_issue))
    assert invoiced.startswith("<a ") and f"/orders/{invoiced_issue.order_id}/process/cancel/" in invoiced
    assert _cancel_control(_item(html, plain_issue)).startswith("<button ")  # no NF-e: one click


def test_posting_cancel_on_an_invoiced_order_is_refused_in_portuguese(
    user_with_role: Callable[[str], Any], invoiced_issue: IntegrationIssue
) -> None:
    answer = client_for(user_with_role, "operator").post(
        f"{ISSUES}{invoiced_issue.pk}/acao/", {"action": "cancel", "next": INBOX}, follow=True
    )
    [(tags, text)] = _shown(answer)
    assert tags == "error"
    assert text == (
        "Cancelar o pedido: não foi feito."
        " Diga o que acontece com a NF-e: cancelamento na SEFAZ ou NF-e de devolução."
    )
    assert _status(invoiced_issue) == "invoiced"
    invoiced_issue.refresh_from_db()
    assert invoiced_issue.state == IssueState.OPEN


def test_a_refused_action_never_shows_the_english_detail(
    user_with_role: Callable[[str], Any], plain_issue: IntegrationIssue
) -> None:
    operator = client_for(user_with_role, "operator")
    first = operator.post(
        f"{ISSUES}{plain_issue.pk}/acao/",
        {"action": "dismiss", "reason": "pago na loja", "next": INBOX},
        follow=True,
    )
    assert _shown(first) == [("success", "Problema descartado.")]
    again = operator.post(
        f"{ISSUES}{plain_issue.pk}/acao/",
        {"action": "dismiss", "reason": "de novo", "next": INBOX},
        follow=True,
    )
    [(tags, text)] = _shown(again)
    assert tags == "error" and text.endswith("Esta pendência já foi encerrada.")
    assert "closed" not in text and "issue" not in text


def test_the_api_cancels_an_invoiced_order_only_with_nfe_action(
    api: Any, invoiced_issue: IntegrationIssue
) -> None:
    url = f"/api/v1/issues/{invoiced_issue.pk}/actions/cancel"
    silent = api.post(url, {})
    assert silent.status_code == 422 and silent.json()["code"] == "nfe_action_required"
    assert silent.json()["field"] == "nfe_action"
    assert _status(invoiced_issue) == "invoiced"
    done = api.post(url, {"nfe_action": "return_nfe"})
    assert done.status_code == 200, done.content
    assert done.json()["result"] == "canceled"
    assert _status(invoiced_issue) == "canceled"


def test_the_api_cancels_an_order_without_nfe_as_before(api: Any, plain_issue: IntegrationIssue) -> None:
    done = api.post(f"/api/v1/issues/{plain_issue.pk}/actions/cancel", {})
    assert done.status_code == 200, done.content
    assert _status(plain_issue) == "canceled"
