"""NF-e events in the back office: the order page's invoice panel says them in words ("Cancelada em
…, protocolo …"; "Carta de correção nº 2: “…”"), the form records a cancellation or a CC-e for who
may change an order's status, with its refusals in pt-BR next to the field; the timeline too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from malote.backoffice import form_dates
from malote.conftest import SYSTEM
from malote.orders.invoice_events import record_invoice_event
from malote.orders.models import Invoice, InvoiceEvent, Order
from malote_dev.testing.nfe_events import CORRECTION, JUSTIFICATION, build_nfe_event_xml, event_protocol
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_as(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    def login(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return login


@pytest.fixture
def invoiced(make_order: Callable[..., Order]) -> Order:
    return bring_to(make_order(), "invoiced")


def _form_url(order: Order) -> str:
    return f"/backoffice/orders/{order.pk}/invoice/events/"


def _typed(invoice: Invoice, **overrides: str) -> dict[str, str]:
    return {
        "type": "cancellation",
        "protocol": event_protocol(invoice.key),
        "registered_at": form_dates.display(invoice.issued_at + timedelta(hours=1)),
        "text": JUSTIFICATION,
        "xml": "",
    } | overrides


def test_the_panel_shows_the_events_in_words(client_as: Callable[[str], Client], invoiced: Order) -> None:
    operator = client_as("operator")
    invoice = Invoice.objects.get(order=invoiced)
    for sequence in (1, 2):
        xml = build_nfe_event_xml(
            invoice.key,
            kind="correction",
            sequence=sequence,
            text=f"{CORRECTION} v{sequence}",
            registered_at=invoice.issued_at + timedelta(hours=sequence),
        )
        record_invoice_event(invoiced.pk, {"xml": xml}, actor=SYSTEM)
    page = operator.get(f"/backoffice/orders/{invoiced.pk}/").content.decode()
    assert f"Carta de correção nº 2: “{CORRECTION} v2”" in page
    assert "substituída pela seguinte" in page  # nº 1 stays listed, replaced
    assert 'data-action="nfe-event"' in page
    registered = (invoice.issued_at + timedelta(hours=3)).replace(microsecond=0)
    cancellation = build_nfe_event_xml(invoice.key, registered_at=registered)
    record_invoice_event(invoiced.pk, {"xml": cancellation}, actor=SYSTEM)
    page = operator.get(f"/backoffice/orders/{invoiced.pk}/").content.decode()
    when = form_dates.display(registered)
    protocol = InvoiceEvent.objects.get(type="cancellation").protocol
    assert f"Cancelada em {when}, protocolo {protocol}" in page
    assert f"Justificativa: {JUSTIFICATION}" in page
    assert 'data-nfe="canceled"' in page
    assert 'data-action="nfe-event"' not in page  # a canceled NF-e takes no further event
    assert f"NF-e: Cancelada em {when}" in page  # the timeline entry


def test_an_operator_records_a_cancellation_through_the_form(
    client_as: Callable[[str], Client], invoiced: Order
) -> None:
    operator = client_as("operator")
    assert operator.get(_form_url(invoiced)).status_code == 200
    invoice = Invoice.objects.get(order=invoiced)
    answer = operator.post(_form_url(invoiced), _typed(invoice))
    assert answer.status_code == 302 and answer["Location"].endswith(f"/orders/{invoiced.pk}/#nota-fiscal")
    event = InvoiceEvent.objects.get()
    assert (event.type, event.sequence, event.text) == ("cancellation", 1, JUSTIFICATION)
    assert "Cancelamento da NF-e registrado." in operator.get(answer["Location"]).content.decode()


def test_corrections_take_the_next_sequence(client_as: Callable[[str], Client], invoiced: Order) -> None:
    operator = client_as("operator")
    invoice = Invoice.objects.get(order=invoiced)
    for hours in (1, 2):
        typed = _typed(
            invoice,
            type="correction",
            protocol=event_protocol(invoice.key, hours, "correction"),
            registered_at=form_dates.display(invoice.issued_at + timedelta(hours=hours)),
            text=f"{CORRECTION} {hours}",
        )
        assert operator.post(_form_url(invoiced), typed).status_code == 302
    assert list(InvoiceEvent.objects.values_list("sequence", flat=True)) == [1, 2]


def test_refusals_are_shown_in_portuguese_next_to_the_field(
    client_as: Callable[[str], Client], invoiced: Order
) -> None:
    operator = client_as("operator")
    invoice = Invoice.objects.get(order=invoiced)
    empty = operator.post(_form_url(invoiced), _typed(invoice, protocol="", text=""))
    assert empty.status_code == 422
    assert empty.content.decode().count("Preencha este campo.") == 2
    short = operator.post(_form_url(invoiced), _typed(invoice, text="Desistiu"))
    assert short.status_code == 422
    assert "A justificativa do cancelamento tem de 15 a 255 caracteres." in short.content.decode()
    late = _typed(invoice, registered_at=form_dates.display(invoice.issued_at + timedelta(hours=25)))
    page = operator.post(_form_url(invoiced), late).content.decode()
    assert "Passou o prazo de 24 horas após a autorização" in page
    assert 'data-code="nfe_event_cancellation_window"' in page
    assert not InvoiceEvent.objects.exists()


def test_only_who_changes_order_status_sees_and_uses_the_form(
    client_as: Callable[[str], Client], invoiced: Order
) -> None:
    viewer = client_as("viewer")
    assert 'data-action="nfe-event"' not in viewer.get(f"/backoffice/orders/{invoiced.pk}/").content.decode()
    assert viewer.post(_form_url(invoiced), _typed(Invoice.objects.get(order=invoiced))).status_code == 403
    assert not InvoiceEvent.objects.exists()


def test_an_order_without_invoice_has_no_event_form(
    client_as: Callable[[str], Client], make_order: Callable[..., Order]
) -> None:
    assert client_as("operator").get(_form_url(bring_to(make_order(), "paid"))).status_code == 404
