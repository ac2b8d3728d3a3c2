"""Every status e-mail names the order as the customer knows it (the store's number, the
marketplace's when there is one) next to Malote's, shows money as R$ 1.234,56 and times as
dd/mm/aaaa hh:mm local, and reads Portuguese when the shop's language is pt-BR."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.utils import translation

from malote.notify import rendering
from malote.notify.defaults import EmailText, default_for
from malote.notify.formatting import format_datetime, order_reference, store_number
from malote.notify.models import EmailTemplate
from malote.notify.statuses import CustomerStatus
from malote.orders.models import Order
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

MakeOrder = Callable[..., Order]
MONEY = re.compile(r"R\$\s?-?[\d.,]+")
BRAZILIAN_MONEY = re.compile(r"R\$ \d{1,3}(\.\d{3})*,\d{2}")
ENGLISH = ("Hello", "order", "Your", "Thank", "Payment", "Invoice", "shipped", "delivered", "canceled")


def _render(order: Order, status: str) -> rendering.RenderedEmail:
    with translation.override("pt-br"):
        return rendering.render(
            default_for(status, "pt-br"), rendering.build_context(order, status), status=status
        )


def _orders(make_order: MakeOrder) -> dict[str, Order]:
    delivered = bring_to(make_order(external_id="10016", marketplace="Magalu"), "delivered")
    canceled = make_order(external_id="10017", marketplace="Magalu")
    canceled = bring_to(canceled, "canceled")
    overdue = bring_to(make_order(external_id="10018", marketplace="Magalu"), "payment_overdue")
    by_status = dict.fromkeys(("received", "paid", "invoiced", "shipped", "delivered"), delivered)
    return {**by_status, "canceled": canceled, "payment_overdue": overdue}


def test_every_status_email_names_the_store_number_in_portuguese_with_brazilian_money(
    make_order: MakeOrder,
) -> None:
    orders = _orders(make_order)
    assert set(orders) == {s.value for s in CustomerStatus}
    for status, order in orders.items():
        email = _render(order, status)
        reference = f"Magalu {order.external_id} ({order.number})"
        assert reference in email.subject, (status, email.subject)
        assert reference in email.body, status
        amounts = MONEY.findall(email.subject + "\n" + email.body)
        assert all(BRAZILIAN_MONEY.fullmatch(a) for a in amounts), (status, amounts)
        words = set(re.findall(r"[A-Za-z]+", email.subject + " " + email.body))
        assert not words & set(ENGLISH), (status, words & set(ENGLISH))
    received = _render(orders["received"], "received").body
    assert "R$ 114,80" in received and "114.80" not in received
    assert f"feito em {format_datetime(orders['received'].placed_at)}." in received


def test_the_placed_time_is_local_not_utc(make_order: MakeOrder) -> None:
    # 02:21 UTC on the 30th is 23:21 on the 29th in São Paulo: the customer reads the local time.
    placed = datetime(2026, 11, 30, 2, 21, tzinfo=UTC)
    order = make_order(external_id="10019", placed_at=placed.isoformat())
    body = _render(order, "received").body
    assert "feito em 29/11/2026 23:21." in body
    assert "30/11/2026" not in body


@pytest.mark.parametrize(
    ("external_id", "marketplace", "number", "store", "reference"),
    [
        ("10016", "", "M0000070", "10016", "10016 (M0000070)"),
        ("123-456", "Magalu", "M0000070", "Magalu 123-456", "Magalu 123-456 (M0000070)"),
        # Forbidden: Malote's number twice, or an empty store number in front of it.
        ("M0000070", "", "M0000070", "M0000070", "M0000070"),
        ("", "", "M0000070", "", "M0000070"),
    ],
)
def test_order_reference(external_id: str, marketplace: str, number: str, store: str, reference: str) -> None:
    order = SimpleNamespace(external_id=external_id, marketplace=marketplace, number=number)
    assert store_number(order) == store
    assert order_reference(order) == reference


def test_money_in_an_operator_template_stays_brazilian(make_order: MakeOrder) -> None:
    order = make_order(external_id="10020")
    text = EmailText("{{ order_reference }}: {{ order.total|brl }}", "x")
    with translation.override("pt-br"):
        email = rendering.render(text, rendering.build_context(order, "paid"), status="paid")
    assert order.total == Decimal("114.80")
    assert email.subject == f"10020 ({order.number}): R$ 114,80"


def test_templates_still_as_shipped_are_upgraded_and_edited_ones_kept() -> None:
    migration = import_module("malote.notify.migrations.0004_store_number_in_templates")
    old_subject, old_body = migration.PREVIOUS["paid"][0]
    EmailTemplate.objects.filter(status="paid").update(subject=old_subject, body=old_body)
    EmailTemplate.objects.filter(status="received").update(subject="Oba, {{ number }}!", body="x")
    migration.upgrade(apps, None)
    paid = EmailTemplate.objects.get(status="paid")
    assert (paid.subject, paid.body) == (
        default_for("paid", "pt-br").subject,
        default_for("paid", "pt-br").body,
    )
    assert "{{ order_reference }}" in paid.subject
    received = EmailTemplate.objects.get(status="received")
    assert (received.subject, received.body) == ("Oba, {{ number }}!", "x"), (
        "an operator's text is left alone"
    )
