"""An order imported paid whose reservation fails (``out_of_stock``) against the Tiny and Bling fakes
over HTTP: the ERP is created with what Malote tells it for that order (``StatusMap.told``: the
word for ``paid``, the latest status of the path it has a word for), which is exactly what the
divergence check expects, so no false ``divergent`` alarm; a status changed by hand in the ERP's
panel that Malote never sent is still one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.connectors.tests.helpers import Control, channel_at
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import divergent
from malote.reconcile.models import IntegrationIssue, IssueKind
from malote.relay import divergence
from malote.relay.tests import e2e
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake

pytestmark = pytest.mark.django_db

ACTOR = Actor.schedule("reconcile:divergent")


def later() -> Any:
    """Past any divergence grace (60 min by default)."""
    return timezone.now() + timedelta(hours=3)


def sold_out(make_order: Callable[..., Order]) -> Order:
    """Arrived paid from the storefront; the last units went to a competing sale: out_of_stock."""
    order = make_order(status="paid", physical=0)
    assert order.status == "out_of_stock" and order.status_path == ["paid", "out_of_stock"]
    return order


def tiny_situacao(fake: RunningFake[Any], number: str | None) -> str:
    with fake.app.lock:
        [pedido] = [p for p in fake.state.pedidos.values() if p.get("numero_ecommerce") == number]
        return str(pedido["_situacao"])


def divergent_issues(order: Order) -> list[IntegrationIssue]:
    return list(IntegrationIssue.objects.filter(kind=IssueKind.DIVERGENT, order=order))


def test_an_out_of_stock_order_is_created_in_tiny_as_told_and_is_no_divergence(
    tiny: Channel, tiny_fake: RunningFake[Any], make_order: Callable[..., Order]
) -> None:
    order = sold_out(make_order)
    drain()
    # Tiny got the word for paid (not its default "aberto"): the status Malote expects there.
    assert tiny_situacao(tiny_fake, order.number) == "aprovado"
    link = OrderLink.objects.get(order=order, channel=tiny)
    assert link.expected_status == "paid"
    e2e.fetch(tiny, link.external_id)  # Tiny's status as the intake reads it
    link.refresh_from_db()
    assert link.remote_status == "aprovado" and link.state == "linked"
    order.refresh_from_db()
    assert order.status == "out_of_stock"
    assert divergence.expected_statuses(tiny, order) == ("paid", "aprovado")
    counts = divergent.detect(later(), actor=ACTOR)
    assert counts["divergent"] == 0 and divergent_issues(order) == []


def test_a_status_malote_never_sent_to_tiny_is_still_divergent(
    tiny: Channel, tiny_fake: RunningFake[Any], tiny_control: Control, make_order: Callable[..., Order]
) -> None:
    order = sold_out(make_order)
    drain()
    link = OrderLink.objects.get(order=order, channel=tiny)
    # Someone ships it in Tiny's panel: Malote never sent enviado and cannot reach shipped (no stock).
    tiny_control(f"orders/{link.external_id}/situacao", {"situacao": "enviado"})
    e2e.fetch(tiny, link.external_id)
    order.refresh_from_db()
    assert order.status == "out_of_stock"
    divergent.detect(later(), actor=ACTOR)
    [issue] = divergent_issues(order)
    assert issue.channel == tiny and issue.evidence["remote_status"] == "enviado"
    assert issue.evidence["expected_remote"] == "aprovado"


def test_tiny_back_at_its_default_situacao_is_divergent(
    tiny: Channel, tiny_fake: RunningFake[Any], make_order: Callable[..., Order]
) -> None:
    """Once created as "aprovado", "aberto" is a status Malote never told Tiny for this order."""
    order = sold_out(make_order)
    drain()
    link = OrderLink.objects.get(order=order, channel=tiny)
    OrderLink.objects.filter(pk=link.pk).update(remote_status="aberto", remote_status_at=timezone.now())
    divergent.detect(later(), actor=ACTOR)
    [issue] = divergent_issues(order)
    assert (issue.evidence["remote_status"], issue.evidence["expected_remote"]) == ("aberto", "aprovado")


# --- Bling -------------------------------------------------------------------------------------


@pytest.fixture
def bling_fake() -> Iterator[RunningFake[Any]]:
    with start_fake("bling", seed=False) as running:
        yield running


@pytest.fixture
def bling(bling_fake: RunningFake[Any], channel: Channel) -> Channel:
    return channel_at(
        bling_fake, "bling", "Bling ERP", ChannelRole.ERP, credentials=dict(bling_fake.credentials)
    )


def bling_situacao(fake: RunningFake[Any], number: str | None) -> str:
    with fake.app.lock:
        [pedido] = [p for p in fake.state.pedidos.values() if p["numeroLoja"] == number]
        return str(pedido["situacao"]["id"])


def test_an_out_of_stock_order_is_created_in_bling_as_told_and_is_no_divergence(
    bling: Channel, bling_fake: RunningFake[Any], make_order: Callable[..., Order]
) -> None:
    Channel.objects.filter(pk=bling.pk).update(options={"generate_nfe_on": "paid"})
    order = sold_out(make_order)
    drain()
    assert bling_situacao(bling_fake, order.number) == "15"  # paid's word, not the default "6"
    assert not bling_fake.state.nfes  # an order without stock is not invoiced
    link = OrderLink.objects.get(order=order, channel=bling)
    e2e.fetch(bling, link.external_id)
    link.refresh_from_db()
    assert link.remote_status == "15" and link.expected_status == "paid"
    assert divergent.detect(later(), actor=ACTOR)["divergent"] == 0
    assert divergent_issues(order) == []
