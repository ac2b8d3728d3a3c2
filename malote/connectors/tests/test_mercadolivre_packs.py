"""Mercado Livre packs (carts) and claims against the Mercado Livre fake over real HTTP.

A pack's orders share one shipment and one NF-e: Malote keeps ONE order per pack (external id =
the pack id), read through any of its orders, by notification or poll, once. A cart split across
warehouses is two packs of one family: two Malote orders naming the same family. A claim on an
order (of a pack or alone) is a ``claim`` issue on the Malote order with ML's due date, resolved
when ML closes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

import malote.connectors.mercadolivre as ml
from malote.channels.models import Channel, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.base import ListedOrder
from malote.connectors.mercadolivre.mapping import cancelled_in_pack, pack_status
from malote.connectors.registry import connector_for
from malote.connectors.tests.mercadolivre_helpers import (
    CODE,
    UNREACHABLE_HOOK_URL,
    Fake,
    buy,
    control,
    last_notification,
    make_channel,
    nfe_for,
    notifications,
    redeliver_done,
    replay,
)
from malote.orders import actions
from malote.orders.models import Order
from malote.reconcile import actions as issue_actions
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.relay.polling import poll_channel, sync_poll_schedule
from malote.stock.actions import set_physical
from malote.sync.models import InboxEvent
from malote.sync.worker import drain
from malote_dev.sandbox.clock import BRASILIA
from malote_dev.sandbox.seed import PRODUCTS
from malote_dev.sandbox.server import start_fake

pytestmark = pytest.mark.django_db

CART = [
    {"items": [{"sku": "CHINELO-42", "qty": 1}]},
    {"items": [{"sku": "CAMISETA-BRANCA-M", "qty": 2}]},
    {"items": [{"sku": "BONE-AZUL", "qty": 1}]},
]


@pytest.fixture
def fake() -> Iterator[Fake]:
    ml.clear_token_cache()
    with start_fake("mercadolivre", seed=False, webhook_url=UNREACHABLE_HOOK_URL) as running:
        yield running
    ml.clear_token_cache()


@pytest.fixture
def channel(fake: Fake) -> Channel:
    for product in PRODUCTS:
        set_physical(product.sku, 50, actor=SYSTEM)
    return make_channel(fake, options={"push_stock": False})


def buy_pack(fake: Fake, **body: Any) -> dict[str, Any]:
    """A buyer buys a cart (paid by default): ``{packs, orders, shipments}`` as ML has them."""
    return control(fake, "packs", {"orders": CART, **body}, status=201)


def replay_all(fake: Fake, topic: str = "orders_v2") -> list[str]:
    """Every notification of ``topic`` the fake sent, replayed in order: what reading each did."""
    results: list[str] = []
    for record in notifications(fake, topic):
        response = replay(record)
        assert response.status_code == 200, response.json()
        results += response.json()["results"]
    return results


def _paid(orders: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(o["paid_amount"])) for o in orders), Decimal("0"))


# --- one Malote order per pack -----------------------------------------------------------------


def test_a_pack_of_three_orders_becomes_one_order_with_every_line(fake: Fake, channel: Channel) -> None:
    cart = buy_pack(fake)
    [pack], orders, [shipment] = cart["packs"], cart["orders"], cart["shipments"]
    assert {o["pack_id"] for o in orders} == {pack["id"]} and len(orders) == 3
    assert {o["shipping"]["id"] for o in orders} == {shipment["id"]}

    results = replay_all(fake) + replay_all(fake, "shipments")

    order = Order.objects.get()
    assert order.external_id == str(pack["id"])
    assert sorted((line.sku, line.quantity) for line in order.lines.all()) == [
        ("BONE-AZUL", 1),
        ("CAMISETA-BRANCA-M", 2),
        ("CHINELO-42", 1),
    ]
    # The items of the three orders and the shared shipment's freight, counted once.
    items = sum((Decimal(str(o["total_amount"])) for o in orders), Decimal("0"))
    assert order.total == items + Decimal("15.00") == _paid(orders)
    assert order.status == "paid"
    # Every notification of every order read the same pack: one change, the rest duplicates.
    assert len([r for r in results if r != "duplicate"]) == 1, results
    assert InboxEvent.objects.filter(event_id__startswith="pack:").count() == 1
    link = OrderLink.objects.get(order=order, channel=channel)
    assert link.remote_data["mercadolivre_pack"] == {
        "pack_id": str(pack["id"]),
        "family_pack_id": "",
        "shipment_id": str(shipment["id"]),
        "orders": [{"id": str(o["id"]), "status": "paid"} for o in orders],
    }


def test_the_poll_takes_a_pack_in_once_and_its_notifications_are_duplicates(
    fake: Fake, channel: Channel
) -> None:
    cart = buy_pack(fake)
    schedule = sync_poll_schedule(channel)
    assert schedule is not None
    assert poll_channel(schedule, timezone.now()).startswith("1 change(s) in 1 page(s)")
    order = Order.objects.get()
    assert order.external_id == str(cart["packs"][0]["id"]) and order.lines.count() == 3
    assert set(replay_all(fake)) == {"duplicate"}
    assert Order.objects.count() == 1


def test_a_pack_waits_until_every_order_of_it_is_paid(fake: Fake, channel: Channel) -> None:
    cart = buy_pack(fake, paid=False)
    first, *others = cart["orders"]
    control(fake, f"orders/{first['id']}/pay")
    replay_all(fake)
    assert not Order.objects.exists(), "one order paid out of three: the pack is not paid"
    for other in others:
        control(fake, f"orders/{other['id']}/pay")
    replay(last_notification(fake, "orders_v2", f"/orders/{others[-1]['id']}"))
    assert Order.objects.get().status == "paid"


def test_the_nfe_of_a_pack_goes_once_to_the_shared_shipment(fake: Fake, channel: Channel) -> None:
    cart = buy_pack(fake)
    [shipment] = cart["shipments"]
    replay(last_notification(fake, "orders_v2", f"/orders/{cart['orders'][0]['id']}"))
    order = Order.objects.get()
    invoice = nfe_for({"paid_amount": str(_paid(cart["orders"]))}, recipient_cpf=order.customer_document)
    actions.run_transition(order.pk, "invoice", invoice, actor=SYSTEM)
    assert drain(prefix="channel:") == 1
    uploads = [c for c in fake.calls if c.method == "POST" and c.path.endswith("/invoice_data/")]
    assert [c.path for c in uploads] == [f"/shipments/{shipment['id']}/invoice_data/"]
    assert fake.state.invoices[shipment["id"]]["fiscal_key"] == invoice["key"]
    assert fake.state.shipments[shipment["id"]]["substatus"] == "ready_to_print"
    # Delivered again (a lost answer): read back on the shipment, never uploaded twice.
    assert redeliver_done() == 1 and drain(prefix="channel:") == 1
    assert len([c for c in fake.calls if c.method == "POST" and c.path.endswith("/invoice_data/")]) == 1


def test_a_split_pack_gives_two_orders_of_one_family(fake: Fake, channel: Channel) -> None:
    cart = buy_pack(fake, split=True)
    first, second = cart["packs"]
    assert first["family_pack_id"] == second["family_pack_id"] is not None
    assert first["shipment"]["id"] != second["shipment"]["id"]
    # The family's id is its own: no order, pack or shipment of ML is known by it.
    ids = {o["id"] for o in cart["orders"]} | {p["id"] for p in cart["packs"]}
    assert first["family_pack_id"] not in ids | {s["id"] for s in cart["shipments"]}
    replay_all(fake)
    orders = {o.external_id: o for o in Order.objects.all()}
    assert set(orders) == {str(first["id"]), str(second["id"])}
    assert orders[str(first["id"])].lines.count() == 1 and orders[str(second["id"])].lines.count() == 2
    family = {
        link.order.external_id: link.remote_data["mercadolivre_pack"]["family_pack_id"]
        for link in OrderLink.objects.filter(channel=channel).select_related("order")
    }
    assert family == {
        str(first["id"]): str(first["family_pack_id"]),
        str(second["id"]): str(first["family_pack_id"]),
    }


def test_a_single_order_is_imported_as_before(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    order = Order.objects.get()
    assert order.external_id == str(placed["id"])
    assert InboxEvent.objects.filter(event_id__startswith=f"order:{placed['id']}:").exists()
    assert OrderLink.objects.get(order=order, channel=channel).remote_data == {}
    assert not fake.calls.filter("GET", "/packs/"), "no pack to read"


# --- the reconciliation's listing ---------------------------------------------------------------


def _listing(channel: Channel) -> list[ListedOrder]:
    """Every entry of the listing of the last hour, page after page."""
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    listed: list[ListedOrder] = []
    cursor: str | None = None
    with connector_for(channel) as connector:
        for _page in range(50):
            page = connector.list_orders(since, cursor)
            listed += page.orders
            if not page.more:
                return listed
            cursor = page.cursor
    raise AssertionError("the listing never ends")


def _total(*orders: dict[str, Any]) -> str:
    return str(sum((Decimal(str(o["total_amount"])).quantize(Decimal("0.01")) for o in orders), Decimal(0)))


@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 50])
def test_the_listing_names_each_pack_once_and_whole_wherever_the_pages_break(
    fake: Fake, channel: Channel, monkeypatch: pytest.MonkeyPatch, page_size: int
) -> None:
    first, _shipment = buy(fake)
    cart = buy_pack(fake)  # one pack of three orders
    split = buy_pack(fake, split=True)  # a pack of one order and a pack of two, of one family
    last, _shipment = buy(fake)
    monkeypatch.setattr("malote.connectors.mercadolivre.connector.PAGE_SIZE", page_size)
    listed = _listing(channel)
    by_pack = [
        (str(pack["id"]), [o for o in cart["orders"] + split["orders"] if o["pack_id"] == pack["id"]])
        for pack in cart["packs"] + split["packs"]
    ]
    assert [(o.external_id, o.total, o.remote_status) for o in listed] == [
        (str(first["id"]), _total(first), "paid"),
        *[(pack_id, _total(*orders), "paid") for pack_id, orders in by_pack],
        (str(last["id"]), _total(last), "paid"),
    ]
    searches = fake.calls.filter("GET", "/orders/search")
    assert {call.query["limit"][0] for call in searches} == {str(page_size)}


# --- a cancel inside a pack ---------------------------------------------------------------------


def test_one_order_cancelled_inside_a_paid_pack_is_left_to_a_person(fake: Fake, channel: Channel) -> None:
    cart = buy_pack(fake)
    replay(last_notification(fake, "orders_v2", f"/orders/{cart['orders'][0]['id']}"))
    cancelled = cart["orders"][1]
    control(fake, f"orders/{cancelled['id']}/cancel")
    replay(last_notification(fake, "orders_v2", f"/orders/{cancelled['id']}"))
    order = Order.objects.get()
    assert order.status == "paid" and order.lines.count() == 3, "the Malote order is not cancelled"
    issue = IntegrationIssue.objects.get(kind=IssueKind.PARTIAL_CANCEL)
    assert (issue.order, issue.state) == (order, IssueState.OPEN)
    assert issue.evidence["pack"]["cancelled_orders"] == [str(cancelled["id"])]
    assert issue.evidence["pack"]["lines"] == [
        {"order_id": str(cancelled["id"]), "sku": "CAMISETA-BRANCA-M", "quantity": 2}
    ]


def test_a_pack_cancelled_whole_cancels_the_order_and_closes_the_partial_cancel(
    fake: Fake, channel: Channel
) -> None:
    cart = buy_pack(fake)
    replay(last_notification(fake, "orders_v2", f"/orders/{cart['orders'][0]['id']}"))
    control(fake, f"orders/{cart['orders'][0]['id']}/cancel")
    replay(last_notification(fake, "orders_v2", f"/orders/{cart['orders'][0]['id']}"))
    assert IntegrationIssue.objects.get(kind=IssueKind.PARTIAL_CANCEL).state == IssueState.OPEN
    for other in cart["orders"][1:]:
        control(fake, f"orders/{other['id']}/cancel")
    replay(last_notification(fake, "orders_v2", f"/orders/{cart['orders'][-1]['id']}"))
    assert Order.objects.get().status == "canceled"
    assert IntegrationIssue.objects.get(kind=IssueKind.PARTIAL_CANCEL).state == IssueState.RESOLVED


def test_a_dismissed_partial_cancel_stays_dismissed_until_another_order_is_cancelled(
    fake: Fake, channel: Channel
) -> None:
    cart = buy_pack(fake)
    first, second, third = cart["orders"]
    replay(last_notification(fake, "orders_v2", f"/orders/{first['id']}"))
    control(fake, f"orders/{second['id']}/cancel")
    replay(last_notification(fake, "orders_v2", f"/orders/{second['id']}"))
    issue = IntegrationIssue.objects.get(kind=IssueKind.PARTIAL_CANCEL)
    issue_actions.dismiss(issue.pk, actor=SYSTEM, reason="Item retirado da NF-e")
    control(fake, f"orders/{first['id']}/status", {"status": "partially_refunded"})  # ML touches the pack
    assert replay(last_notification(fake, "orders_v2", f"/orders/{first['id']}")).json()["results"] != [
        "duplicate"
    ]
    assert list(IntegrationIssue.objects.values_list("state", flat=True)) == [IssueState.DISMISSED]
    control(fake, f"orders/{third['id']}/cancel")
    replay(last_notification(fake, "orders_v2", f"/orders/{third['id']}"))
    reopened = IntegrationIssue.objects.get(kind=IssueKind.PARTIAL_CANCEL, state=IssueState.OPEN)
    assert reopened.evidence["pack"]["cancelled_orders"] == sorted([str(second["id"]), str(third["id"])])


@pytest.mark.parametrize(
    ("statuses", "pack", "partial"),
    [
        (["paid", "paid", "paid"], "paid", False),
        (["paid", "payment_required", "paid"], "payment_required", False),
        (["paid", "cancelled", "paid"], "paid", True),
        (["cancelled", "cancelled"], "cancelled", False),
        (["payment_in_process", "cancelled"], "payment_in_process", True),
    ],
)
def test_a_packs_status_is_paid_only_when_every_live_order_is(
    statuses: list[str], pack: str, partial: bool
) -> None:
    orders = [{"id": n, "status": status} for n, status in enumerate(statuses)]
    assert pack_status(orders) == pack
    assert bool(cancelled_in_pack(orders)) is partial


# --- claims -------------------------------------------------------------------------------------


def _claim_notification(fake: Fake, claim_id: int) -> Any:
    return last_notification(fake, "claims", f"/post-purchase/v1/claims/{claim_id}")


def test_a_claim_on_an_order_of_a_pack_is_an_issue_on_the_packs_order_until_closed(
    fake: Fake, channel: Channel, user_with_role: Any
) -> None:
    cart = buy_pack(fake)
    replay(last_notification(fake, "orders_v2", f"/orders/{cart['orders'][0]['id']}"))
    order = Order.objects.get()
    opened = control(fake, "claims", {"order_id": cart["orders"][2]["id"], "due_hours": 50}, status=201)[
        "claim"
    ]
    response = replay(_claim_notification(fake, opened["id"]))
    assert response.json()["results"] == ["reported"]

    issue = IntegrationIssue.objects.get(kind=IssueKind.CLAIM)
    assert (issue.order, issue.state, issue.subject) == (order, IssueState.OPEN, f"claim:{opened['id']}")
    respondent = next(p for p in opened["players"] if p["role"] == "respondent")
    due = ml.parse_time(respondent["available_actions"][0]["due_date"])
    assert due is not None
    assert issue.evidence["claim"]["due_date"] == due.isoformat()
    due_words = f"{due.astimezone(BRASILIA):%d/%m/%Y %H:%M}"
    assert issue.detail == (
        f"Reclamação {opened['id']} no Mercado Livre (venda {order.external_id}): responder até {due_words}"
    )
    client = Client()
    client.force_login(user_with_role("operator"))
    page = client.get("/backoffice/pendencias/").content.decode()
    assert "Reclamação do comprador" in page and f"responder até {due_words}" in page
    assert order.status == "paid", "a claim changes nothing of the order itself"

    control(fake, f"claims/{opened['id']}/close", {"reason": "item_returned"})
    assert replay(_claim_notification(fake, opened["id"])).json()["results"] == ["reported"]
    issue.refresh_from_db()
    assert issue.state == IssueState.RESOLVED and "item_returned" in issue.resolution


def test_a_claim_escalated_to_mediation_keeps_one_issue_with_the_new_deadline(
    fake: Fake, channel: Channel
) -> None:
    placed, _shipment = buy(fake)
    replay(last_notification(fake, "orders_v2", f"/orders/{placed['id']}"))
    opened = control(fake, "claims", {"order_id": placed["id"]}, status=201)["claim"]
    replay(_claim_notification(fake, opened["id"]))
    disputed = control(fake, f"claims/{opened['id']}/dispute", {"due_hours": 24})["claim"]
    replay(_claim_notification(fake, opened["id"]))
    issue = IntegrationIssue.objects.get(kind=IssueKind.CLAIM)
    assert issue.order == Order.objects.get() and issue.state == IssueState.OPEN
    respondent = next(p for p in disputed["players"] if p["role"] == "respondent")
    assert issue.evidence["claim"]["stage"] == "dispute"
    due = ml.parse_time(respondent["available_actions"][0]["due_date"])
    assert due is not None and issue.evidence["claim"]["due_date"] == due.isoformat()
    assert issue.detail.startswith(f"Mediação {opened['id']}")


def test_a_claim_before_its_order_is_an_issue_on_the_sale_and_a_repeat_changes_nothing(
    fake: Fake, channel: Channel
) -> None:
    placed, _shipment = buy(fake)
    opened = control(fake, "claims", {"order_id": placed["id"]}, status=201)["claim"]
    record = _claim_notification(fake, opened["id"])
    replay(record)
    assert replay(record).json()["results"] == ["duplicate"]
    issue = IntegrationIssue.objects.get(kind=IssueKind.CLAIM)
    assert (issue.order, issue.external_ref) == (None, str(placed["id"]))
    assert not Order.objects.exists(), "a claim imports nothing"


def test_a_claims_notification_for_another_seller_is_refused(fake: Fake, channel: Channel) -> None:
    placed, _shipment = buy(fake)
    opened = control(fake, "claims", {"order_id": placed["id"]}, status=201)["claim"]
    body = _claim_notification(fake, opened["id"]).json | {"user_id": 1}
    response = Client().post(f"/hooks/{CODE}", data=body, content_type="application/json")
    assert response.status_code == 401
    assert not IntegrationIssue.objects.exists()


def test_messages_are_acknowledged_and_not_read(fake: Fake, channel: Channel) -> None:
    body = {
        "resource": "/messages/0b1f1b2c3d4e5f",
        "user_id": int(channel.credentials["user_id"]),
        "topic": "messages",
        "application_id": int(channel.credentials["client_id"]),
        "attempts": 1,
    }
    fake.calls.clear()
    response = Client().post(f"/hooks/{CODE}", data=body, content_type="application/json")
    assert response.status_code == 200 and response.json()["results"] == []
    assert fake.calls.all() == [] and not IntegrationIssue.objects.exists()
