"""What transitions write: NF-e checks and the invoice row, shipments, delivery, payment facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from malote.channels.models import Channel
from malote.conftest import SYSTEM
from malote.core.errors import Conflict, InvalidInput
from malote.orders import actions
from malote.orders.models import Invoice, Order
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.orders import bring_to, invoice_input

pytestmark = pytest.mark.django_db


def _invoice_payload(number: int = 1234, **extra: object) -> dict[str, object]:
    now = timezone.localtime()
    key = make_nfe_key(number, year=now.year, month=now.month)
    return {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat(), **extra}


def _invoice(order: Order, payload: dict[str, object]) -> None:
    actions.run_transition(order.pk, "invoice", payload, actor=SYSTEM)


def test_invoice_with_key_writes_invoice_row(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    payload = _invoice_payload(1234)
    _invoice(order, payload)
    invoice = Invoice.objects.get(order=order)
    assert (invoice.key, invoice.number, invoice.series, invoice.xml) == (payload["key"], 1234, 1, "")


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("35210320695448000184550010000035891981839924", "nfe_key_check_digit"),
        ("35210320695448000184540010000035891981839924", "nfe_key_check_digit"),
        ("99150808723218000186599000040190000241114257", "nfe_key_check_digit"),
        ("3521032069544800018455001000003589198183992", "nfe_key_length"),
    ],
)
def test_invoice_refuses_invalid_keys(make_order: Callable[..., Order], key: str, code: str) -> None:
    order = bring_to(make_order(), "paid")
    with pytest.raises(InvalidInput) as exc:
        _invoice(order, _invoice_payload() | {"key": key})
    assert exc.value.field == "key"
    assert exc.value.code.startswith("nfe_key_")
    assert exc.value.code == code
    order.refresh_from_db()
    assert order.status == "paid" and not Invoice.objects.exists()


def test_invoice_refuses_a_cte_key(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    with pytest.raises(InvalidInput) as exc:
        _invoice(order, _invoice_payload() | {"key": "32171232438772000104570010001990751153183825"})
    assert (exc.value.field, exc.value.code) == ("key", "nfe_key_model")


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"number": "999"}, "number", "invoice_number_mismatch"),
        ({"series": "2"}, "series", "invoice_series_mismatch"),
        ({"issued_at": "2020-01-10T10:00:00-03:00"}, "issued_at", "invoice_issued_at_mismatch"),
        ({"number": "0"}, "number", "invoice_number_zero"),
    ],
)
def test_invoice_fields_must_agree_with_the_key(
    make_order: Callable[..., Order], change: dict[str, str], field: str, code: str
) -> None:
    order = bring_to(make_order(), "paid")
    with pytest.raises(InvalidInput) as exc:
        _invoice(order, _invoice_payload() | change)
    assert (exc.value.field, exc.value.code) == (field, code)


def test_invoice_key_cannot_belong_to_two_orders(make_order: Callable[..., Order]) -> None:
    first = bring_to(make_order(), "paid")
    second = bring_to(make_order(), "paid")
    payload = _invoice_payload(77)
    _invoice(first, payload)
    with pytest.raises(Conflict) as exc:
        _invoice(second, payload)
    assert exc.value.code == "invoice_key_in_use"


def test_invoice_xml_matching_key_total_and_customer_is_accepted(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    payload = _invoice_payload(55)
    xml = build_nfe_xml(str(payload["key"]), total=Decimal("114.80"), recipient_cpf="52998224725")
    _invoice(order, payload | {"xml": xml})
    invoice = Invoice.objects.get(order=order)
    assert invoice.xml == xml
    assert invoice.authorization_status == "100"
    assert invoice.authorization_protocol


@pytest.mark.parametrize(
    ("xml_kwargs", "code"),
    [
        ({"total": Decimal("114.79")}, "nfe_xml_total_mismatch"),
        ({"recipient_cpf": "11144477735"}, "nfe_xml_recipient_mismatch"),
        ({"c_stat": "302"}, "nfe_xml_not_authorized"),
    ],
)
def test_invoice_xml_must_agree_with_the_order(
    make_order: Callable[..., Order], xml_kwargs: dict[str, object], code: str
) -> None:
    order = bring_to(make_order(), "paid")
    payload = _invoice_payload(56)
    kwargs: dict[str, object] = {"total": Decimal("114.80"), "recipient_cpf": "52998224725", **xml_kwargs}
    xml = build_nfe_xml(str(payload["key"]), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as exc:
        _invoice(order, payload | {"xml": xml})
    assert (exc.value.field, exc.value.code) == ("xml", code)
    assert not Invoice.objects.exists()


def test_invoice_xml_for_another_key_is_refused(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    payload = _invoice_payload(57)
    other_key = make_nfe_key(58)
    xml = build_nfe_xml(other_key, total=Decimal("114.80"), recipient_cpf="52998224725")
    with pytest.raises(InvalidInput) as exc:
        _invoice(order, payload | {"xml": xml})
    assert (exc.value.field, exc.value.code) == ("xml", "nfe_xml_key_mismatch")


def test_malformed_xml_is_refused(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    with pytest.raises(InvalidInput) as exc:
        _invoice(order, _invoice_payload() | {"xml": "<nfeProc><oops"})
    assert (exc.value.field, exc.value.code) == ("xml", "nfe_xml_malformed")


def test_channel_requiring_xml_takes_a_bare_key_but_only_an_authorized_xml(
    xml_channel: Channel, make_order: Callable[..., Order]
) -> None:
    # The bare key is accepted (the channel waits for the XML, see test_invoice_xml.py) ...
    waiting = bring_to(make_order(channel="mercadolivre"), "paid")
    _invoice(waiting, _invoice_payload(59))
    waiting.refresh_from_db()
    assert waiting.status == "invoiced"
    # ... but an XML given for such a channel must carry the SEFAZ authorization.
    order = bring_to(make_order(channel="mercadolivre"), "paid")
    payload = _invoice_payload(60)
    bare = build_nfe_xml(
        str(payload["key"]), total=Decimal("114.80"), recipient_cpf="52998224725", proc=False
    )
    with pytest.raises(InvalidInput) as exc:
        _invoice(order, payload | {"xml": bare})
    assert exc.value.code == "nfe_xml_not_authorized"
    proc = build_nfe_xml(str(payload["key"]), total=Decimal("114.80"), recipient_cpf="52998224725")
    _invoice(order, payload | {"xml": proc})
    order.refresh_from_db()
    assert order.status == "invoiced"


def test_ship_validates_correios_codes(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    base = {"carrier": "correios", "method": "SEDEX"}
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "ship", base | {"tracking_code": "SS123456789BR"}, actor=SYSTEM)
    assert (exc.value.field, exc.value.code) == ("tracking_code", "tracking_code_check_digit")
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "ship", base | {"tracking_code": "AA12345678BR"}, actor=SYSTEM)
    assert (exc.value.field, exc.value.code) == ("tracking_code", "tracking_code_format")
    actions.run_transition(order.pk, "ship", base | {"tracking_code": "sz460209415br"}, actor=SYSTEM)
    shipment = order.shipments.get()
    assert shipment.tracking_code == "SZ460209415BR"
    assert "SZ460209415BR" in shipment.tracking_url
    assert shipment.shipped_at is not None


def test_ship_with_other_carriers(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(
            order.pk, "ship", {"carrier": "Jadlog", "method": "Package", "tracking_code": "123"}, actor=SYSTEM
        )
    assert exc.value.code == "tracking_code_format"
    actions.run_transition(
        order.pk,
        "ship",
        {"carrier": "Loggi", "method": "Expresso", "tracking_code": "LG-ABC-1"},
        actor=SYSTEM,
    )
    assert order.shipments.get().tracking_code == "LG-ABC-1"


def test_ship_requires_carrier_method_and_code(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "ship", {"carrier": "correios", "method": "SEDEX"}, actor=SYSTEM)
    assert (exc.value.field, exc.value.code) == ("tracking_code", "missing")


def test_ship_after_ready_to_ship_fills_the_same_shipment(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "ready_to_ship")
    actions.run_transition(
        order.pk,
        "ship",
        {"carrier": "correios", "method": "PAC", "tracking_code": "AA123456785BR"},
        actor=SYSTEM,
    )
    shipment = order.shipments.get()
    assert (shipment.collection_code, shipment.tracking_code, shipment.status) == (
        "COL-1",
        "AA123456785BR",
        "shipped",
    )


def test_deliver_requires_a_date_time_not_before_shipping(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "shipped")
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "deliver", {}, actor=SYSTEM)
    assert (exc.value.field, exc.value.code) == ("delivered_at", "missing")
    too_early = (timezone.now() - timedelta(days=30)).isoformat()
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(order.pk, "deliver", {"delivered_at": too_early}, actor=SYSTEM)
    assert exc.value.code == "delivered_before_shipped"
    when = (timezone.now() + timedelta(days=2)).isoformat()
    actions.run_transition(order.pk, "deliver", {"delivered_at": when}, actor=SYSTEM)
    shipment = order.shipments.get()
    assert shipment.status == "delivered" and shipment.delivered_at is not None


def test_delivery_problem_is_recorded_on_the_shipment(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "in_transit")
    actions.run_transition(
        order.pk, "report_delivery_problem", {"description": "Endereço não localizado"}, actor=SYSTEM
    )
    shipment = order.shipments.get()
    assert (shipment.status, shipment.problem) == ("failed", "Endereço não localizado")


def test_invoice_input_helper_is_consistent(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "paid")
    _invoice(order, invoice_input(order))
    order.refresh_from_db()
    assert order.status == "invoiced"
