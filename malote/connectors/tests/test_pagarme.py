"""The ``pagarme`` connector against the Pagar.me fake over HTTP: signed webhooks (RS256 with the
fake's JWKS, HMAC), payment events moving orders, stale and repeated events, voiding charges and
reading a charge back.

The fake's webhook thread cannot reach Django's test client, so tests take the webhook the fake
recorded (body and signed headers) and POST it to ``/hooks/pagarme`` themselves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.test import Client

import malote.connectors.pagarme  # noqa: F401  (registers the connector)
from malote.channels.models import Channel, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.http import JsonHttp
from malote.connectors.pagarme import PagarmeConnector
from malote.connectors.pagarme import client as pagarme_client
from malote.connectors.registry import connector_for
from malote.connectors.tests.helpers import configure, pagarme_gateway
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.delivery import deliver_to_channel
from malote.relay.snapshots import order_snapshot
from malote.sync import outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.pagarme import PagarmeState, signing_key
from malote_dev.sandbox.server import RunningFake

pytestmark = pytest.mark.django_db

Fake = RunningFake[PagarmeState]
SIGNATURE = "X-Webhook-Asymmetric-Signature"


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("pagarme", seed=False) as running:
        yield running


@pytest.fixture
def pagarme(fake: Fake, channel: Channel) -> Iterator[Channel]:
    """The gateway channel (the storefront ``site`` comes from ``channel``)."""
    with pagarme_gateway(fake) as gateway:
        yield gateway


@pytest.fixture
def checkout(control: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A checkout at Pagar.me for 2 × CHINELO-42 + R$ 15.00 = R$ 114.80, as Malote's order."""

    def create(code: str, method: str = "boleto") -> dict[str, Any]:
        return control(
            "orders", {"code": code, "items": [{"sku": "CHINELO-42", "qty": 2}], "payment_method": method}
        )

    return create


@pytest.fixture
def paying_order(
    make_order: Callable[..., Order], checkout: Callable[..., dict[str, Any]], pagarme: Channel
) -> Callable[..., tuple[Order, str]]:
    """A Malote order whose payment is a Pagar.me charge: ``(order, charge id)``."""

    def create(method: str = "boleto", *, with_transaction_id: bool = True) -> tuple[Order, str]:
        external_id = f"02-{time.monotonic_ns() % 10**9:09d}"
        charge_id = checkout(external_id, method)["charge_id"]
        payment = {
            "method": method,
            "gateway": "pagarme",
            "transaction_id": charge_id if with_transaction_id else "",
            "installments": 1,
        }
        return make_order(external_id=external_id, payment=payment), charge_id

    return create


def _hook(fake: Fake, event: str) -> Any:
    assert fake.wait_for_webhooks()
    records = [record for record in fake.webhooks.all() if record.event == event]
    assert records, f"no {event} webhook in {fake.webhooks.events()}"
    return records[-1]


def _post(body: bytes, headers: dict[str, str]) -> Any:
    sent = {
        name: value for name, value in headers.items() if name.lower() not in ("content-type", "user-agent")
    }
    return Client().post("/hooks/pagarme", data=body, content_type="application/json", headers=sent)


def _deliver(record: Any) -> Any:
    return _post(record.body, record.headers)


