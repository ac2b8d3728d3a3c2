"""The one inbox ("Pendências"): integration issues grouped by kind and channel with a side-by-side
evidence table, the recommended action first, one-click and bulk actions per role, results and
history in words, filters by the names people see, the old pages redirecting, English mode."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.conftest import SYSTEM
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions, repair
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.relay.divergence import record_divergence
from malote.sync.errors import DeliveryError
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

INBOX = "/backoffice/pendencias/"
ISSUES = "/backoffice/integracoes/"
SCHEDULE = Actor.schedule("reconcile:divergent")


@pytest.fixture
def issues(make_order: Callable[..., Order], channel: Channel) -> list[IntegrationIssue]:
    found = []
    for _ in range(2):
        found.append(
            actions.report(
                IssueKind.DIVERGENT,
                channel=channel,
                actor=SCHEDULE,
                order=make_order(),
                evidence={
                    "order_status": "invoiced",
                    "expected_status": "invoiced",
                    "expected_remote": "faturado",
                    "remote_status": "aprovado",
                    "remote_meaning": "paid",
                    "since": "2026-11-30T02:21:00+00:00",
                },
                detail="Loja mostra 'aprovado'; esperado 'faturado'",
                recommended_action="push_again",
            ).issue
        )
    return found


@pytest.fixture
def bling(db: None) -> Channel:
    return Channel.objects.create(code="bling", name="Bling ERP", role=ChannelRole.ERP, kind="bling")


@pytest.fixture
def tiny(db: None) -> Channel:
    return Channel.objects.create(code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny")


def client_for(
    user_with_role: Callable[[str], Any], role: str, *, language: str = "", **kwargs: Any
) -> Client:
    client = Client(**kwargs)
    client.force_login(user_with_role(role))
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _item(html: str, issue: IntegrationIssue) -> str:
    """The card of one issue in the inbox's HTML."""
    match = re.search(rf'<article class="inbox-item" data-item="issue-{issue.pk}".*?</article>', html, re.S)
    assert match is not None, f"issue {issue.pk} is not in the inbox"
    return match.group(0)


def _primary(card: str) -> str:
    found = re.search(r'<button type="submit" class="primary" data-action="(\w+)"', card)
    return found.group(1) if found else ""


def test_inbox_groups_issues_with_a_side_by_side_evidence_table(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    page = client_for(user_with_role, "operator").get(INBOX)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-kind="divergent" data-channel="Loja virtual"') == 1  # one group
    card = _item(html, issues[0])
    assert '<th scope="col">Malote</th><th scope="col">Loja virtual</th>' in card
    assert '<td data-side="malote">Faturado</td>' in card  # the label, never "invoiced"
    assert "29/11/2026 23:21" in card  # local time, not 2026-11-30T02:21
    assert "remote_status=" not in html and "{'" not in html and "invoiced" not in card
    assert _primary(card) == "push_again" and "Reenviar o status" in card
    assert 'name="csrfmiddlewaretoken"' in html


def test_remote_statuses_carry_the_system_s_own_names(
    user_with_role: Callable[[str], Any], make_order: Callable[..., Order], bling: Channel
) -> None:
    issue = actions.report(
        IssueKind.DIVERGENT,
        channel=bling,
        actor=SCHEDULE,
        order=bring_to(make_order(), "invoiced"),
        evidence={"order_status": "invoiced", "expected_status": "invoiced", "expected_remote": "9",
                  "remote_status": "6", "remote_meaning": ""},
        detail="Bling ERP mostra '6'; esperado '9'",
        recommended_action="push_again",
    ).issue  # fmt: skip
    html = client_for(user_with_role, "viewer").get(f"{ISSUES}{issue.pk}/").content.decode()
    assert "Bling ERP: 9 — Atendido" in html and "Bling ERP: 6 — Em aberto" in html
    assert "Bling ERP mostra 6 — Em aberto; esperado 9 — Atendido" in html
    assert "Status esperado lá" in html and ">Faturado<" in html


def test_the_issue_text_follows_the_language(
    user_with_role: Callable[[str], Any], make_order: Callable[..., Order], tiny: Channel
) -> None:
    order = make_order()
    issue = actions.report(
        IssueKind.NOT_INTEGRATED,
        channel=tiny,
        actor=SCHEDULE,
        order=order,
        evidence={
            "malote": {"found": True, "number": order.number, "status": "paid"},
            "tiny": {"found": False},
        },
        detail=f"Pedido {order.number} não está no Tiny ERP",
        recommended_action="reintegrate",
    ).issue
    english = client_for(user_with_role, "viewer", language="en").get(INBOX).content.decode()
    card = _item(english, issue)
    assert f"Order {order.number} is not in Tiny ERP" in card
    assert "Pending" in english and "Pendências" not in english
    assert "Has the order" in card and ">Yes<" in card and ">No<" in card
    portuguese = client_for(user_with_role, "operator").get(INBOX).content.decode()
    assert f"Pedido {order.number} não está no Tiny ERP" in _item(portuguese, issue)


def test_filters_use_the_names_people_see(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue], tiny: Channel
) -> None:
    viewer = client_for(user_with_role, "viewer")
    by_name = viewer.get(INBOX, {"channel": "loja VIRTUAL", "kind": "divergent"}).content.decode()
    assert all(f'data-item="issue-{issue.pk}"' in by_name for issue in issues)
    other = viewer.get(INBOX, {"channel": "Tiny ERP"}).content.decode()
    assert not any(f'data-item="issue-{issue.pk}"' in other for issue in issues)
    unknown = viewer.get(INBOX, {"channel": "Loja que não existe"}).content.decode()
    assert "Nenhum canal se chama" in unknown and "data-item=" not in unknown
    form = viewer.get(INBOX).content.decode()
    assert '<option value="Loja virtual"' in form and "channel:site" not in form


