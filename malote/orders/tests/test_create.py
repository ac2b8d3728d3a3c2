"""Creating the canonical order: validation at creation, idempotency, numbers, stock reservation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from malote.channels.models import Channel
from malote.conftest import SYSTEM
from malote.core.errors import InvalidInput
from malote.orders import actions
from malote.orders.models import Order, OrderEvent, OrderLine, Payment
from malote.orders.schemas import OrderIn
from malote.orders.statuses import OrderStatus, StockState
from malote.stock.models import StockItem, StockMovement

pytestmark = pytest.mark.django_db


def _create(data: dict[str, Any]) -> tuple[Order, bool]:
    return actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)


def _codes(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]): e["type"] for e in exc.errors()}


def test_create_writes_order_lines_payment_event_and_reserves(
    channel: Channel, stock: Callable[..., None], order_json: dict[str, Any]
) -> None:
    stock("CHINELO-42", 5)
    order, created = _create(order_json)
    assert created
    assert order.number == f"M{order.pk:07d}"
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.status_path == ["pending_payment"]
    assert order.subtotal == Decimal("99.80")
    assert order.total == Decimal("114.80")
    assert order.customer_document == "52998224725"
    assert order.billing_address["postal_code"] == "01001000"
    assert order.shipping_address == order.billing_address
    assert OrderLine.objects.get(order=order).quantity == 2
    payment = Payment.objects.get(order=order)
    assert (payment.method, payment.status, payment.transaction_id) == ("boleto", "pending", "ch_123")
    assert str(payment.due_date) == order_json["payment"]["due_date"]
    assert order.stock_state == StockState.RESERVED
    item = StockItem.objects.get(sku="CHINELO-42")
    assert (item.physical, item.reserved, item.available) == (5, 2, 3)
    assert StockMovement.objects.filter(order=order, reason="order_reserve", reserved_delta=2).count() == 1
    event = OrderEvent.objects.get(order=order)
    assert (event.type, event.to_status, event.actor_kind) == ("created", "pending_payment", "system")


def test_same_channel_and_external_id_returns_existing(
    channel: Channel, stock: Callable[..., None], order_json: dict[str, Any]
) -> None:
    stock("CHINELO-42", 5)
    first, created_first = _create(order_json)
    second, created_second = _create(order_json)
    assert created_first and not created_second
    assert first.pk == second.pk
    assert Order.objects.count() == 1
    assert StockItem.objects.get(sku="CHINELO-42").reserved == 2


def test_same_external_id_on_another_channel_is_another_order(
    channel: Channel, xml_channel: Channel, stock: Callable[..., None], order_json: dict[str, Any]
) -> None:
    stock("CHINELO-42", 5)
    _create(order_json)
    _, created = _create({**order_json, "channel": "mercadolivre"})
    assert created
    assert Order.objects.count() == 2


def test_totals_must_add_up_to_the_cent(channel: Channel, order_json: dict[str, Any]) -> None:
    order_json["total"] = "114.81"
    with pytest.raises(InvalidInput) as exc:
        _create(order_json)
    assert (exc.value.code, exc.value.field) == ("totals_mismatch", "total")
    assert Order.objects.count() == 0


def test_totals_with_discount_tax_and_line_discount_are_accepted(
    channel: Channel, stock: Callable[..., None], order_json: dict[str, Any]
) -> None:
    stock("CHINELO-42", 5)
    order_json["items"][0]["discount"] = "9.80"  # 99.80 − 9.80 = 90.00
    order_json.update(discount="5.00", tax="1.25", total="101.25")  # 90 + 15 + 1.25 − 5
    order, created = _create(order_json)
    assert created and order.subtotal == Decimal("90.00")


def test_line_discount_cannot_exceed_line_value(channel: Channel, order_json: dict[str, Any]) -> None:
    order_json["items"][0]["discount"] = "100.00"
    with pytest.raises(InvalidInput) as exc:
        _create(order_json)
    assert (exc.value.code, exc.value.field) == ("line_discount_exceeds_value", "items.0.discount")


def test_unknown_channel_is_refused(db: None, order_json: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as exc:
        _create(order_json)
    assert (exc.value.code, exc.value.field) == ("unknown_channel", "channel")


@pytest.mark.parametrize(
    ("path", "value", "field", "code"),
    [
        (("customer", "document"), "111.444.777-36", "customer.document", "cpf_check_digit"),
        (("customer", "document"), "111.111.111-11", "customer.document", "cpf_repeated_digits"),
        (("customer", "document"), "11.222.333/0001-82", "customer.document", "cnpj_check_digit"),
        (("customer", "document"), "1234567890", "customer.document", "document_length"),
        (("billing_address", "state"), "XX", "billing_address.state", "uf_invalid"),
        (("billing_address", "postal_code"), "1234-567", "billing_address.postal_code", "cep_format"),
        (("billing_address", "postal_code"), "00000000", "billing_address.postal_code", "cep_zero"),
        (("customer", "email"), "not-an-email", "customer.email", "email_invalid"),
    ],
)
def test_document_and_address_rules(
    order_json: dict[str, Any], path: tuple[str, str], value: str, field: str, code: str
) -> None:
    order_json[path[0]][path[1]] = value
    with pytest.raises(ValidationError) as exc:
        OrderIn.model_validate(order_json)
    assert _codes(exc.value)[field] == code


@pytest.mark.parametrize(
    "document", ["111.444.777-35", "11144477735", "11.222.333/0001-81", "12.ABC.345/01DE-35"]
)
def test_valid_documents_are_normalized(order_json: dict[str, Any], document: str) -> None:
    order_json["customer"]["document"] = document
    parsed = OrderIn.model_validate(order_json)
    assert parsed.customer.document == document.replace(".", "").replace("-", "").replace("/", "").upper()


@pytest.mark.parametrize(("quantity", "code"), [(0, "quantity_not_positive"), (-1, "quantity_not_positive")])
def test_quantity_must_be_positive(order_json: dict[str, Any], quantity: int, code: str) -> None:
    order_json["items"][0]["quantity"] = quantity
    with pytest.raises(ValidationError) as exc:
        OrderIn.model_validate(order_json)
    assert _codes(exc.value)["items.0.quantity"] == code


def test_money_is_decimal_with_two_places(order_json: dict[str, Any]) -> None:
    order_json["items"][0]["unit_price"] = "49.901"
    with pytest.raises(ValidationError) as exc:
        OrderIn.model_validate(order_json)
    assert _codes(exc.value)["items.0.unit_price"] == "decimal_max_places"


def test_unknown_fields_are_refused(order_json: dict[str, Any]) -> None:
    order_json["customer"]["cpf"] = "x"
    with pytest.raises(ValidationError) as exc:
        OrderIn.model_validate(order_json)
    assert _codes(exc.value)["customer.cpf"] == "extra_forbidden"


def test_import_as_paid_without_stock_goes_out_of_stock(channel: Channel, order_json: dict[str, Any]) -> None:
    order_json["status"] = "paid"
    order, created = _create(order_json)  # no StockItem for the SKU: nothing to reserve
    assert created
    order.refresh_from_db()
    assert order.status == OrderStatus.OUT_OF_STOCK
    assert order.status_path == ["paid", "out_of_stock"]
    assert order.stock_state == StockState.UNRESERVED
    assert Payment.objects.get(order=order).status == "approved"
    assert list(OrderEvent.objects.filter(order=order).values_list("type", "transition")) == [
        ("created", ""),
        ("transition", "flag_out_of_stock"),
    ]


def test_pending_order_without_stock_is_created_unreserved(
    channel: Channel, order_json: dict[str, Any]
) -> None:
    order, _ = _create(order_json)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.stock_state == StockState.UNRESERVED
    assert StockMovement.objects.count() == 0


def test_naive_placed_at_is_read_in_sao_paulo(channel: Channel, order_json: dict[str, Any]) -> None:
    order_json["placed_at"] = "2026-11-20T14:03:00"
    parsed = OrderIn.model_validate(order_json)
    assert parsed.placed_at.utcoffset() is not None
    assert parsed.placed_at.isoformat().endswith("-03:00")