def _results(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    results: list[str] = response.json()["results"]
    return results


def _signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A webhook signed with the fake's (process-wide) key, for events the fake never emits."""
    body = json.dumps(payload).encode()
    key = signing_key()
    return body, {SIGNATURE: f"alg=RS256; kid={key.kid}; signature={key.sign(body)}"}


# ----------------------------------------------------------------- payment events


def test_charge_paid_found_by_transaction_id_moves_the_order_to_paid(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    order, charge_id = paying_order("pix")
    control(f"charges/{charge_id}/pay")
    assert _results(_deliver(_hook(fake, "charge.paid"))) == ["applied"]
    order.refresh_from_db()
    assert order.status == "paid"
    payment = order.payments.get()
    assert (payment.transaction_id, payment.gateway, payment.method) == (charge_id, "pagarme", "pix")
    assert payment.amount == Decimal("114.80") and payment.paid_at is not None
    link = OrderLink.objects.get(order=order, channel=pagarme)
    assert (link.external_id, link.remote_status) == (charge_id, "charge.paid")
    # The order-level event that follows says the same thing: nothing more happens.
    assert _results(_deliver(_hook(fake, "order.paid"))) == ["already"]
    assert order.events.filter(transition="approve_payment").count() == 1


@pytest.mark.parametrize("reference", ["malote-number", "storefront-id"])
def test_charge_paid_found_by_reference(
    fake: Fake,
    pagarme: Channel,
    make_order: Callable[..., Order],
    checkout: Callable[..., dict[str, Any]],
    control: Callable[..., Any],
    reference: str,
) -> None:
    order = make_order(payment={"method": "boleto", "gateway": "pagarme"})
    charge_id = checkout(order.number if reference == "malote-number" else order.external_id)["charge_id"]
    control(f"charges/{charge_id}/pay")
    assert _results(_deliver(_hook(fake, "charge.paid"))) == ["applied"]
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.payments.get().transaction_id == charge_id, "the charge id is recorded for later events"


def test_created_and_pending_events_are_only_recorded(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]]
) -> None:
    order, _ = paying_order()
    assert _results(_deliver(_hook(fake, "charge.created"))) == ["recorded"]
    assert _results(_deliver(_hook(fake, "order.created"))) == ["recorded"]
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_gateways_never_import_orders(
    fake: Fake, pagarme: Channel, checkout: Callable[..., dict[str, Any]], control: Callable[..., Any]
) -> None:
    charge_id = checkout("SOMEONE-ELSES-ORDER")["charge_id"]
    control(f"charges/{charge_id}/pay")
    # Kept, waiting for an order with that reference (never an import: a gateway has no order).
    assert _results(_deliver(_hook(fake, "charge.paid"))) == ["awaiting_order"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("action", "event", "reason"),
    [
        ("fail", "charge.payment_failed", "payment_refused"),
        ("cancel", "charge.canceled", "channel"),
        ("refund", "charge.refunded", "channel"),
        ("chargeback", "charge.chargedback", "fraud"),
    ],
)
def test_failed_canceled_refunded_and_charged_back_cancel_the_order(
    fake: Fake,
    pagarme: Channel,
    paying_order: Callable[..., tuple[Order, str]],
    control: Callable[..., Any],
    action: str,
    event: str,
    reason: str,
) -> None:
    order, charge_id = paying_order("credit_card")
    if action in ("refund", "chargeback"):
        control(f"charges/{charge_id}/pay")
        assert _results(_deliver(_hook(fake, "charge.paid"))) == ["applied"]
    if action == "cancel":
        control(f"orders/{fake.state.charges[charge_id]['_order_id']}/cancel")
    else:
        control(f"charges/{charge_id}/{action}")
    assert _results(_deliver(_hook(fake, event))) == ["applied"]
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", reason)
    # A canceled order is never sent back to the gateway it came from.
    assert not OutboxMessage.objects.filter(destination="channel:pagarme").exists()
    if event != "charge.chargedback":  # a chargeback leaves the Pagar.me order paid
        order_event = "order.payment_failed" if action == "fail" else "order.canceled"
        assert _results(_deliver(_hook(fake, order_event))) == ["already"]


