"""Processing orders from the back office: transition forms, inline coded errors, results shown once
(new status, customer e-mail, stock released), invoice XML and DANFE, outbox retries per role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.conftest import SYSTEM
from malote.orders import actions
from malote.orders.models import Order
from malote.stock.models import StockItem
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY, build_nfe_xml
from malote_dev.testing.orders import bring_to, invoice_input

pytestmark = pytest.mark.django_db

# SAMPLE_NFE_KEY with its last digit changed: the check digit no longer matches.
WRONG_CHECK_DIGIT_KEY = SAMPLE_NFE_KEY[:43] + ("4" if SAMPLE_NFE_KEY[43] != "4" else "5")


@pytest.fixture
def client_as(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    def login(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return login


@pytest.fixture
def operator(client_as: Callable[[str], Client]) -> Client:
    return client_as("operator")


def _url(order: Order, name: str) -> str:
    return f"/backoffice/orders/{order.pk}/process/{name}/"


def _page(client: Client, order: Order) -> str:
    response = client.get(f"/backoffice/orders/{order.pk}/")
    assert response.status_code == 200
    return response.content.decode()


# --- forms from the lifecycle's schemas ------------------------------------------------------------


def test_invoice_form_lists_the_schema_fields(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    response = operator.get(_url(order, "invoice"))
    assert response.status_code == 200
    names = [f.name for f in response.context["form"].fields]
    assert names == ["key", "number", "series", "issued_at", "xml"]
    html = response.content.decode()
    assert 'name="key"' in html and 'placeholder="dd/mm/aaaa hh:mm"' in html and "<textarea" in html


def test_cancel_form_offers_the_reasons_as_choices(operator: Client, make_order: Any) -> None:
    order = make_order()
    form = operator.get(_url(order, "cancel")).context["form"]
    reason = next(f for f in form.fields if f.name == "reason")
    assert reason.widget == "select" and ("customer_gave_up", "Desistência do cliente") in reason.choices


def test_htmx_request_gets_only_the_form(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    response = operator.get(_url(order, "invoice"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith("<form") and "<html" not in html


def test_wrong_nfe_key_shows_the_api_code_inline_and_changes_nothing(
    operator: Client, make_order: Any
) -> None:
    order = bring_to(make_order(), "paid")
    data = {**invoice_input(order), "key": WRONG_CHECK_DIGIT_KEY}
    response = operator.post(_url(order, "invoice"), data)
    assert response.status_code == 422
    key_field = next(f for f in response.context["form"].fields if f.name == "key")
    assert [e["code"] for e in key_field.errors] == ["nfe_key_check_digit"]
    assert 'data-code="nfe_key_check_digit"' in response.content.decode()
    # the operator's input is kept for correction
    assert key_field.value == WRONG_CHECK_DIGIT_KEY
    order.refresh_from_db()
    assert order.status == "paid"


def test_valid_invoice_moves_the_order_and_shows_the_result_once(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    typed = timezone.localtime().replace(second=0, microsecond=0)  # as the datetime-local input sends it
    data = {**invoice_input(order), "issued_at": typed.strftime("%Y-%m-%dT%H:%M")}
    response = operator.post(_url(order, "invoice"), data)
    assert response.status_code == 302
    assert response["Location"] == f"/backoffice/orders/{order.pk}/#resultado"
    order.refresh_from_db()
    assert order.status == "invoiced"
    invoice = order.invoices.get()
    assert invoice.issued_at == typed  # read in America/Sao_Paulo
    assert typed.utcoffset() == timedelta(hours=-3)
    html = _page(operator, order)
    assert 'id="resultado"' in html and 'data-status="invoiced"' in html
    assert order.customer_email in html and "Nota fiscal" in html  # the customer's e-mail subject
    assert 'id="resultado"' not in _page(operator, order)  # shown once


def test_ship_with_correios_code(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    bad = operator.post(
        _url(order, "ship"), {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456784BR"}
    )
    assert bad.status_code == 422
    assert "tracking_code" in bad.content.decode()
    good = operator.post(
        _url(order, "ship"), {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}
    )
    assert good.status_code == 302
    order.refresh_from_db()
    assert order.status == "shipped"
    assert "rastreamento" in _page(operator, order) or "AA123456785BR" in _page(operator, order)


def test_htmx_success_redirects_the_whole_page(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    response = operator.post(_url(order, "start_preparing"), {}, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/backoffice/orders/{order.pk}/"


def test_cancel_shows_the_stock_released(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(physical=5), "paid")
    line = order.lines.get()
    reserved_before = StockItem.objects.get(sku=line.sku).reserved
    response = operator.post(_url(order, "cancel"), {"reason": "customer_gave_up", "note": "desistiu"})
    assert response.status_code == 302
    item = StockItem.objects.get(sku=line.sku)
    assert item.reserved == reserved_before - line.quantity
    html = _page(operator, order)
    assert "Estoque liberado" in html
    assert (
        f"+{line.quantity}" in html and f"disponível agora: <strong>{item.physical - item.reserved}" in html
    )
    assert 'data-reason="order_release"' in html  # the order's stock movements


def test_transition_not_allowed_now_is_a_coded_conflict(operator: Client, make_order: Any) -> None:
    order = make_order()  # pending payment: cannot be shipped
    response = operator.post(
        _url(order, "ship"), {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}
    )
    assert response.status_code == 409
    assert [e["code"] for e in response.context["form"].errors] == ["transition_not_allowed"]


def test_unknown_transition_is_404(operator: Client, make_order: Any) -> None:
    assert operator.get(_url(make_order(), "teleport")).status_code == 404


# --- roles ---------------------------------------------------------------------------------------


def test_viewer_sees_no_action_and_cannot_post(client_as: Callable[[str], Client], make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    viewer = client_as("viewer")
    html = _page(viewer, order)
    assert "data-transition=" not in html and "Nenhuma ação disponível" in html
    assert viewer.get(_url(order, "invoice")).status_code == 403
    assert viewer.post(_url(order, "cancel"), {"reason": "customer_gave_up"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "paid"


def test_only_support_may_reopen(client_as: Callable[[str], Client], make_order: Any) -> None:
    order = bring_to(make_order(), "canceled")
    operator = client_as("operator")
    assert 'data-transition="reopen"' not in _page(operator, order)
    assert operator.get(_url(order, "reopen")).status_code == 403
    assert 'data-transition="reopen"' in _page(client_as("support"), order)


def test_operator_sees_only_transitions_allowed_now(operator: Client, make_order: Any) -> None:
    html = _page(operator, bring_to(make_order(), "paid"))
    assert 'data-transition="invoice"' in html and 'data-transition="cancel"' in html
    assert 'data-transition="ship"' not in html and 'data-transition="approve_payment"' not in html


# --- invoice documents --------------------------------------------------------------------------


def _invoiced_with_xml(make_order: Any) -> Order:
    order = bring_to(make_order(), "paid")
    data = {
        "key": SAMPLE_NFE_KEY,
        "number": "1234",
        "series": "1",
        "issued_at": "2025-03-15T10:30:00-03:00",
        "xml": build_nfe_xml(SAMPLE_NFE_KEY, total=order.total, recipient_cpf=order.customer_document),
    }
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    return order


def test_xml_download_and_danfe(operator: Client, make_order: Any) -> None:
    order = _invoiced_with_xml(make_order)
    html = _page(operator, order)
    assert "Baixar XML" in html and "DANFE (PDF)" in html
    xml = operator.get(f"/backoffice/orders/{order.pk}/invoice.xml")
    assert xml.status_code == 200
    assert xml["Content-Disposition"] == f'attachment; filename="NFe{SAMPLE_NFE_KEY}.xml"'
    assert SAMPLE_NFE_KEY.encode() in xml.content
    pdf = operator.get(f"/backoffice/orders/{order.pk}/danfe.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_no_xml_means_no_download_and_no_danfe(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")  # invoiced without XML
    assert "XML da NF-e ainda não recebido" in _page(operator, order)
    assert operator.get(f"/backoffice/orders/{order.pk}/invoice.xml").status_code == 404
    assert operator.get(f"/backoffice/orders/{order.pk}/danfe.pdf").status_code == 404
    assert operator.get(f"/backoffice/orders/{make_order().pk}/invoice.xml").status_code == 404


def test_danfe_of_an_unprintable_xml_is_a_coded_422(operator: Client, make_order: Any) -> None:
    order = _invoiced_with_xml(make_order)
    order.invoices.update(xml="<nfeProc>not an NF-e</nfeProc>")
    response = operator.get(f"/backoffice/orders/{order.pk}/danfe.pdf")
    assert response.status_code == 422 and b"danfe_unavailable" in response.content


# --- integration panel and retries ----------------------------------------------------------------


@pytest.fixture
def erp(db: None) -> Channel:
    return Channel.objects.create(
        code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny", enabled=False
    )


def _dead_message(order: Order, destination: str = "channel:tiny") -> OutboxMessage:
    return OutboxMessage.objects.create(
        destination=destination,
        key=f"order:{order.pk}",
        order=order,
        kind="order.order",
        payload={"op": "order"},
        idempotency_key=f"test-{order.pk}-{destination}",
        state=MessageState.DEAD,
        attempts=8,
        last_error="HTTP 400: cliente inválido",
    )


def test_integration_panel_shows_link_and_messages(operator: Client, make_order: Any, erp: Channel) -> None:
    order = make_order()
    OrderLink.objects.create(
        order=order, channel=erp, external_id="T-991", remote_status="aberto", state=LinkState.ERROR,
        last_error="HTTP 400: cliente inválido",
    )  # fmt: skip
    message = _dead_message(order)
    html = _page(operator, order)
    assert "Tiny ERP" in html and "T-991" in html and "aberto" in html
    assert f'data-message="{message.pk}"' in html and "cliente inválido" in html
    assert "Tentar de novo" in html and "problema de integração" in html


def test_retry_button_requeues_a_dead_message(
    client_as: Callable[[str], Client], make_order: Any, erp: Channel
) -> None:
    order = make_order()
    message = _dead_message(order)
    viewer = client_as("viewer")
    assert "Tentar de novo" not in _page(viewer, order)
    assert viewer.post(f"/backoffice/outbox/{message.pk}/retry/").status_code == 403
    operator = client_as("operator")
    response = operator.post(f"/backoffice/outbox/{message.pk}/retry/")
    assert response.status_code == 302 and response["Location"].endswith("#integracao")
    message.refresh_from_db()
    assert message.state == MessageState.PENDING and message.attempts == 0
    again = operator.post(f"/backoffice/outbox/{message.pk}/retry/", follow=True)
    assert "message_not_retryable" not in again.content.decode()  # pending may be retried again
    message.state = MessageState.DONE
    message.save()
    done = operator.post(f"/backoffice/outbox/{message.pk}/retry/", follow=True)
    assert "message_not_retryable" in done.content.decode()


def test_problem_filter_and_badge_on_the_list(operator: Client, make_order: Any, erp: Channel) -> None:
    healthy, broken = make_order(), make_order()
    _dead_message(broken)
    response = operator.get("/backoffice/", {"problem": "on"})
    assert [o.pk for o in response.context["page"].object_list] == [broken.pk]
    everything = operator.get("/backoffice/")
    flags = {o.pk: o.has_problem for o in everything.context["page"].object_list}
    assert flags == {healthy.pk: False, broken.pk: True}