def test_old_inboxes_redirect_with_the_equivalent_filter(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    viewer = client_for(user_with_role, "viewer")
    old = viewer.get(ISSUES, {"kind": "divergent", "channel": "site", "state": "open"})
    assert old.status_code == 302
    assert old["Location"] == f"{INBOX}?kind=divergent&channel=site&state=open"
    everything = viewer.get(ISSUES)
    assert everything["Location"].startswith(f"{INBOX}?kind=not_integrated&kind=divergent")
    exceptions = viewer.get("/backoffice/excecoes/")
    assert exceptions["Location"] == f"{INBOX}?kind=dead_letter&kind=out_of_stock&kind=link_problem"
    shown = viewer.get(old["Location"]).content.decode()
    assert all(f'data-item="issue-{issue.pk}"' in shown for issue in issues)


def test_one_click_and_bulk_actions(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    client = client_for(user_with_role, "operator")
    answer = client.post(
        f"{ISSUES}{issues[0].pk}/acao/", {"action": "dismiss", "reason": "conferido", "next": INBOX}
    )
    assert answer.status_code == 302 and answer["Location"] == INBOX
    issues[0].refresh_from_db()
    assert issues[0].state == IssueState.DISMISSED
    refused = client.post(f"{ISSUES}acoes/", {"action": "cancel", "issue": [issues[1].pk]})
    assert refused.status_code == 302
    issues[1].refresh_from_db()
    assert issues[1].state == IssueState.OPEN  # cancel is never a bulk action
    client.post(f"{ISSUES}acoes/", {"action": "push_again", "issue": [issues[1].pk]})
    issues[1].refresh_from_db()
    assert issues[1].state == IssueState.RESOLVING
    card = _item(client.get(INBOX).content.decode(), issues[1])
    assert _primary(card) == "", "being corrected: nothing recommended twice"


def test_viewers_cannot_act_and_posts_need_csrf(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    viewer = client_for(user_with_role, "viewer")
    page = viewer.get(INBOX)
    assert page.status_code == 200 and "/acao/" not in page.content.decode()
    assert (
        viewer.post(f"{ISSUES}{issues[0].pk}/acao/", {"action": "dismiss", "reason": "x"}).status_code == 403
    )
    strict = client_for(user_with_role, "admin", enforce_csrf_checks=True)
    assert (
        strict.post(f"{ISSUES}{issues[0].pk}/acao/", {"action": "dismiss", "reason": "x"}).status_code == 403
    )
    issues[0].refresh_from_db()
    assert issues[0].state == IssueState.OPEN
    assert Client().get(INBOX).status_code == 302  # login first
    assert Client().get(f"{ISSUES}{issues[0].pk}/").status_code == 302


def _shown(answer: Any) -> list[tuple[str, str]]:
    """The messages the page after the redirect shows, as (level tags, text)."""
    return [(m.tags, str(m)) for m in answer.context["messages"]]


def test_a_successful_action_says_what_was_done_in_words(
    user_with_role: Callable[[str], Any], issues: list[IntegrationIssue]
) -> None:
    answer = client_for(user_with_role, "operator").post(
        f"{ISSUES}{issues[0].pk}/acao/",
        {"action": "dismiss", "reason": "conferido", "next": INBOX},
        follow=True,
    )
    assert _shown(answer) == [("success", "Problema descartado.")]
    assert "Feito:" not in answer.content.decode() and ">dismissed<" not in answer.content.decode()


def test_opening_the_ticket_is_said_in_words_and_the_history_too(
    user_with_role: Callable[[str], Any], make_order: Callable[..., Order], tiny: Channel
) -> None:
    Channel.objects.create(code="zendesk", name="Zendesk", role=ChannelRole.HELPDESK, kind="zendesk")
    order = bring_to(make_order(), "paid")
    issue = actions.report(
        IssueKind.NOT_INTEGRATED, channel=tiny, actor=SCHEDULE, order=order,
        evidence={"malote": {"found": True, "number": order.number}, "tiny": {"found": False}},
        detail="x", recommended_action="reintegrate",
    ).issue  # fmt: skip
    operator = client_for(user_with_role, "operator")
    answer = operator.post(f"{ISSUES}{issue.pk}/acao/", {"action": "open_ticket"}, follow=True)
    assert _shown(answer) == [("success", "Chamado solicitado ao help desk.")]
    assert "ticket_requested" not in answer.content.decode()
    page = operator.get(f"{ISSUES}{issue.pk}/").content.decode()
    assert "Abrir chamado no help desk · Aberto → Em correção" in page
    assert "open_ticket / open" not in page and "open → resolving" not in page


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
    answer = client.post(f"{ISSUES}{missing.pk}/acao/", {"action": "import", "next": INBOX}, follow=True)
    [(tags, text)] = _shown(answer)
    assert tags == "error", "a failure is red, never a success"
    assert text.startswith("A importação do pedido falhou. Motivo: site GET /orders/02-999000111: HTTP 404")
    assert "import_failed" not in text
    card = _item(answer.content.decode(), missing)
    assert 'class="error-text failed"' in card and "A importação do pedido falhou." in card
    missing.refresh_from_db()
    assert missing.state == IssueState.OPEN, "nothing was imported"


@pytest.fixture
def divergent_link(make_order: Callable[..., Order]) -> tuple[OrderLink, IntegrationIssue]:
    """A SkyHub link held divergent (canceled there after invoicing here) and its open issue."""
    skyhub = Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="manual")
    order = bring_to(make_order(), "invoiced")
    OrderLink.objects.create(order=order, channel=skyhub, external_id="LA-1", state=LinkState.LINKED)
    record_divergence(order, skyhub, remote_status="CANCELED", remote_canonical_status="canceled",
                      reason="canceled_after:invoiced", actor=SYSTEM)  # fmt: skip
    issue = actions.report(
        IssueKind.DIVERGENT, channel=skyhub, actor=SCHEDULE, order=order,
        evidence={"order_status": "invoiced", "remote_status": "CANCELED",
                  "reason": "canceled_after:invoiced",
                  "since": datetime(2026, 12, 6, 12, 0, tzinfo=UTC).isoformat()},
        detail="x", recommended_action="push_again",
    ).issue  # fmt: skip
    return OrderLink.objects.get(order=order, channel=skyhub), issue


def test_an_accepted_divergence_stops_recommending_push_again_at_once(
    user_with_role: Callable[[str], Any], divergent_link: tuple[OrderLink, IntegrationIssue]
) -> None:
    link, issue = divergent_link
    operator = client_for(user_with_role, "operator")
    before = _item(operator.get(INBOX).content.decode(), issue)
    assert _primary(before) == "push_again"
    assert "Cancelado no SkyHub depois de faturado" in before
    operator.post(f"/backoffice/links/{link.pk}/resolve/", {"action": "accept_remote"})
    issue.refresh_from_db()
    assert issue.state == IssueState.RESOLVED
    after = operator.get(INBOX).content.decode()
    assert f'data-item="issue-{issue.pk}"' not in after and f'data-item="link-{link.pk}"' not in after


def test_a_dismissed_divergence_dismisses_its_issue_and_a_refused_one_changes_nothing(
    user_with_role: Callable[[str], Any], divergent_link: tuple[OrderLink, IntegrationIssue]
) -> None:
    link, issue = divergent_link
    operator = client_for(user_with_role, "operator")
    operator.post(f"/backoffice/links/{link.pk}/resolve/", {"action": "dismiss"})  # no reason: refused
    issue.refresh_from_db()
    assert issue.state == IssueState.OPEN
    operator.post(f"/backoffice/links/{link.pk}/resolve/", {"action": "dismiss", "reason": "visto no painel"})
    issue.refresh_from_db()
    assert issue.state == IssueState.DISMISSED


def test_the_order_page_uses_the_same_action_names(
    user_with_role: Callable[[str], Any], divergent_link: tuple[OrderLink, IntegrationIssue]
) -> None:
    link, _issue = divergent_link
    html = client_for(user_with_role, "operator").get(f"/backoffice/orders/{link.order_id}/").content.decode()
    assert "Aceitar o status do outro sistema" in html and "de lá" not in html
    assert "Reenviar o status" in html and "Cancelado no SkyHub depois de faturado" in html


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
    with django_assert_max_num_queries(22):
        assert client.get(INBOX).status_code == 200
