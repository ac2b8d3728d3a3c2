"""The order page, the timeline, the dashboard and the menu in words people use: no raw codes, the
channel's name, Brazilian forms of CEP, phone and CPF, "Pedidos" (not Portugal's "Encomendas"), and
model help texts in the user's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from malote.backoffice.evidence import ChannelNames
from malote.backoffice.templatetags.backoffice_tags import br_phone, run_summary
from malote.backoffice.tests.test_i18n import compiled_catalog  # noqa: F401  (builds the .mo)
from malote.backoffice.tests.visible_text import visible_text
from malote.backoffice.timeline import stored_actor_text
from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions as issue_actions
from malote.reconcile.models import IssueKind
from malote.stock.models import StockMovement
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(user_with_role: Callable[[str], Any]) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def jumpseller(db: None) -> Channel:
    return Channel.objects.create(code="jumpseller", name="Loja Jumpseller", role=ChannelRole.STOREFRONT)


@pytest.fixture
def tiny(db: None) -> Channel:
    return Channel.objects.create(code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny")


def _page(client: Client, order: Order, language: str = "pt-br") -> str:
    if language != "pt-br":
        client.post("/i18n/setlang/", {"language": language, "next": "/backoffice/"})
    response = client.get(f"/backoffice/orders/{order.pk}/")
    assert response.status_code == 200
    return visible_text(response.content.decode())


def _timeline(text: str) -> str:
    return text[text.rindex("Histórico" if "Histórico" in text else "History") :]


def test_the_created_event_names_the_channel(
    operator: Client, make_order: Callable[..., Order], jumpseller: Channel
) -> None:
    order = make_order(channel="jumpseller")
    timeline = _timeline(_page(operator, order))
    assert "Pedido criado (canal Loja Jumpseller)" in timeline
    assert "Stalled" not in timeline and "parado" not in timeline
    english = _timeline(_page(operator, order, "en"))
    assert "Order created (channel Loja Jumpseller)" in english
    assert "Stalled" not in english


def test_timeline_shows_channels_and_schedules_by_name(
    operator: Client, make_order: Callable[..., Order], tiny: Channel
) -> None:
    order = make_order()
    issue_actions.link_remote(order.pk, tiny, "778899", actor=Actor.channel("tiny"), note="")
    issue_actions.report(
        IssueKind.NOT_INTEGRATED,
        channel=tiny,
        actor=Actor.schedule("reconcile:integration:tiny"),
        order=order,
        detail="x",
    )
    timeline = _timeline(_page(operator, order))
    assert "Pedido localizado em Tiny ERP com o id 778899 por Tiny ERP" in timeline
    assert "Pedido não integrado em Tiny ERP" in timeline
    assert "por Verificação da integração com Tiny ERP" in timeline
    for code in ("integration_link", "integration_issue", "channel:tiny", "reconcile:", " tiny"):
        assert code not in timeline
    english = _timeline(_page(operator, order, "en"))
    assert "Order found at Tiny ERP under id 778899 by Tiny ERP" in english
    assert "by Integration check with Tiny ERP" in english


def test_an_unknown_event_keeps_its_code_small(operator: Client, make_order: Callable[..., Order]) -> None:
    order = make_order()
    order.events.create(type="something_new", actor_kind="system", actor_label="malote", data={})
    html = operator.get(f"/backoffice/orders/{order.pk}/").content.decode()
    assert 'Evento do sistema</strong> <small class="code">something_new</small>' in html
    assert "something_new" not in visible_text(html)  # shown as a code, not as the text


def test_integration_panel_names_systems_and_messages(
    operator: Client, make_order: Callable[..., Order], tiny: Channel
) -> None:
    order = make_order()
    OutboxMessage.objects.filter(order=order).update(state=MessageState.DEAD, attempts=3, last_error="x")
    assert OutboxMessage.objects.filter(order=order, destination="channel:tiny", kind="order.order").exists()
    text = _page(operator, order)
    panel = text[text.index("Integração") : text.index("Histórico")]
    assert "Tiny ERP" in panel and "Envio do pedido" in panel and "Falha definitiva" in panel
    for code in ("channel:tiny", "order.order", "dead letter"):
        assert code not in panel


def test_cep_phone_and_cpf_in_brazilian_form(operator: Client, make_order: Callable[..., Order]) -> None:
    order = make_order(
        customer={
            "name": "Ana",
            "email": "ana@example.com",
            "phone": "+55 11 99999-0001",
            "document": "52998224725",
        },
        billing_address={
            "street": "Rua A",
            "number": "1",
            "district": "Sé",
            "city": "São Paulo",
            "state": "SP",
            "postal_code": "01001000",
            "country": "BR",
        },
    )
    text = _page(operator, order)
    assert "(11) 99999-0001" in text
    assert "529.982.247-25" in text
    assert "CEP 01001-000" in text
    assert "01001000" not in text and "52998224725" not in text


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("+5511999990001", "(11) 99999-0001"),
        ("11 3333-4444", "(11) 3333-4444"),
        ("(21) 98888-7777", "(21) 98888-7777"),
        ("+1 415 555 0100", "+1 415 555 0100"),  # not Brazilian: as given
        ("ramal 12", "ramal 12"),
        ("", ""),
    ],
)
def test_br_phone(given: str, shown: str) -> None:
    assert br_phone(given) == shown


def test_poll_summaries_in_words() -> None:
    with translation.override("pt-br"):
        assert run_summary("22 change(s) in 1 page(s); cursor None") == "22 mudanças recebidas em 1 página"
        assert (
            run_summary("1 change(s) in 3 page(s); cursor 2026-12-01T10:00")
            == "1 mudança recebida em 3 páginas"
        )
        assert run_summary("this connector does not poll") == "O conector deste canal não faz consultas."
        assert run_summary("resolved 2") == "resolved 2"  # another job's summary: unchanged
    with translation.override("en"):
        assert run_summary("22 change(s) in 1 page(s); cursor None") == "22 changes received in 1 page"


def test_menu_and_list_say_pedidos(operator: Client) -> None:
    html = operator.get("/backoffice/").content.decode()
    nav = re.search(r"<nav>.*?</nav>", html, re.S)
    assert nav is not None and ">Pedidos</a>" in nav.group(0)
    assert "ncomenda" not in visible_text(html)


def test_dashboard_says_permanent_failures(operator: Client) -> None:
    text = visible_text(operator.get("/backoffice/dashboard/").content.decode())
    assert "mensagens com falha definitiva" in text
    assert "dead letter" not in text.lower()


def test_dates_on_the_order_page_are_brazilian(operator: Client, make_order: Callable[..., Order]) -> None:
    order = make_order()
    text = _page(operator, order)
    dates = re.findall(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b", text)
    assert len(dates) >= 2  # placed at, and every timeline entry
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)


def test_model_help_texts_follow_the_language() -> None:
    field = Channel._meta.get_field("credentials")
    with translation.override("pt-br"):
        assert str(field.help_text) == "Nunca exibidas depois de salvas."
        assert str(Order._meta.get_field("customer_document").help_text) == "CPF ou CNPJ, sem máscara."
    with translation.override("en"):
        assert str(field.help_text) == "Never shown after saving."


def test_gateway_carrier_and_stock_actors_by_name(
    operator: Client, make_order: Callable[..., Order], jumpseller: Channel
) -> None:
    Channel.objects.create(code="pagarme", name="Pagar.me", role=ChannelRole.GATEWAY)
    order = bring_to(make_order(channel="jumpseller"), "shipped")
    StockMovement.objects.filter(order=order).update(actor="jumpseller")
    text = _page(operator, order)
    assert "Gateway Pagar.me" in text
    assert "Transportadora Correios (SEDEX)" in text
    stock = text[text.index("Estoque do pedido") : text.index("Integração")]
    assert "Loja Jumpseller" in stock and "jumpseller" not in stock


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("tiny", "Tiny ERP"),
        ("reconcile:divergent", "Verificação de divergências"),
        ("poll:tiny", "Consulta periódica de Tiny ERP"),
        ("malote", "Malote"),
        ("operador", "operador"),  # a user keeps their name
        ("", "—"),
    ],
)
def test_stored_actor_names(tiny: Channel, label: str, shown: str) -> None:
    with translation.override("pt-br"):
        assert stored_actor_text(label, ChannelNames([tiny]), {"tiny"}) == shown


def test_link_statuses_in_words(operator: Client, make_order: Callable[..., Order]) -> None:
    bling = Channel.objects.create(code="bling", name="Bling ERP", role=ChannelRole.ERP, kind="bling")
    order = bring_to(make_order(), "invoiced")
    OrderLink.objects.update_or_create(
        order=order,
        channel=bling,
        defaults={"external_id": "55", "remote_status": "9", "expected_status": "invoiced"},
    )
    text = _page(operator, order)
    assert "Último status visto lá Bling ERP: 9 — Atendido" in text
    assert "Status esperado lá Faturado" in text
    assert "invoiced" not in text