def test_a_shop_may_keep_chargebacks_for_the_operator(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    configure(pagarme, status_map={"in": {"charge.chargedback": ""}})
    order, charge_id = paying_order("credit_card")
    control(f"charges/{charge_id}/pay")
    _deliver(_hook(fake, "charge.paid"))
    control(f"charges/{charge_id}/chargeback")
    assert _results(_deliver(_hook(fake, "charge.chargedback"))) == ["recorded"]
    order.refresh_from_db()
    assert order.status == "paid"


def test_repeated_and_reordered_events_change_nothing_more(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    order, charge_id = paying_order("credit_card")
    control(f"charges/{charge_id}/fail")  # the first attempt was refused…
    control(f"charges/{charge_id}/pay")  # …the retry was paid
    failed, paid, created = (
        _hook(fake, e) for e in ("charge.payment_failed", "charge.paid", "charge.created")
    )

    # Delivered newest first, then repeated.
    assert _results(_deliver(paid)) == ["applied"]
    assert _results(_deliver(paid)) == ["duplicate"]
    assert _results(_deliver(created)) == ["recorded"]
    stale = dict(paid.json, id="hook_stale_pending", type="charge.pending", data={**paid.json["data"]})
    stale["data"]["status"] = "pending"
    assert _results(_post(*_signed(stale))) == ["recorded"]
    # The refusal is stale: Pagar.me now says the charge is paid, so it cancels nothing.
    assert _results(_deliver(failed)) == ["recorded"]
    order.refresh_from_db()
    assert order.status == "paid" and order.status_path == ["pending_payment", "paid"]
    assert InboxEvent.objects.filter(source="pagarme").count() == 4


# ----------------------------------------------------------------- signatures


def _tampered(record: Any, how: str) -> tuple[bytes, dict[str, str]]:
    body, headers = record.body, dict(record.headers)
    parts = dict(part.strip().split("=", 1) for part in headers[SIGNATURE].split(";"))
    if how == "tampered-body":
        body = body.replace(b'"paid"', b'"PAID"', 1).replace(b"11480", b"11481")
    elif how == "bad-signature":
        headers[SIGNATURE] = f"alg=RS256; kid={parts['kid']}; signature={parts['signature'][::-1]}"
    elif how == "not-base64":
        headers[SIGNATURE] = f"alg=RS256; kid={parts['kid']}; signature=@@@"
    elif how == "missing-header":
        del headers[SIGNATURE]
    elif how == "unknown-kid":
        headers[SIGNATURE] = f"alg=RS256; kid=rotated-away; signature={parts['signature']}"
    elif how == "wrong-alg":
        headers[SIGNATURE] = f"alg=HS256; kid={parts['kid']}; signature={parts['signature']}"
    return body, headers


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("tampered-body", "webhook_signature_invalid"),
        ("bad-signature", "webhook_signature_invalid"),
        ("not-base64", "webhook_signature_invalid"),
        ("missing-header", "webhook_signature_missing"),
        ("unknown-kid", "webhook_signature_invalid"),
        ("wrong-alg", "webhook_signature_invalid"),
    ],
)
def test_an_unverifiable_webhook_is_401_and_stored_nowhere(
    fake: Fake,
    pagarme: Channel,
    paying_order: Callable[..., tuple[Order, str]],
    control: Callable[..., Any],
    how: str,
    code: str,
) -> None:
    order, charge_id = paying_order()
    control(f"charges/{charge_id}/pay")
    record = _hook(fake, "charge.paid")
    response = _post(*_tampered(record, how))
    assert response.status_code == 401 and response.json()["code"] == code
    assert not InboxEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == "pending_payment"
    # The genuine one still goes through.
    assert _results(_deliver(record)) == ["applied"]


