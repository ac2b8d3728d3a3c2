"""Partial shipments (docs/lifecycle.md, "Partial shipments"): an order shipped in parts, each with
its tracking code and units; delivered with its last part; several NF-e per order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from malote.conftest import SYSTEM
from malote.core.errors import Conflict, InvalidInput
from malote.orders import actions, parts, serializers
from malote.orders.models import Invoice, Order, OrderEvent, Shipment
from malote.orders.shipments import add_invoice, ship_part
from malote.sync.models import OutboxMessage
from malote_dev.testing.fiscal import make_nfe_key
from malote_dev.testing.orders import bring_to, valid_input

pytestmark = pytest.mark.django_db

# Two lines: 2 × CHINELO-42 at 49.90 and 3 × BONE-1 at 20.00, + 15.00 shipping = 174.80.
ITEMS = [
    {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "49.90"},
    {"sku": "BONE-1", "name": "Boné azul", "quantity": 3, "unit_price": "20.00"},
]


def _ship(tracking: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"carrier": "Loggi", "method": "Expresso", "tracking_code": tracking}
    if lines is not None:
        data["lines"] = lines
    return data


@pytest.fixture
def invoiced(make_order: Callable[..., Order], stock: Callable[..., None]) -> Order:
    stock("BONE-1", 10)
    return bring_to(make_order(items=ITEMS, total="174.80"), "invoiced")


def _first_part(order: Order) -> None:
    lines = [{"sku": "CHINELO-42", "quantity": 2}, {"sku": "BONE-1", "quantity": 1}]
    actions.run_transition(order.pk, "ship", _ship("JD-1", lines), actor=SYSTEM)


def _emails(order: Order) -> list[str]:
    """The customer e-mails queued for the order, in order."""
    rows = OutboxMessage.objects.filter(order_id=order.pk, destination="email:customer").order_by("id")
    return [m.payload["status"] for m in rows]


def _later(minutes: int) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


def test_ship_with_lines_ships_the_first_part_and_enters_shipped(invoiced: Order) -> None:
    _first_part(invoiced)
    invoiced.refresh_from_db()
    assert invoiced.status == "shipped"
    part = Shipment.objects.get(order=invoiced)
    assert part.tracking_code == "JD-1"
    assert {(i.line.sku, i.quantity) for i in parts.line_items(part)} == {("CHINELO-42", 2), ("BONE-1", 1)}
    detail = serializers.order_detail(invoiced, None)
    assert detail["unshipped"] == [{"line": 2, "sku": "BONE-1", "quantity": 2}]
    assert detail["shipments"][0]["number"] == 1
    # The customer hears "shipped" with the first part, as for an order shipped whole.
    assert _emails(invoiced) == ["received", "paid", "invoiced", "shipped"]


def test_ship_without_lines_ships_everything_and_writes_no_line(invoiced: Order) -> None:
    actions.run_transition(invoiced.pk, "ship", _ship("JD-1"), actor=SYSTEM)
    part = Shipment.objects.get(order=invoiced)
    assert parts.line_items(part) == []
    invoiced.refresh_from_db()
    detail = serializers.order_detail(invoiced, None)
    assert detail["unshipped"] == []
    assert [(line["sku"], line["quantity"]) for line in detail["shipments"][0]["lines"]] == [
        ("CHINELO-42", 2),
        ("BONE-1", 3),
    ]
    with pytest.raises(Conflict) as exc:
        ship_part(invoiced.pk, _ship("JD-2"), actor=SYSTEM)
    assert exc.value.code == "order_fully_shipped"


@pytest.mark.parametrize(
    ("lines", "code", "field"),
    [
        ([{"sku": "CHINELO-42", "quantity": 3}], "shipment_quantity_exceeds_remaining", "lines.0.quantity"),
        ([{"sku": "NOPE", "quantity": 1}], "shipment_line_unknown", "lines.0.sku"),
        ([{"line": 9, "quantity": 1}], "shipment_line_unknown", "lines.0.line"),
        ([{"line": 1, "sku": "BONE-1", "quantity": 1}], "shipment_line_unknown", "lines.0.line"),
        (
            [{"sku": "BONE-1", "quantity": 1}, {"line": 2, "quantity": 1}],
            "shipment_line_repeated",
            "lines.1",
        ),
        ([{"sku": "BONE-1", "quantity": 0}], "greater_than_equal", "lines.0.quantity"),
        ([{"quantity": 1}], "shipment_line_unknown", "lines.0"),
    ],
)
def test_ship_refuses_lines_that_do_not_fit_the_order(
    invoiced: Order, lines: list[dict[str, Any]], code: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(invoiced.pk, "ship", _ship("JD-1", lines), actor=SYSTEM)
    assert (exc.value.code, exc.value.field) == (code, field)
    invoiced.refresh_from_db()
    assert invoiced.status == "invoiced" and not Shipment.objects.filter(order=invoiced).exists()


def test_a_sku_on_two_lines_is_named_by_position(make_order: Callable[..., Order]) -> None:
    items = [
        {"sku": "CHINELO-42", "name": "Chinelo 42 azul", "quantity": 1, "unit_price": "49.90"},
        {"sku": "CHINELO-42", "name": "Chinelo 42 azul (brinde)", "quantity": 1, "unit_price": "49.90"},
    ]
    order = bring_to(make_order(items=items), "invoiced")
    with pytest.raises(InvalidInput) as exc:
        actions.run_transition(
            order.pk, "ship", _ship("JD-1", [{"sku": "CHINELO-42", "quantity": 1}]), actor=SYSTEM
        )
    assert exc.value.code == "shipment_line_ambiguous"
    actions.run_transition(order.pk, "ship", _ship("JD-1", [{"line": 2, "quantity": 1}]), actor=SYSTEM)
    assert [(i.line.position, i.quantity) for i in parts.line_items(Shipment.objects.get(order=order))] == [
        (2, 1)
    ]


def test_further_parts_until_every_unit_left(invoiced: Order) -> None:
    _first_part(invoiced)
    result = ship_part(invoiced.pk, _ship("JD-2", [{"sku": "BONE-1", "quantity": 1}]), actor=SYSTEM)
    assert result.applied
    with pytest.raises(InvalidInput) as exc:
        ship_part(invoiced.pk, _ship("JD-3", [{"sku": "BONE-1", "quantity": 2}]), actor=SYSTEM)
    assert (exc.value.code, exc.value.extra["remaining"]) == ("shipment_quantity_exceeds_remaining", 1)
    ship_part(invoiced.pk, _ship("JD-3"), actor=SYSTEM)  # without lines: the rest
    invoiced.refresh_from_db()
    assert invoiced.status == "shipped"  # no status of its own
    assert serializers.order_detail(invoiced, None)["unshipped"] == []
    assert [s.tracking_code for s in Shipment.objects.filter(order=invoiced).order_by("id")] == [
        "JD-1",
        "JD-2",
        "JD-3",
    ]
    event = OrderEvent.objects.filter(order=invoiced, type="shipment_part").order_by("id").last()
    assert (
        event is not None
        and event.data["part"] == 3
        and event.data["lines"] == [{"line": 2, "sku": "BONE-1", "quantity": 1}]
    )
    with pytest.raises(Conflict) as fully:
        ship_part(invoiced.pk, _ship("JD-4"), actor=SYSTEM)
    assert fully.value.code == "order_fully_shipped"


def test_a_part_repeated_is_a_no_op_and_with_other_data_a_conflict(invoiced: Order) -> None:
    _first_part(invoiced)
    ship_part(invoiced.pk, _ship("JD-2", [{"sku": "BONE-1", "quantity": 1}]), actor=SYSTEM)
    again = ship_part(invoiced.pk, _ship("jd-2", [{"sku": "BONE-1", "quantity": 1}]), actor=SYSTEM)
    assert not again.applied
    with pytest.raises(Conflict) as exc:
        ship_part(invoiced.pk, _ship("JD-2", [{"sku": "BONE-1", "quantity": 2}]), actor=SYSTEM)
    assert (exc.value.code, exc.value.field) == ("shipment_part_conflict", "lines")
    with pytest.raises(Conflict) as first:  # the first part's code
        ship_part(invoiced.pk, _ship("JD-1") | {"method": "Agendado"}, actor=SYSTEM)
    assert (first.value.code, first.value.field) == ("shipment_part_conflict", "method")
    assert Shipment.objects.filter(order=invoiced).count() == 2


def test_a_further_part_needs_the_order_on_its_way(invoiced: Order) -> None:
    with pytest.raises(Conflict) as exc:
        ship_part(invoiced.pk, _ship("JD-1"), actor=SYSTEM)
    assert (exc.value.code, exc.value.extra["status"]) == ("shipment_part_not_allowed", "invoiced")
    _first_part(invoiced)
    actions.run_transition(invoiced.pk, "mark_in_transit", {}, actor=SYSTEM)
    assert ship_part(invoiced.pk, _ship("JD-2"), actor=SYSTEM).applied  # in transit: allowed


def test_a_second_ship_transition_is_not_a_part(invoiced: Order) -> None:
    _first_part(invoiced)
    with pytest.raises(Conflict) as exc:
        actions.run_transition(
            invoiced.pk, "ship", _ship("JD-2", [{"sku": "BONE-1", "quantity": 2}]), actor=SYSTEM
        )
    assert exc.value.code == "transition_conflict"


def test_delivered_only_with_the_last_part(invoiced: Order) -> None:
    _first_part(invoiced)
    ship_part(invoiced.pk, _ship("JD-2"), actor=SYSTEM)
    first = actions.run_transition(
        invoiced.pk, "deliver", {"delivered_at": _later(60), "tracking_code": "JD-1"}, actor=SYSTEM
    )
    assert first.applied
    invoiced.refresh_from_db()
    assert invoiced.status == "shipped"
    assert Shipment.objects.get(order=invoiced, tracking_code="JD-1").status == "delivered"
    assert Shipment.objects.get(order=invoiced, tracking_code="JD-2").status == "shipped"
    assert OrderEvent.objects.filter(order=invoiced, type="shipment_delivered").count() == 1
    assert "delivered" not in _emails(invoiced)
    actions.run_transition(
        invoiced.pk, "deliver", {"delivered_at": _later(90), "tracking_code": "JD-2"}, actor=SYSTEM
    )
    invoiced.refresh_from_db()
    assert invoiced.status == "delivered"
    assert _emails(invoiced)[-1] == "delivered"
    assert set(Shipment.objects.filter(order=invoiced).values_list("status", flat=True)) == {"delivered"}
    # A part delivered again: the same time is a no-op, another time a conflict.
    when = Shipment.objects.get(order=invoiced, tracking_code="JD-1").delivered_at
    assert when is not None
    repeat = actions.run_transition(
        invoiced.pk, "deliver", {"delivered_at": when.isoformat(), "tracking_code": "JD-1"}, actor=SYSTEM
    )
    assert not repeat.applied
    with pytest.raises(Conflict) as exc:
        actions.run_transition(
            invoiced.pk, "deliver", {"delivered_at": _later(5), "tracking_code": "JD-1"}, actor=SYSTEM
        )
    assert (exc.value.code, exc.value.field) == ("transition_conflict", "delivered_at")


def test_delivering_every_part_leaves_the_order_shipped_while_units_remain(invoiced: Order) -> None:
    _first_part(invoiced)
    actions.run_transition(
        invoiced.pk, "deliver", {"delivered_at": _later(60), "tracking_code": "JD-1"}, actor=SYSTEM
    )
    invoiced.refresh_from_db()
    assert invoiced.status == "shipped"
    with pytest.raises(Conflict) as exc:
        actions.run_transition(invoiced.pk, "deliver", {"delivered_at": _later(60)}, actor=SYSTEM)
    assert exc.value.code == "order_not_fully_shipped"
    assert exc.value.extra["unshipped"] == [{"line": 2, "sku": "BONE-1", "quantity": 2}]
    ship_part(invoiced.pk, _ship("JD-2"), actor=SYSTEM)
    actions.run_transition(invoiced.pk, "deliver", {"delivered_at": _later(120)}, actor=SYSTEM)
    invoiced.refresh_from_db()
    assert invoiced.status == "delivered"


def test_deliver_a_part_refuses_unknown_codes_and_times_before_it_left(invoiced: Order) -> None:
    _first_part(invoiced)
    with pytest.raises(InvalidInput) as unknown:
        actions.run_transition(
            invoiced.pk, "deliver", {"delivered_at": _later(60), "tracking_code": "XX"}, actor=SYSTEM
        )
    assert (unknown.value.code, unknown.value.field) == ("shipment_unknown", "tracking_code")
    with pytest.raises(InvalidInput) as early:
        actions.run_transition(
            invoiced.pk, "deliver", {"delivered_at": _later(-60), "tracking_code": "JD-1"}, actor=SYSTEM
        )
    assert early.value.code == "delivered_before_shipped"
    assert Shipment.objects.get(order=invoiced).status == "shipped"


def test_deliver_without_a_part_on_a_one_part_order_reads_as_before(invoiced: Order) -> None:
    actions.run_transition(invoiced.pk, "ship", _ship("JD-1"), actor=SYSTEM)
    payload = valid_input(invoiced, "deliver")
    with CaptureQueriesContext(connection) as queries:
        actions.run_transition(invoiced.pk, "deliver", payload, actor=SYSTEM)
    # No query of the partial-shipment rules runs for an order shipped whole.
    assert not [q for q in queries.captured_queries if "shipmentline" in q["sql"]]
    invoiced.refresh_from_db()
    assert invoiced.status == "delivered"


# --- several NF-e ---------------------------------------------------------------------------


def _nfe(number: int) -> dict[str, Any]:
    now = timezone.localtime()
    key = make_nfe_key(number, year=now.year, month=now.month)
    return {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat()}


def test_add_invoice_records_a_further_nfe(invoiced: Order) -> None:
    assert add_invoice(invoiced.pk, _nfe(5001), actor=SYSTEM).applied
    assert Invoice.objects.filter(order=invoiced).count() == 2
    assert not add_invoice(invoiced.pk, _nfe(5001), actor=SYSTEM).applied  # the same key: a no-op
    assert OrderEvent.objects.filter(order=invoiced, type="invoice_added").count() == 1
    invoiced.refresh_from_db()
    assert invoiced.status == "invoiced"
    with pytest.raises(InvalidInput) as mismatch:
        add_invoice(invoiced.pk, _nfe(5002) | {"number": "5003"}, actor=SYSTEM)
    assert mismatch.value.code == "invoice_number_mismatch"


def test_add_invoice_needs_a_first_invoice_and_a_free_key(
    make_order: Callable[..., Order], invoiced: Order
) -> None:
    paid = bring_to(make_order(), "paid")
    with pytest.raises(Conflict) as missing:
        add_invoice(paid.pk, _nfe(6001), actor=SYSTEM)
    assert missing.value.code == "invoice_missing"
    first_key = Invoice.objects.get(order=invoiced).key
    other = bring_to(make_order(), "invoiced")
    with pytest.raises(Conflict) as taken:
        add_invoice(
            other.pk, {**_nfe(6002), "key": first_key, "number": str(int(first_key[25:34]))}, actor=SYSTEM
        )
    assert taken.value.code == "invoice_key_in_use"
    canceled = bring_to(make_order(), "invoiced")
    actions.run_transition(
        canceled.pk, "cancel", {"reason": "other", "nfe_action": "cancel_nfe"}, actor=SYSTEM
    )
    with pytest.raises(Conflict) as refused:
        add_invoice(canceled.pk, _nfe(6003), actor=SYSTEM)
    assert refused.value.code == "invoice_not_allowed"
