"""The back office's "Integrações" inbox: grouped issues with evidence and one-click actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions, repair
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.sync.errors import DeliveryError

pytestmark = pytest.mark.django_db

INBOX = "/backoffice/integracoes/"


@pytest.fixture
def issues(make_order: Callable[..., Order], channel: Channel) -> list[IntegrationIssue]:
    found = []
    for _ in range(2):
        found.append(
            actions.report(
                IssueKind.DIVERGENT,
                channel=channel,
                actor=Actor.schedule("reconcile:divergent"),
                order=make_order(),
                evidence={"site": {"remote_status": "aprovado"}, "malote": {"status": "invoiced"}},
                detail="Loja mostra aprovado; esperado faturado",
                recommended_action="push_again",
            ).issue
        )
    return found


def client_for(user_with_role: Callable[[str], Any], role: str, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user_with_role(role))
    return client


def test_inbox_groups_issues_with_evidence_and_actions(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    page = client_for(user_with_role, "operator").get(INBOX)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-kind="divergent" data-channel="site"') == 1  # one group
    assert all(f'data-issue="{issue.pk}"' in html for issue in issues)
    assert "remote_status=aprovado" in html and "Reenviar o status" in html
    assert 'name="csrfmiddlewaretoken"' in html
    detail = client_for(user_with_role, "viewer").get(f"{INBOX}{issues[0].pk}/")
    assert detail.status_code == 200 and "Histórico" in detail.content.decode()


def test_one_click_and_bulk_actions(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    client = client_for(user_with_role, "operator")
    answer = client.post(
        f"{INBOX}{issues[0].pk}/acao/", {"action": "dismiss", "reason": "conferido", "next": INBOX}
    )
    assert answer.status_code == 302 and answer["Location"] == INBOX
    issues[0].refresh_from_db()
    assert issues[0].state == IssueState.DISMISSED
    refused = client.post(f"{INBOX}acoes/", {"action": "cancel", "issue": [issues[1].pk]})
    assert refused.status_code == 302
    issues[1].refresh_from_db()
    assert issues[1].state == IssueState.OPEN  # cancel is never a bulk action
    client.post(f"{INBOX}acoes/", {"action": "push_again", "issue": [issues[1].pk]})
    issues[1].refresh_from_db()
    assert issues[1].state == IssueState.RESOLVING


def test_viewers_cannot_act_and_posts_need_csrf(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    viewer = client_for(user_with_role, "viewer")
    assert "/acao/" not in viewer.get(INBOX).content.decode()  # sees the recommendation, no buttons
    assert (
        viewer.post(f"{INBOX}{issues[0].pk}/acao/", {"action": "dismiss", "reason": "x"}).status_code == 403
    )
    strict = client_for(user_with_role, "admin", enforce_csrf_checks=True)
    assert (
        strict.post(f"{INBOX}{issues[0].pk}/acao/", {"action": "dismiss", "reason": "x"}).status_code == 403
    )
    issues[0].refresh_from_db()
    assert issues[0].state == IssueState.OPEN
    assert Client().get(INBOX).status_code == 302  # login first


class _RefusingChannel:
    """A sales channel that answers 404 when the missing order is read back (``fetch_order``)."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def __enter__(self) -> _RefusingChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def fetch_order(self, external_id: str) -> None:
        raise DeliveryError(
            f"{self.channel.code} GET /orders/{external_id}: HTTP 404 pedido inexistente", retryable=False
        )


def _shown(answer: Any) -> list[tuple[str, str]]:
    """The messages the page after the redirect shows, as (level tags, text)."""
    return [(m.tags, str(m)) for m in answer.context["messages"]]


def test_a_successful_action_says_it_was_done(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    client = client_for(user_with_role, "operator")
    answer = client.post(
        f"{INBOX}{issues[0].pk}/acao/",
        {"action": "dismiss", "reason": "conferido no painel", "next": INBOX},
        follow=True,
    )
    assert answer.status_code == 200
    assert _shown(answer) == [("success", "Feito: dismissed.")]
    assert '<li class="success">Feito: dismissed.</li>' in answer.content.decode()


def test_a_failed_import_is_shown_in_red_in_words_with_the_reason(
    user_with_role: Callable[[str], Any], channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = actions.report(
        IssueKind.NOT_INTEGRATED,
        channel=channel,
        actor=Actor.schedule("reconcile:integration:site"),
        external_ref="02-999000111",
        detail="Pedido da loja ausente no Malote",
        recommended_action="import",
    ).issue
    monkeypatch.setattr(repair, "connector_for", _RefusingChannel)
    client = client_for(user_with_role, "operator")
    answer = client.post(f"{INBOX}{missing.pk}/acao/", {"action": "import", "next": INBOX}, follow=True)
    assert answer.status_code == 200
    [(tags, text)] = _shown(answer)
    assert tags == "error", "a failure is red, never a success"
    assert text.startswith("A importação do pedido falhou. Motivo: site GET /orders/02-999000111: HTTP 404")
    assert text.endswith("(import_failed)")
    html = answer.content.decode()
    assert '<li class="error">A importação do pedido falhou.' in html
    assert "Feito: import_failed" not in html and "Feito:" not in html
    missing.refresh_from_db()
    assert missing.state == IssueState.OPEN, "nothing was imported"


@pytest.mark.parametrize("rows", [3, 30])
def test_inbox_query_count_does_not_grow_with_issues(
    user_with_role: Callable[[str], Any],
    make_order: Callable[..., Order],
    channel: Channel,
    rows: int,
    django_assert_max_num_queries: Any,
) -> None:
    for kind in (IssueKind.DIVERGENT, IssueKind.STUCK, IssueKind.NOT_INTEGRATED):
        for _ in range(rows // 3):
            actions.report(kind, channel=channel, actor=Actor.system("test"), order=make_order())
    client = client_for(user_with_role, "operator")
    with django_assert_max_num_queries(12):
        assert client.get(INBOX).status_code == 200