def test_the_jwks_is_fetched_once_and_refetched_on_key_rotation(
    fake: Fake,
    pagarme: Channel,
    paying_order: Callable[..., tuple[Order, str]],
    control: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched: list[str] = []
    real = JsonHttp.send

    def spy(self: JsonHttp, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if url.endswith("/jwks.json"):
            fetched.append(url)
        return real(self, method, url, **kwargs)

    monkeypatch.setattr(JsonHttp, "send", spy)
    _order, charge_id = paying_order()
    control(f"charges/{charge_id}/pay")
    assert _results(_deliver(_hook(fake, "charge.created"))) == ["recorded"]
    assert _results(_deliver(_hook(fake, "charge.paid"))) == ["applied"]
    assert fetched == [fake.credentials["jwks_url"]], "one fetch for both webhooks"

    # An unknown kid right after a fetch is a forgery, not a rotation: no refetch.
    body, headers = _tampered(_hook(fake, "order.paid"), "unknown-kid")
    assert _post(body, headers).status_code == 401
    assert len(fetched) == 1

    # Keys cached a while ago, before Pagar.me rotated to the current kid: one refetch finds it.
    url = fake.credentials["jwks_url"]
    stale = pagarme_client._Jwks(time.monotonic() - 600, {})
    monkeypatch.setitem(pagarme_client._jwks_cache, url, stale)
    assert _results(_deliver(_hook(fake, "order.paid"))) == ["already"]
    assert len(fetched) == 2


def test_an_unreachable_jwks_is_503_not_a_forgery(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    configure(pagarme, options={"jwks_url": "http://127.0.0.1:9/.well-known/jwks.json"})
    _order, charge_id = paying_order()
    control(f"charges/{charge_id}/pay")
    response = _deliver(_hook(fake, "charge.paid"))
    assert response.status_code == 503 and response.json()["code"] == "upstream_unavailable"
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize("secret", [None, "hook-secret"])
def test_hmac_mode(
    fake: Fake,
    pagarme: Channel,
    paying_order: Callable[..., tuple[Order, str]],
    control: Callable[..., Any],
    secret: str | None,
) -> None:
    fake.configure(webhook_signature="hmac-sha256", webhook_hmac_secret=secret)
    credentials = {"secret_key": fake.credentials["secret_key"]}
    if secret:
        credentials["webhook_hmac_secret"] = secret
    configure(pagarme, options={"webhook_signature": "hmac-sha256"}, credentials=credentials)
    _order, charge_id = paying_order()
    control(f"charges/{charge_id}/pay")
    record = _hook(fake, "charge.paid")
    assert SIGNATURE not in record.headers
    forged = dict(record.headers, **{"X-Hub-Signature": "sha256=" + "0" * 64})
    assert _post(record.body, forged).status_code == 401
    assert _post(record.body + b" ", record.headers).status_code == 401
    assert not InboxEvent.objects.exists()
    assert _results(_deliver(record)) == ["applied"]


def test_an_rs256_channel_refuses_hmac_signed_webhooks(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    fake.configure(webhook_signature="hmac-sha256")
    _order, charge_id = paying_order()
    control(f"charges/{charge_id}/pay")
    response = _deliver(_hook(fake, "charge.paid"))
    assert response.status_code == 401 and response.json()["code"] == "webhook_signature_missing"


def test_none_mode_takes_unsigned_webhooks(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    fake.configure(webhook_signature="none")
    configure(pagarme, options={"webhook_signature": "none"})
    _order, charge_id = paying_order()
    control(f"charges/{charge_id}/pay")
    assert _results(_deliver(_hook(fake, "charge.paid"))) == ["applied"]


def test_malformed_signed_webhook_is_422(fake: Fake, pagarme: Channel) -> None:
    response = _post(*_signed({"id": "hook_x", "type": "charge.paid", "data": "nope"}))
    assert response.status_code == 422 and response.json()["code"] == "malformed_webhook"


# ----------------------------------------------------------------- voiding the charge


def _cancel_in_malote(order: Order) -> OutboxMessage:
    actions.run_transition(order.pk, "cancel", {"reason": "customer_gave_up"}, actor=SYSTEM)
    return OutboxMessage.objects.get(destination="channel:pagarme", order=order)


def test_cancelling_a_paid_order_refunds_the_charge_once(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    order, charge_id = paying_order("credit_card")
    control(f"charges/{charge_id}/pay")
    _deliver(_hook(fake, "charge.paid"))
    message = _cancel_in_malote(order)
    assert drain(prefix="channel:") == 1
    message.refresh_from_db()
    assert message.state == "done", message.last_error
    charge = fake.state.charges[charge_id]
    assert (charge["status"], charge["canceled_amount"]) == ("canceled", 11480)
    [delete] = fake.calls.filter("DELETE", f"/core/v5/charges/{charge_id}")
    assert delete.headers["idempotency-key"] == message.idempotency_key
    assert delete.headers["authorization"] == f"Basic {fake.credentials['secret_key']}:***"

    # Delivered again (a lease expired, an operator replayed it): a read, no second refund.
    deliver_to_channel(message)
    assert len(fake.calls.filter("DELETE")) == 1
    assert fake.webhooks.events().count("charge.refunded") == 1
    # Pagar.me's own news of the refund finds the order already canceled.
    assert _results(_deliver(_hook(fake, "charge.refunded"))) == ["already"]
    order.refresh_from_db()
    assert order.cancel_reason == "customer_gave_up"


def test_cancelling_an_unpaid_order_voids_its_pending_charge(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]]
) -> None:
    order, charge_id = paying_order("boleto")
    _deliver(_hook(fake, "charge.created"))  # links the order to the gateway
    _cancel_in_malote(order)
    drain(prefix="channel:")
    assert fake.state.charges[charge_id]["status"] == "canceled"
    assert fake.webhooks.events()[-2:] == ["charge.canceled", "order.canceled"]


def test_a_lost_delete_answer_is_retried_without_a_second_effect(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]]
) -> None:
    order, charge_id = paying_order("pix")
    _deliver(_hook(fake, "charge.created"))
    fake.faults.set("drop", method="DELETE", effect=True)
    message = _cancel_in_malote(order)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "pending" and message.attempts == 1
    assert fake.state.charges[charge_id]["status"] == "canceled", "the void landed; its answer was lost"

    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done"
    assert len(fake.calls.filter("DELETE")) == 1
    assert fake.webhooks.events().count("charge.canceled") == 1


def test_the_idempotency_key_makes_a_repeated_delete_a_replay(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]]
) -> None:
    _order, charge_id = paying_order("pix")
    with connector_for(pagarme) as connector:
        assert isinstance(connector, PagarmeConnector)
        first = connector.api.call("DELETE", f"/charges/{charge_id}", idempotency_key="msg-1")
        again = connector.api.call("DELETE", f"/charges/{charge_id}", idempotency_key="msg-1")
        assert first == again and first["status"] == "canceled"
        with pytest.raises(DeliveryError) as other_key:
            connector.api.call("DELETE", f"/charges/{charge_id}", idempotency_key="msg-2")
    assert other_key.value.status == 422 and not other_key.value.retryable
    assert fake.webhooks.events().count("charge.canceled") == 1


