"""Every back-office page in both languages, read as an operator reads it: no Portuguese word in
English mode, no English word in pt-BR mode, no raw code shown as prose (``visible_text``).

The pages are those the browser tests open and the rest of the back office: the order list, the
order page in several statuses (one with an ERP link, outbox messages and an integration issue),
the transition pages, the dashboard, channels, stock, users, both inboxes, an issue and the login.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.backoffice.tests.test_i18n import compiled_catalog  # noqa: F401  (builds the .mo)
from malote.backoffice.tests.visible_text import Finding, visible_text, wrong_words
from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.core.actors import Actor
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order
from malote.orders.schemas import ORDER_EXAMPLE
from malote.reconcile import actions as issue_actions
from malote.reconcile.models import IssueKind
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

LANGUAGES = ("pt-br", "en")
STATUSES = ("pending_payment", "paid", "out_of_stock", "invoiced", "shipped", "delivered", "canceled")

# What the test itself created: names, addresses, notes typed by people. Blanked before matching.
DATA = [
    str(ORDER_EXAMPLE["customer"]["name"]),
    *(str(v) for v in ORDER_EXAMPLE["billing_address"].values()),
    "Chinelo de praia 42",
    "Correios SEDEX",
    "Loja virtual",
    "Tiny ERP",
    "Destinatário ausente",
    "desistiu",
    "Loja mostra aprovado; esperado faturado",
    "aprovado",
    "pagarme",
    "ch_123",
    "HTTP 500 do ERP",
    "correios",
]


@pytest.fixture
def world(make_order: Callable[..., Order], user_with_role: Callable[[str], Any]) -> dict[str, Any]:
    """Orders in several statuses, an ERP with a link, messages and an issue, and an admin."""
    tiny = Channel.objects.create(code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny")
    orders = {status: bring_to(make_order(), status) for status in STATUSES}
    linked = orders["invoiced"]
    OrderLink.objects.update_or_create(
        order=linked,
        channel=tiny,
        defaults={
            "external_id": "778899",
            "remote_status": "9",
            "expected_status": "invoiced",
            "state": LinkState.DIVERGENT,
        },
    )
    OutboxMessage.objects.filter(order=linked).update(
        state=MessageState.DEAD, attempts=3, last_error="HTTP 500 do ERP"
    )
    channel = Channel.objects.get(code="site")
    issue = issue_actions.report(
        IssueKind.DIVERGENT,
        channel=channel,
        actor=Actor.schedule("reconcile:divergent"),
        order=linked,
        evidence={"site": {"remote_status": "aprovado"}, "malote": {"status": "invoiced"}},
        detail="Loja mostra aprovado; esperado faturado",
        recommended_action="push_again",
    ).issue
    issue_actions.link_remote(linked.pk, tiny, "778899", actor=Actor.schedule("reconcile:erp:tiny"), note="")
    admin = user_with_role("admin")
    return {"orders": orders, "issue": issue, "admin": admin}


def _pages(world: dict[str, Any]) -> dict[str, list[str]]:
    """The pages to read, by area (each area one test per language, so a failure names its area)."""
    orders: dict[str, Order] = world["orders"]
    paid = orders["paid"]
    return {
        "orders": [
            "/backoffice/",
            "/backoffice/?status=paid&problem=on",
            *(f"/backoffice/orders/{order.pk}/" for order in orders.values()),
        ],
        "transitions": [
            f"/backoffice/orders/{paid.pk}/process/{name}/"
            for name, transition in TRANSITIONS.items()
            if paid.status in transition.sources
        ],
        "dashboard": ["/backoffice/dashboard/"],
        "channels": ["/backoffice/channels/", "/backoffice/channels/site/", "/backoffice/channels/tiny/"],
        "stock": ["/backoffice/stock/", "/backoffice/stock/CHINELO-42/"],
        "users": ["/backoffice/users/", f"/backoffice/users/{world['admin'].pk}/"],
        "inbox": [
            "/backoffice/excecoes/",
            "/backoffice/integracoes/",
            f"/backoffice/integracoes/{world['issue'].pk}/",
        ],
    }


AREAS = ("orders", "transitions", "dashboard", "channels", "stock", "users", "inbox")


def _client(user: Any, language: str) -> Client:
    client = Client()
    client.force_login(user)
    if language != "pt-br":
        client.post("/i18n/setlang/", {"language": language, "next": "/backoffice/"})
    return client


def _read(client: Client, path: str, language: str) -> list[Finding]:
    response = client.get(path, follow=True)  # the old inbox addresses redirect to the one inbox
    assert response.status_code == 200, f"{path}: {response.status_code}"
    html = response.content.decode()
    expected_lang = "pt-BR" if language == "pt-br" else language
    assert f'<html lang="{expected_lang}">' in html, path
    return wrong_words(visible_text(html), language, page=path, data=DATA)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("area", AREAS)
def test_every_page_reads_in_one_language(world: dict[str, Any], area: str, language: str) -> None:
    client = _client(world["admin"], language)
    pages = _pages(world)[area]
    findings = [f for path in pages for f in _read(client, path, language)]
    assert findings == [], f"{len(findings)} wrong on {len(pages)} pages:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_login_page_reads_in_one_language(db: None, language: str) -> None:
    client = Client()
    if language != "pt-br":
        client.post("/i18n/setlang/", {"language": language, "next": "/backoffice/login/"})
    assert _read(client, "/backoffice/login/", language) == []


def test_every_area_is_read(world: dict[str, Any]) -> None:
    pages = _pages(world)
    assert set(pages) == set(AREAS)
    assert all(pages[area] for area in AREAS)
    assert len(pages["orders"]) == 2 + len(STATUSES)
    assert len(pages["transitions"]) >= 3


# --- the checker itself: each rule catches what it should, and only that ------------------------


def test_checker_catches_portuguese_in_english() -> None:
    html = (
        '<html lang="en"><body><h1>Order list</h1><p>Aguardando pagamento</p><p>Informação</p></body></html>'
    )
    words = [f.word for f in wrong_words(visible_text(html), "en", page="x")]
    assert words == ["Aguardando", "pagamento", "Informação"]


def test_checker_catches_english_in_portuguese() -> None:
    html = (
        '<html lang="pt-BR"><body><h1>Pedidos</h1><p>3 mensagens em dead letter</p>'
        '<a title="Stalled">x</a></body></html>'
    )
    words = [f.word for f in wrong_words(visible_text(html), "pt-br", page="x")]
    assert words == ["Stalled", "dead letter"]


def test_checker_catches_raw_codes_but_not_codes_shown_as_codes() -> None:
    html = (
        '<html lang="pt-BR"><body><p>Feito: ticket_requested; channel:tiny; order.order</p>'
        '<p><code>nfe_key_check_digit</code> <small class="code">channel:bling</small> '
        '<span class="mono">order.status</span> maria@example.com</p>'
        '<th title="last_error">Último erro</th><th title="the remote_status">x</th></body></html>'
    )
    words = [f.word for f in wrong_words(visible_text(html), "pt-br", page="x")]
    assert words == ["ticket_requested", "channel:tiny", "order.order", "remote_status", "the"]


def test_checker_skips_scripts_other_languages_data_and_hidden_inputs() -> None:
    html = (
        '<html lang="pt-BR"><head><title>Pedido</title><script>var order = 1;</script></head><body>'
        '<strong lang="en">English</strong><button lang="en">English</button>'
        '<input type="hidden" name="next" value="the order"><span translate="no">Order Store</span>'
        "<p>Cliente: The Happy Store</p></body></html>"
    )
    text = visible_text(html)
    assert "English" not in text and "var order" not in text and "the order" not in text
    assert "Order Store" not in text
    assert [f.word for f in wrong_words(text, "pt-br", page="x")] == ["The"]
    assert wrong_words(text, "pt-br", page="x", data=["The Happy Store"]) == []
