""" "Invoice needs XML" (docs/channel-rules.md, Mercado Livre): the bare key is accepted, the channel that
takes only the XML waits for it, everyone else hears about the invoice at once; attaching the XML
(command and API) releases the invoice to that channel exactly once."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole
from malote.conftest import SYSTEM, ApiClient
from malote.core.errors import Conflict, InvalidInput
from malote.orders import actions, selectors
from malote.orders.models import Invoice, Order, OrderEvent
from malote.relay.tests.stubs import Push, ops, recording_channel
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.orders import bring_to, valid_input

pytestmark = pytest.mark.django_db

TOTAL = Decimal("114.80")
CUSTOMER_CPF = "52998224725"


def _invoice(order: Order, number: int) -> dict[str, Any]:
    now = timezone.localtime()
    key = make_nfe_key(number, year=now.year, month=now.month)
    return {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat()}


def _xml(key: str, **kwargs: Any) -> str:
    return build_nfe_xml(key, **{"total": TOTAL, "recipient_cpf": CUSTOMER_CPF, **kwargs})


def _invoice_ops(destination: str, order: Order) -> int:
    return OutboxMessage.objects.filter(destination=destination, order=order, kind="order.invoice").count()


@pytest.fixture
def mercadolivre(db: None) -> Channel:
    return recording_channel("mercadolivre", invoice_needs_xml=True)


@pytest.fixture
def erp(db: None) -> Channel:
    return recording_channel("erp", role=ChannelRole.ERP)


def _ml_order(make_order: Callable[..., Order], status: str = "paid") -> Order:
    return bring_to(make_order(channel="mercadolivre"), status)


def test_a_bare_key_is_accepted_and_only_the_xml_channel_waits(
    mercadolivre: Channel, erp: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _ml_order(make_order)
    data = _invoice(order, 701)
    result = actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    assert result.order.status == "invoiced"
    assert selectors.awaiting_invoice_xml(order)
    assert selectors.orders_awaiting_invoice_xml().filter(pk=order.pk).exists()
    event = OrderEvent.objects.get(order=order, type="invoice_xml_pending")
    assert event.data == {"channels": ["mercadolivre"]}
    drain(prefix="channel:")
    assert "invoice" in ops(pushes, "erp"), "the ERP gets the invoice at once"
    assert "invoice" not in ops(pushes, "mercadolivre"), "Mercado Livre waits for the XML"


def test_an_invoice_with_its_xml_goes_at_once_and_nothing_waits(
    mercadolivre: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _ml_order(make_order)
    data = _invoice(order, 702)
    actions.run_transition(order.pk, "invoice", data | {"xml": _xml(data["key"])}, actor=SYSTEM)
    assert not selectors.awaiting_invoice_xml(order)
    assert not OrderEvent.objects.filter(order=order, type="invoice_xml_pending").exists()
    drain(prefix="channel:")
    [invoice] = [p for p in pushes if p.op == "invoice"]
    assert invoice.channel == "mercadolivre"
    assert invoice.snapshot["invoice"]["xml"].startswith("<")


def test_attaching_the_xml_sends_the_invoice_exactly_once(
    mercadolivre: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    order = _ml_order(make_order)
    data = _invoice(order, 703)
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    xml = _xml(data["key"])
    assert actions.attach_invoice_xml(order.pk, xml, actor=SYSTEM).applied
    assert actions.attach_invoice_xml(order.pk, xml, actor=SYSTEM).applied is False, "same XML: no-op"
    with pytest.raises(Conflict) as exc:
        actions.attach_invoice_xml(order.pk, _xml(data["key"], emitter_name="Outra Loja Ltda"), actor=SYSTEM)
    assert exc.value.code == "invoice_xml_conflict"
    assert _invoice_ops("channel:mercadolivre", order) == 1
    invoice = Invoice.objects.get(order=order)
    assert invoice.xml == xml.strip() and invoice.authorization_status == "100"
    order.refresh_from_db()
    assert not selectors.awaiting_invoice_xml(order)
    attached = OrderEvent.objects.get(order=order, type="invoice_xml_attached")
    assert attached.data["sent_to"] == ["mercadolivre"]
    drain(prefix="channel:")
    [push] = [p for p in pushes if p.op == "invoice"]
    assert push.snapshot["invoice"]["xml"] == xml.strip()


@pytest.mark.parametrize(
    ("make_xml", "code"),
    [
        (lambda key: _xml(make_nfe_key(999)), "nfe_xml_key_mismatch"),
        (lambda key: _xml(key, total=Decimal("99.00")), "nfe_xml_total_mismatch"),
        (lambda key: _xml(key, proc=False), "nfe_xml_not_authorized"),
        (lambda key: "<nfeProc><oops", "nfe_xml_malformed"),
    ],
)
def test_a_wrong_xml_is_refused_and_the_order_keeps_waiting(
    mercadolivre: Channel, make_order: Callable[..., Order], make_xml: Callable[[str], str], code: str
) -> None:
    order = _ml_order(make_order)
    data = _invoice(order, 704)
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    with pytest.raises(InvalidInput) as exc:
        actions.attach_invoice_xml(order.pk, make_xml(data["key"]), actor=SYSTEM)
    assert (exc.value.code, exc.value.field) == (code, "xml")
    assert Invoice.objects.get(order=order).xml == ""
    assert selectors.awaiting_invoice_xml(order)
    assert _invoice_ops("channel:mercadolivre", order) == 0


def test_no_xml_before_the_invoice_or_after_a_cancel(
    mercadolivre: Channel, make_order: Callable[..., Order]
) -> None:
    order = _ml_order(make_order)
    with pytest.raises(Conflict) as exc:
        actions.attach_invoice_xml(order.pk, _xml(make_nfe_key(705)), actor=SYSTEM)
    assert exc.value.code == "invoice_missing"
    data = _invoice(order, 705)
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    actions.run_transition(order.pk, "cancel", valid_input(order, "cancel"), actor=SYSTEM)
    order.refresh_from_db()
    assert not selectors.awaiting_invoice_xml(order), "a canceled order waits for nothing"
    with pytest.raises(Conflict) as exc:
        actions.attach_invoice_xml(order.pk, _xml(data["key"]), actor=SYSTEM)
    assert exc.value.code == "invoice_xml_not_allowed"


def test_a_channel_that_takes_the_key_never_waits(
    channel: Channel, make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    Channel.objects.filter(pk=channel.pk).update(kind="recording")
    order = bring_to(make_order(), "paid")
    actions.run_transition(order.pk, "invoice", _invoice(order, 706), actor=SYSTEM)
    assert not selectors.awaiting_invoice_xml(order)
    assert not OrderEvent.objects.filter(order=order, type="invoice_xml_pending").exists()
    drain(prefix="channel:")
    assert [op for op in ops(pushes, "site") if op != "stock"] == ["status", "invoice"]


def test_skyhub_mercado_livre_orders_need_the_xml_by_the_preset(
    make_order: Callable[..., Order], pushes: list[Push]
) -> None:
    # SkyHub's article: "Para o marketplace Mercado Livre é necessário enviar o XML da nota fiscal".
    Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="skyhub")
    ml = bring_to(make_order(channel="skyhub", marketplace="Mercado Livre"), "paid")
    americanas = bring_to(make_order(channel="skyhub", marketplace="Lojas Americanas"), "paid")
    actions.run_transition(ml.pk, "invoice", _invoice(ml, 707), actor=SYSTEM)
    actions.run_transition(americanas.pk, "invoice", _invoice(americanas, 708), actor=SYSTEM)
    assert selectors.awaiting_invoice_xml(ml)
    assert not selectors.awaiting_invoice_xml(americanas)
    assert _invoice_ops("channel:skyhub", ml) == 0
    assert _invoice_ops("channel:skyhub", americanas) == 1


# --- the API -----------------------------------------------------------------------------------


def _xml_url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/invoice/xml"


def _post_xml(api: ApiClient, order: Order, xml: str, **headers: str) -> Any:
    return api.client.post(
        _xml_url(order), data=xml, content_type="application/xml", headers={**api.headers, **headers}
    )


def test_api_shows_the_wait_and_takes_the_xml(
    api: ApiClient, mercadolivre: Channel, make_order: Callable[..., Order]
) -> None:
    order = _ml_order(make_order)
    data = _invoice(order, 710)
    response = api.post(f"/api/v1/orders/{order.pk}/transitions/invoice", data)
    assert response.status_code == 200, response.content
    assert response.json()["invoice_xml_pending"] is True
    assert response.json()["invoice"]["has_xml"] is False
    answer = _post_xml(api, order, _xml(data["key"]), **{"Idempotency-Key": "xml-710"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["invoice_xml_pending"] is False
    assert answer.json()["invoice"]["has_xml"] is True
    replay = _post_xml(api, order, _xml(data["key"]), **{"Idempotency-Key": "xml-710"})
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    again_as_json = api.post(_xml_url(order), {"xml": _xml(data["key"])})
    assert again_as_json.status_code == 200, "the same XML again is a no-op"
    assert _invoice_ops("channel:mercadolivre", order) == 1


def test_api_errors_are_coded(
    api: ApiClient,
    api_as: Callable[[str], ApiClient],
    mercadolivre: Channel,
    make_order: Callable[..., Order],
) -> None:
    order = _ml_order(make_order)
    data = _invoice(order, 711)
    assert api.post(_xml_url(order), {"xml": ""}).json()["code"] == "invoice_xml_missing"
    no_invoice = api.post(_xml_url(order), {"xml": _xml(data["key"])})
    assert (no_invoice.status_code, no_invoice.json()["code"]) == (409, "invoice_missing")
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    wrong = _post_xml(api, order, _xml(make_nfe_key(712)))
    assert (wrong.status_code, wrong.json()["code"], wrong.json()["field"]) == (
        422,
        "nfe_xml_key_mismatch",
        "xml",
    )
    viewer = _post_xml(api_as("viewer"), order, _xml(data["key"]))
    assert (viewer.status_code, viewer.json()["code"]) == (403, "permission_denied")
    missing = api.post("/api/v1/orders/999999/invoice/xml", {"xml": _xml(data["key"])})
    assert (missing.status_code, missing.json()["code"]) == (404, "order_not_found")
    assert Invoice.objects.get(order=order).xml == ""


def test_api_lists_the_orders_waiting_for_their_xml(
    api: ApiClient, mercadolivre: Channel, make_order: Callable[..., Order]
) -> None:
    waiting = _ml_order(make_order)
    actions.run_transition(waiting.pk, "invoice", _invoice(waiting, 720), actor=SYSTEM)
    done = _ml_order(make_order)
    data = _invoice(done, 721)
    actions.run_transition(done.pk, "invoice", data | {"xml": _xml(data["key"])}, actor=SYSTEM)
    _ml_order(make_order)  # not invoiced yet: nothing to wait for
    listed = api.get("/api/v1/orders?invoice_xml_pending=true").json()["items"]
    assert [o["id"] for o in listed] == [waiting.pk]
    assert len(api.get("/api/v1/orders").json()["items"]) == 3