def test_nothing_to_void(
    fake: Fake,
    pagarme: Channel,
    paying_order: Callable[..., tuple[Order, str]],
    make_order: Callable[..., Order],
    control: Callable[..., Any],
) -> None:
    with connector_for(pagarme) as connector:
        # No charge was ever made.
        no_charge = make_order(payment={"method": "boleto", "gateway": "pagarme"})
        connector.push_cancellation("", order_snapshot(no_charge), idempotency_key="k0")
        assert fake.calls.all() == []
        # Already failed: read, nothing written.
        order, charge_id = paying_order("credit_card")
        control(f"charges/{charge_id}/fail")
        connector.push_cancellation(charge_id, order_snapshot(order), idempotency_key="k1")
        assert [call.method for call in fake.calls.all()] == ["GET"]

    # A shop that refunds by hand: a paid charge is left alone.
    configure(pagarme, options={**pagarme.options, "refund_paid": False})
    paid, paid_id = paying_order("pix")
    control(f"charges/{paid_id}/pay")
    with connector_for(pagarme) as connector:
        connector.push_cancellation(paid_id, order_snapshot(paid), idempotency_key="k2")
    assert fake.state.charges[paid_id]["status"] == "paid" and not fake.calls.filter("DELETE")


def test_voiding_by_pagarme_order_id_voids_each_charge(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]]
) -> None:
    order, charge_id = paying_order("boleto")
    order_id = fake.state.charges[charge_id]["_order_id"]
    snapshot = order_snapshot(order)
    snapshot["payment"]["transaction_id"] = order_id
    with connector_for(pagarme) as connector:
        connector.push_cancellation(order_id, snapshot, idempotency_key="msg-9")
    [delete] = fake.calls.filter("DELETE")
    assert delete.headers["idempotency-key"] == f"msg-9:{charge_id}"
    assert fake.state.orders[order_id]["status"] == "canceled"


