"""A return's refund at the gateway fakes (Adyen, Pagar.me): part of the payment goes back, the
return ends refunded, the order stays delivered (docs/returns.md, docs/connectors/)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from malote.channels.models import Channel, ChannelRole
from malote.connectors.tests.helpers import channel_at, control_of, pagarme_gateway
from malote.orders import actions
from malote.orders.models import Order
from malote.returns import actions as return_actions
from malote.returns.models import Return
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.orders import SYSTEM, valid_input

pytestmark = pytest.mark.django_db


def _hook(fake: RunningFake[Any], event: str) -> Any:
    assert fake.wait_for_webhooks()
    records = [record for record in fake.webhooks.all() if record.event == event]
    assert records, f"no {event} webhook in {fake.webhooks.events()}"
    return records[-1]


def _deliver(code: str, record: Any) -> Any:
    headers = {k: v for k, v in record.headers.items() if k.lower() not in ("content-type", "user-agent")}
    answer = Client().post(
        f"/hooks/{code}", data=record.body, content_type="application/json", headers=headers
    )
    assert answer.status_code == 200, answer.content
    return answer


def _deliver_paid(order: Order) -> None:
    """The gateway paid the order; the shop invoices, ships and delivers it."""
    order.refresh_from_db()
    assert order.status == "paid"
    for name in ("invoice", "ship", "deliver"):
        actions.run_transition(order.pk, name, valid_input(order, name), actor=SYSTEM)


def _one_pair_refund_requested(order: Order) -> Return:
    """One of the two pairs comes back in condition to sell; its 49.90 is asked of the gateway."""
    payload = {"reason": "regret", "lines": [{"position": 1, "quantity": 1}]}
    ret = return_actions.create_return(order.pk, payload, actor=SYSTEM)
    return_actions.run_return_transition(ret.pk, "authorize", None, actor=SYSTEM)
    received = {"lines": [{"line": ret.lines.get().pk, "quantity": 1, "condition": "restock"}]}
    return_actions.run_return_transition(ret.pk, "receive", received, actor=SYSTEM)
    return return_actions.run_return_transition(
        ret.pk, "request_refund", {"amount": "49.90"}, actor=SYSTEM
    ).ret


@pytest.fixture
def adyen_fake() -> Iterator[RunningFake[Any]]:
    with start_fake("adyen", seed=False) as running:
        yield running


@pytest.fixture
def pagarme_fake() -> Iterator[RunningFake[Any]]:
    with start_fake("pagarme", seed=False) as running:
        yield running


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


def test_adyen_refunds_part_of_the_payment_and_its_webhook_confirms_the_return(
    adyen_fake: RunningFake[Any], channel: Channel, make_order: Callable[..., Order], http: httpx.Client
) -> None:
    fake = adyen_fake
    control = control_of(fake, http)
    channel_at(
        fake,
        "adyen",
        "Adyen",
        ChannelRole.GATEWAY,
        credentials={"hmac_key": fake.credentials["hmac_key"], "api_key": fake.credentials["api_key"]},
        options={"merchant_account": fake.credentials["merchant_account"]},
    )
    payment = {"method": "credit_card", "gateway": "adyen", "installments": 1}
    order = make_order(external_id=f"02-{time.monotonic_ns() % 10**9:09d}", payment=payment)
    psp = control("payments", {"merchantReference": order.number, "amount": 11480})["payment"]["pspReference"]
    _deliver("adyen", _hook(fake, "AUTHORISATION"))
    _deliver_paid(order)
    ret = _one_pair_refund_requested(order)

    assert drain(prefix="channel:") == 1
    [call] = fake.calls.filter("POST", f"/v71/payments/{psp}/refunds")
    assert call.json["amount"] == {"value": 4990, "currency": "BRL"}
    assert call.json["reference"] == ret.number
    assert Return.objects.get(pk=ret.pk).status == "refund_pending"  # Adyen answers "received"
    _deliver("adyen", _hook(fake, "REFUND"))

    ret.refresh_from_db()
    order.refresh_from_db()
    assert (ret.status, ret.refunded_amount) == ("refunded", ret.refund_amount)
    assert order.status == "delivered"
    assert fake.state.payments[psp]["refunded"] == 4990
    assert fake.state.payments[psp]["status"] == "Captured"


def test_pagarme_refunds_part_of_the_charge_and_its_answer_confirms_the_return(
    pagarme_fake: RunningFake[Any], channel: Channel, make_order: Callable[..., Order], http: httpx.Client
) -> None:
    fake = pagarme_fake
    control = control_of(fake, http)
    with pagarme_gateway(fake):
        external_id = f"02-{time.monotonic_ns() % 10**9:09d}"
        checkout = {
            "code": external_id,
            "items": [{"sku": "CHINELO-42", "qty": 2}],
            "payment_method": "credit_card",
        }
        charge_id = control("orders", checkout)["charge_id"]
        payment = {
            "method": "credit_card",
            "gateway": "pagarme",
            "transaction_id": charge_id,
            "installments": 1,
        }
        order = make_order(external_id=external_id, payment=payment)
        control(f"charges/{charge_id}/pay")
        _deliver("pagarme", _hook(fake, "charge.paid"))
        _deliver_paid(order)
        ret = _one_pair_refund_requested(order)

        assert drain(prefix="channel:") == 1
        [call] = fake.calls.filter("DELETE", f"/core/v5/charges/{charge_id}")
        assert call.json == {"amount": 4990}
        message = OutboxMessage.objects.get(kind="return.refund")
        assert call.headers["idempotency-key"] == message.idempotency_key
        ret.refresh_from_db()
        assert (ret.status, ret.refund_reference) == ("refunded", charge_id)  # the answer confirmed it
        _deliver("pagarme", _hook(fake, "charge.partial_canceled"))  # the news changes nothing
        order.refresh_from_db()
        assert order.status == "delivered"
        assert fake.state.charges[charge_id]["canceled_amount"] == 4990
        assert fake.state.charges[charge_id]["status"] == "paid"
