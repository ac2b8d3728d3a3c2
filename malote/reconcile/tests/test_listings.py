"""``list_orders`` of Tiny, Pagar.me and Jumpseller against their fakes over HTTP (paging, the
fields reconciliation matches on), and the sales-channel check importing a lost order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel
from malote.connectors.registry import connector_for
from malote.connectors.tests.jumpseller_helpers import make_channel, place_order
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import integration
from malote.reconcile.models import IntegrationIssue, IssueKind, IssueState
from malote.reconcile.tests.conftest import went_live
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake

pytestmark = pytest.mark.django_db

ACTOR = Actor.schedule("reconcile")


def since() -> Any:
    return timezone.now() - timedelta(days=1)


def test_tiny_lists_every_page_with_the_ecommerce_number(
    tiny: Channel, tiny_control: Callable[..., dict[str, Any]]
) -> None:
    made = [tiny_control("orders", {"numero_ecommerce": f"M{n:07d}"})["pedido"] for n in range(55)]
    tiny_control(f"orders/{made[3]['id']}/invoice")
    with connector_for(tiny) as connector:
        first = connector.list_orders(since().isoformat())
        assert first.more and first.cursor == "2" and len(first.orders) == 50
        listed = list(integration.listing(connector, since()))
    assert [o.reference for o in listed] == [f"M{n:07d}" for n in range(55)]
    by_ref = {o.reference: o for o in listed}
    assert by_ref["M0000003"].remote_status == "faturado" and by_ref["M0000003"].status == "invoiced"
    assert by_ref["M0000000"].remote_status == "aberto" and by_ref["M0000000"].status == ""
    assert by_ref["M0000000"].external_id == str(made[0]["id"])


def test_tiny_empty_listing(tiny: Channel) -> None:
    with connector_for(tiny) as connector:
        page = connector.list_orders(since().isoformat())
    assert page.orders == [] and not page.more


def test_pagarme_lists_charges_with_the_shop_code(
    pagarme: Channel, pagarme_control: Callable[..., dict[str, Any]]
) -> None:
    pagarme.options = {**pagarme.options, "list_page_size": 2}
    pagarme.save()
    charges = [pagarme_control("orders", {"code": f"02-{n}", "payment_method": "pix"}) for n in range(3)]
    pagarme_control(f"charges/{charges[1]['charge_id']}/pay")
    with connector_for(pagarme) as connector:
        listed = list(integration.listing(connector, since()))
    by_ref = {o.reference: o for o in listed}
    assert set(by_ref) == {"02-0", "02-1", "02-2"}
    assert by_ref["02-1"].external_id == charges[1]["charge_id"] and by_ref["02-1"].status == "paid"
    assert by_ref["02-0"].remote_status == "pending" and by_ref["02-0"].status == ""


@pytest.fixture
def jumpseller_fake() -> Iterator[RunningFake[Any]]:
    with start_fake("jumpseller", seed=False, webhook_url="http://127.0.0.1:9/hooks/jumpseller") as running:
        yield running


def test_jumpseller_lists_and_a_lost_order_is_imported(
    jumpseller_fake: RunningFake[Any], stock: Callable[..., None]
) -> None:
    stock("CHINELO-42", 10)
    store = make_channel(jumpseller_fake, options={"integration_grace_minutes": 0}, go_live_at=went_live())
    placed = place_order(jumpseller_fake, items=[{"sku": "CHINELO-42", "qty": 1}], status="paid")
    with connector_for(store) as connector:
        listed = list(integration.listing(connector, since()))
    assert [o.external_id for o in listed] == [str(placed["id"])]
    assert listed[0].status == "paid"
    # The hook was lost (it went nowhere): the check finds the order and imports it.
    counts = integration.check(store, actor=ACTOR)
    assert counts["missing"] == 1 and counts["repair:imported"] == 1
    order = Order.objects.get(channel=store, external_id=str(placed["id"]))
    assert order.status == "paid"
    issue = IntegrationIssue.objects.get(kind=IssueKind.NOT_INTEGRATED, channel=store)
    assert issue.state == IssueState.RESOLVED and issue.order is None
    assert integration.check(store, actor=ACTOR)["missing"] == 0