def test_an_unknown_charge_or_a_bad_key_is_a_dead_letter(
    fake: Fake, pagarme: Channel, make_order: Callable[..., Order]
) -> None:
    order = make_order(payment={"method": "pix", "gateway": "pagarme", "transaction_id": "ch_doesnotexist"})
    with connector_for(pagarme) as connector, pytest.raises(DeliveryError) as unknown:
        connector.push_cancellation("ch_doesnotexist", order_snapshot(order), idempotency_key="k")
    assert (unknown.value.status, unknown.value.retryable) == (404, False)
    configure(pagarme, credentials={"secret_key": "sk_test_wrong"})
    with connector_for(pagarme) as connector, pytest.raises(DeliveryError) as refused:
        connector.fetch_order("ch_doesnotexist")
    assert (refused.value.status, refused.value.retryable) == (401, False)


# ----------------------------------------------------------------- reading a charge back


def test_fetch_order_returns_the_charge_status(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    order, charge_id = paying_order("boleto")
    order_id = fake.state.charges[charge_id]["_order_id"]
    with connector_for(pagarme) as connector:
        pending = connector.fetch_order(charge_id)
        assert (pending.remote_status, pending.status, pending.transaction_id) == ("pending", "", charge_id)
        assert pending.reference == order.external_id and pending.order is None

        control(f"charges/{charge_id}/pay")
        paid = connector.fetch_order(charge_id)
        assert (paid.remote_status, paid.status) == ("paid", "paid")
        assert (
            paid.facts["payment"]["amount"] == "114.80"
            and paid.facts["payment"]["transaction_id"] == charge_id
        )
        assert paid.event_id != pending.event_id
        assert connector.fetch_order(charge_id).event_id == paid.event_id, "unchanged charge, same event"

        by_order = connector.fetch_order(order_id)
        assert (by_order.status, by_order.transaction_id, by_order.external_id) == (
            "paid",
            charge_id,
            charge_id,
        )

        _failed_order, failed_id = paying_order("credit_card")
        control(f"charges/{failed_id}/fail")
        failed = connector.fetch_order(failed_id)
        assert (failed.status, failed.facts["cancel_reason"]) == ("canceled", "payment_refused")

        with pytest.raises(DeliveryError) as missing:
            connector.fetch_order("ch_nope")
        assert (missing.value.status, missing.value.retryable) == (404, False)
        fake.faults.set("error_5xx", status=503)
        with pytest.raises(DeliveryError) as down:
            connector.fetch_order(charge_id)
        assert down.value.retryable is True


def test_a_fetched_change_can_be_taken_in(
    fake: Fake, pagarme: Channel, paying_order: Callable[..., tuple[Order, str]], control: Callable[..., Any]
) -> None:
    """What the reconciliation will do: re-read the charge, then apply what it says."""
    from malote.relay import intake

    order, charge_id = paying_order("pix")
    control(f"charges/{charge_id}/pay")
    with connector_for(pagarme) as connector:
        change = connector.fetch_order(charge_id)
    received = intake.take_in(pagarme, change, headers={}, body="")
    assert received.result == "applied"
    order.refresh_from_db()
    assert order.status == "paid"
