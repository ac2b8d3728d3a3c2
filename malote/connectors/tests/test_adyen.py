"""The ``adyen`` connector: the HMAC test vector, every event code's mapping, signed webhooks from the
Adyen fake through the real ``POST /hooks/adyen`` view, and cancelling payments over HTTP.

The fake's webhook thread cannot reach Django's test client, so tests take the webhook the fake
recorded (body and headers) and POST it to ``/hooks/adyen`` themselves.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from django.test import Client

from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.conftest import SYSTEM
from malote.connectors.adyen import AdyenConnector, hmac_signature, signing_string
from malote.connectors.base import Unsupported, WebhookRejected
from malote.connectors.registry import connector_for
from malote.connectors.tests.helpers import channel_at
from malote.connectors.values import minor_to_decimal
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.delivery import deliver_to_channel
from malote.relay.snapshots import order_snapshot
from malote.sync import outbox
from malote.sync.errors import DeliveryError
from malote.sync.models import InboxEvent, OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.adyen import AdyenState
from malote_dev.sandbox.server import RunningFake

Fake = RunningFake[AdyenState]

# The HMAC example from Adyen's own library tests (see docs/connectors/adyen.md).
VECTOR_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
VECTOR_ITEM: dict[str, Any] = {
    "pspReference": "7914073381342284",
    "merchantReference": "TestPayment-1407325143704",
    "merchantAccountCode": "TestMerchant",
    "amount": {"value": 1130, "currency": "EUR"},
    "eventCode": "AUTHORISATION",
    "success": "true",
}
VECTOR_STRING = "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
VECTOR_SIGNATURE = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="


# ----------------------------------------------------------------- no database: signature and mapping


def _offline(**options: Any) -> AdyenConnector:
    channel = SimpleNamespace(
        code="adyen",
        base_url="http://127.0.0.1:9/v71",
        credentials={"hmac_key": VECTOR_KEY, "api_key": "k"},
        options=options,
        status_map={},
    )
    return AdyenConnector(channel, http=httpx.Client(trust_env=False))


def _envelope(*items: dict[str, Any]) -> bytes:
    return json.dumps(
        {"live": "false", "notificationItems": [{"NotificationRequestItem": item} for item in items]}
    ).encode()


def _signed_item(key: str = VECTOR_KEY, **fields: Any) -> dict[str, Any]:
    item = {**VECTOR_ITEM, "eventDate": "2026-11-20T10:00:00-03:00", "paymentMethod": "visa", **fields}
    item["additionalData"] = {"hmacSignature": hmac_signature(item, key)}
    return item


def test_the_reference_hmac_test_vector() -> None:
    assert signing_string(VECTOR_ITEM) == VECTOR_STRING
    assert hmac_signature(VECTOR_ITEM, VECTOR_KEY) == VECTOR_SIGNATURE
    assert hmac_signature(VECTOR_ITEM, VECTOR_KEY.lower()) == VECTOR_SIGNATURE, "hex case does not matter"
    item = {**VECTOR_ITEM, "additionalData": {"hmacSignature": VECTOR_SIGNATURE}}
    _offline().verify_webhook({}, _envelope(item), {})  # accepted
    forged = {**item, "amount": {"value": 1, "currency": "EUR"}}
    with pytest.raises(WebhookRejected) as rejected:
        _offline().verify_webhook({}, _envelope(forged), {})
    assert rejected.value.code == "webhook_signature_invalid"


def test_values_with_colons_and_backslashes_are_signed_raw() -> None:
    item = {**VECTOR_ITEM, "merchantReference": "pedido:10:a\\b"}
    assert signing_string(item) == (
        "7914073381342284::TestMerchant:pedido:10:a\\b:1130:EUR:AUTHORISATION:true"
    )


def test_one_bad_item_rejects_the_whole_batch() -> None:
    good = _signed_item(pspReference="A000000000000001")
    bad = {**_signed_item(pspReference="A000000000000002"), "merchantReference": "someone-else"}
    connector = _offline()
    connector.verify_webhook({}, _envelope(good, good), {})
    with pytest.raises(WebhookRejected) as rejected:
        connector.verify_webhook({}, _envelope(good, bad), {})
    assert rejected.value.code == "webhook_signature_invalid"
    unsigned = {key: value for key, value in good.items() if key != "additionalData"}
    with pytest.raises(WebhookRejected) as missing:
        connector.verify_webhook({}, _envelope(good, unsigned), {})
    assert missing.value.code == "webhook_signature_missing"


@pytest.mark.parametrize(
    ("credentials", "code"),
    [({"hmac_key": ""}, "webhook_signature_config"), ({"hmac_key": "not-hex"}, "webhook_signature_config")],
)
def test_a_missing_or_malformed_key_is_a_configuration_error(credentials: dict[str, str], code: str) -> None:
    connector = _offline()
    connector.channel.credentials = credentials
    with pytest.raises(WebhookRejected) as rejected:
        connector.verify_webhook({}, _envelope(_signed_item()), {})
    assert rejected.value.code == code


def test_signature_modes() -> None:
    unsigned = {key: value for key, value in _signed_item().items() if key != "additionalData"}
    _offline(webhook_signature="none").verify_webhook({}, _envelope(unsigned), {})  # sandbox only
    with pytest.raises(WebhookRejected) as unknown:
        _offline(webhook_signature="rs256").verify_webhook({}, _envelope(_signed_item()), {})
    assert unknown.value.code == "webhook_signature_config"


@pytest.mark.parametrize(
    ("event_code", "success", "extra", "status", "reason"),
    [
        ("AUTHORISATION", "true", {}, "paid", None),
        ("AUTHORISATION", "false", {}, "canceled", "payment_refused"),
        ("CANCELLATION", "true", {"originalReference": "P000000000000001"}, "canceled", "channel"),
        ("REFUND", "true", {"originalReference": "P000000000000001"}, "canceled", "channel"),
        ("CHARGEBACK", "true", {"originalReference": "P000000000000001"}, "canceled", "fraud"),
        ("CANCELLATION", "false", {"originalReference": "P000000000000001"}, "", None),
        ("REFUND", "false", {"originalReference": "P000000000000001"}, "", None),
        ("CANCEL_OR_REFUND", "true", {"originalReference": "P000000000000001"}, "", None),
        ("CAPTURE", "true", {"originalReference": "P000000000000001"}, "", None),
        ("REFUND_FAILED", "true", {"originalReference": "P000000000000001"}, "", None),
        ("EXPIRE", "true", {}, "", None),
        ("NOTIFICATION_OF_CHARGEBACK", "true", {"originalReference": "P000000000000001"}, "", None),
    ],
)
def test_every_event_code_maps(
    event_code: str, success: str, extra: dict[str, Any], status: str, reason: str | None
) -> None:
    item = _signed_item(
        pspReference="M000000000000009",
        merchantReference="10007",
        amount={"value": 11480, "currency": "BRL"},
        eventCode=event_code,
        success=success,
        **extra,
    )
    [change] = _offline().parse_webhook({}, _envelope(item))
    payment_psp = extra.get("originalReference", "M000000000000009")
    assert change.status == status
    assert change.remote_status == (event_code if success == "true" else f"{event_code}:false")
    assert (change.transaction_id, change.external_id, change.reference) == (
        payment_psp,
        payment_psp,
        "10007",
    )
    assert change.order is None and change.occurred_at == "2026-11-20T10:00:00-03:00"
    if status == "paid":
        assert change.facts["payment"] == {
            "gateway": "adyen",
            "transaction_id": "M000000000000009",
            "amount": "114.80",
            "paid_at": "2026-11-20T10:00:00-03:00",
            "method": "credit_card",
        }
    elif status == "canceled":
        assert change.facts["cancel_reason"] == reason
    else:
        assert change.facts == {}


def test_the_channel_status_map_and_cancel_reasons_override_the_defaults() -> None:
    connector = _offline(cancel_reasons={"CHARGEBACK": "other"})
    connector.channel.status_map = {"in": {"AUTHORISATION:false": "", "CAPTURE": "paid"}}
    refused = _signed_item(success="false")
    chargeback = _signed_item(eventCode="CHARGEBACK", originalReference="P1")
    changes = connector.parse_webhook({}, _envelope(refused, chargeback))
    assert [c.status for c in changes] == ["", "canceled"]
    assert changes[1].facts["cancel_reason"] == "other"


def test_event_ids_tell_resends_from_new_events() -> None:
    connector = _offline()
    auth = _signed_item(pspReference="P000000000000001")
    refused = _signed_item(pspReference="P000000000000001", success="false")
    refund = _signed_item(
        pspReference="R000000000000001", eventCode="REFUND", originalReference="P000000000000001"
    )
    ids = [c.event_id for c in connector.parse_webhook({}, _envelope(auth, auth, refused, refund))]
    assert ids[0] == ids[1], "a resend is the same event"
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (11480, "BRL", "114.80"),
        (1130, "EUR", "11.30"),
        (500, "JPY", "500"),
        (1234, "KWD", "1.234"),
        (None, "BRL", None),
    ],
)
def test_minor_units(value: Any, currency: str, expected: str | None) -> None:
    assert minor_to_decimal(value, currency) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"live": "false"}',
        b'{"notificationItems": [{"NotificationRequestItem": {"eventCode": "X"}}]}',
    ],
)
def test_malformed_envelopes_are_value_errors(body: bytes) -> None:
    with pytest.raises(ValueError):
        _offline().verify_webhook({}, body, {})
    with pytest.raises(ValueError):
        _offline().parse_webhook({}, body)


def test_the_answer_is_accepted_and_there_is_no_status_read() -> None:
    connector = _offline()
    answer = connector.acknowledge(["applied", "duplicate"])
    assert (answer.status, answer.body, answer.content_type) == (200, "[accepted]", "text/plain")
    with pytest.raises(Unsupported):
        connector.fetch_order("P000000000000001")
    with pytest.raises(Unsupported):
        connector.list_orders("2026-11-01T00:00:00-03:00")


# ----------------------------------------------------------------- through the view, with the fake


@pytest.fixture
def fake() -> Iterator[Fake]:
    with start_fake("adyen", seed=False) as running:
        yield running


@pytest.fixture
def adyen(fake: Fake, channel: Channel) -> Channel:
    """The gateway channel (the storefront ``site`` comes from ``channel``)."""
    return channel_at(
        fake,
        "adyen",
        "Adyen",
        ChannelRole.GATEWAY,
        credentials={"hmac_key": fake.credentials["hmac_key"], "api_key": fake.credentials["api_key"]},
        options={"merchant_account": fake.credentials["merchant_account"]},
    )


@pytest.fixture
def card_order(make_order: Callable[..., Order]) -> Callable[..., Order]:
    """A pending Malote order paid by card through Adyen (no psp reference known yet)."""

    def create() -> Order:
        external_id = f"02-{time.monotonic_ns() % 10**9:09d}"
        payment = {"method": "credit_card", "gateway": "adyen", "installments": 1}
        return make_order(external_id=external_id, payment=payment)

    return create


def _hook(fake: Fake, event: str, index: int = -1) -> Any:
    assert fake.wait_for_webhooks()
    records = [record for record in fake.webhooks.all() if record.event == event]
    assert records, f"no {event} webhook in {fake.webhooks.events()}"
    return records[index]


def _post(body: bytes, headers: dict[str, str] | None = None) -> Any:
    sent = {
        name: value
        for name, value in (headers or {}).items()
        if name.lower() not in ("content-type", "user-agent")
    }
    return Client().post("/hooks/adyen", data=body, content_type="application/json", headers=sent)


def _deliver(record: Any) -> Any:
    return _post(record.body, record.headers)


def _pay(control: Callable[..., dict[str, Any]], order: Order, **body: Any) -> str:
    answer = control("payments", {"merchantReference": order.number, "amount": 11480, **body})
    psp: str = answer["payment"]["pspReference"]
    return psp


@pytest.mark.django_db
def test_authorisation_pays_the_pending_order_found_by_merchant_reference(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    order = card_order()
    psp = _pay(control, order)
    record = _hook(fake, "AUTHORISATION")
    response = _deliver(record)
    assert (response.status_code, response.content) == (200, b"[accepted]")
    order.refresh_from_db()
    assert order.status == "paid"
    payment = order.payments.get()
    assert (payment.transaction_id, payment.gateway, payment.amount) == (psp, "adyen", Decimal("114.80"))
    assert payment.paid_at is not None
    link = OrderLink.objects.get(order=order, channel=adyen)
    assert (link.external_id, link.remote_status) == (psp, "AUTHORISATION")

    # Adyen resends until it sees a 2xx: the same notification changes nothing.
    again = _deliver(record)
    assert (again.status_code, again.content) == (200, b"[accepted]")
    assert InboxEvent.objects.filter(source="adyen").count() == 1
    assert order.events.filter(transition="approve_payment").count() == 1


@pytest.mark.django_db
def test_a_webhook_duplicated_by_the_fake_changes_nothing(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    order = card_order()
    fake.faults.set("webhook_duplicate")
    _pay(control, order)
    assert fake.wait_for_webhooks()
    first, second = fake.webhooks.all()
    assert first.body == second.body and second.copy == 2
    assert _deliver(first).status_code == 200 and _deliver(second).status_code == 200
    order.refresh_from_db()
    assert order.status == "paid" and order.status_path == ["pending_payment", "paid"]
    assert InboxEvent.objects.filter(source="adyen").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["tampered-amount", "other-key", "no-signature", "not-json"])
def test_a_bad_signature_is_refused_and_stored_nowhere(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any], how: str
) -> None:
    order = card_order()
    _pay(control, order)
    record = _hook(fake, "AUTHORISATION")
    envelope = json.loads(record.body)
    item = envelope["notificationItems"][0]["NotificationRequestItem"]
    if how == "tampered-amount":
        item["amount"]["value"] = 1
    elif how == "other-key":
        item["additionalData"]["hmacSignature"] = hmac_signature(item, VECTOR_KEY)
    elif how == "no-signature":
        del item["additionalData"]["hmacSignature"]
    body = b"{not json" if how == "not-json" else json.dumps(envelope).encode()
    response = _post(body, record.headers)
    expected = 400 if how == "not-json" else 401
    assert response.status_code == expected, response.content
    assert not InboxEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert _deliver(record).content == b"[accepted]"
    order.refresh_from_db()
    assert order.status == "paid", "the genuine one still goes through"


@pytest.mark.django_db
def test_webhook_basic_auth_when_configured(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    fake.configure(webhook_username="adyen-hooks", webhook_password="s3cret")
    Channel.objects.filter(pk=adyen.pk).update(
        credentials={**adyen.credentials, "webhook_username": "adyen-hooks", "webhook_password": "s3cret"}
    )
    order = card_order()
    _pay(control, order)
    record = _hook(fake, "AUTHORISATION")
    wrong = "Basic " + base64.b64encode(b"adyen-hooks:guess").decode()
    refused = _post(record.body, {**record.headers, "Authorization": wrong})
    assert refused.status_code == 401 and refused.json()["code"] == "webhook_auth_invalid"
    assert _post(record.body, {}).status_code == 401
    assert _deliver(record).content == b"[accepted]"
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "event", "reason"),
    [
        ("refused", "AUTHORISATION", "payment_refused"),
        ("cancel", "CANCELLATION", "channel"),
        ("refund", "REFUND", "channel"),
        ("chargeback", "CHARGEBACK", "fraud"),
    ],
)
def test_refusals_cancellations_refunds_and_chargebacks_cancel_the_order(
    fake: Fake,
    adyen: Channel,
    card_order: Callable[..., Order],
    control: Callable[..., Any],
    action: str,
    event: str,
    reason: str,
) -> None:
    if action == "cancel":
        fake.configure(manual_capture=True)  # only an uncaptured authorisation can be canceled
    order = card_order()
    psp = _pay(control, order, outcome="refused" if action == "refused" else "authorised")
    if action != "refused":
        assert _deliver(_hook(fake, "AUTHORISATION")).status_code == 200
        control(f"payments/{psp}/{action}")
    assert _deliver(_hook(fake, event)).content == b"[accepted]"
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", reason)
    assert OrderLink.objects.get(order=order, channel=adyen).external_id == psp
    # A canceled order is never sent back to the gateway it came from.
    assert not OutboxMessage.objects.filter(destination="channel:adyen").exists()


@pytest.mark.django_db
def test_capture_and_failed_modifications_are_only_recorded(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    fake.configure(manual_capture=True)
    order = card_order()
    psp = _pay(control, order)
    _deliver(_hook(fake, "AUTHORISATION"))
    control(f"payments/{psp}/capture")
    assert _deliver(_hook(fake, "CAPTURE")).status_code == 200
    # A cancel sent after the capture fails at Adyen: CANCELLATION with success "false".
    with httpx.Client(trust_env=False) as http:
        http.post(
            f"{fake.api_url}/payments/{psp}/cancels",
            json={"merchantAccount": fake.credentials["merchant_account"]},
            headers={"X-API-Key": fake.credentials["api_key"]},
        )
    failed = _hook(fake, "CANCELLATION")
    assert failed.json["notificationItems"][0]["NotificationRequestItem"]["success"] == "false"
    assert _deliver(failed).status_code == 200
    order.refresh_from_db()
    assert order.status == "paid"
    assert list(InboxEvent.objects.order_by("id").values_list("result", flat=True)) == [
        "applied",
        "recorded",
        "recorded",
    ]


@pytest.mark.django_db
def test_a_late_or_reordered_authorisation_never_moves_a_canceled_order_back(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    order = card_order()
    fake.faults.set("webhook_reorder", count=2)
    psp = _pay(control, order)
    control(f"payments/{psp}/chargeback")
    assert fake.wait_for_webhooks()
    chargeback, authorisation = fake.webhooks.all()
    assert (chargeback.event, authorisation.event) == ("CHARGEBACK", "AUTHORISATION")
    _deliver(chargeback)
    _deliver(authorisation)
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", "fraud")


@pytest.mark.django_db
def test_a_shop_whose_checkout_retries_keeps_refusals_as_records(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    Channel.objects.filter(pk=adyen.pk).update(status_map={"in": {"AUTHORISATION:false": ""}})
    order = card_order()
    refused = _pay(control, order, outcome="refused")
    paid = _pay(control, order)  # the shopper tried another card, same merchantReference
    _deliver(_hook(fake, "AUTHORISATION", 0))
    _deliver(_hook(fake, "AUTHORISATION", 1))
    order.refresh_from_db()
    assert order.status == "paid" and order.payments.get().transaction_id == paid != refused
    assert list(InboxEvent.objects.order_by("id").values_list("result", flat=True)) == ["recorded", "applied"]


@pytest.mark.django_db
def test_a_stale_refusal_never_cancels_the_order_its_retry_paid(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    order = card_order()
    _pay(control, order, outcome="refused")
    _pay(control, order)
    _deliver(_hook(fake, "AUTHORISATION", 1))  # the retry's authorisation arrives first
    _deliver(_hook(fake, "AUTHORISATION", 0))  # then the first attempt's refusal
    order.refresh_from_db()
    assert order.status == "paid"


@pytest.mark.django_db
def test_gateways_never_import_orders(fake: Fake, adyen: Channel, control: Callable[..., Any]) -> None:
    control("payments", {"merchantReference": "SOMEONE-ELSES-ORDER"})
    assert _deliver(_hook(fake, "AUTHORISATION")).content == b"[accepted]"
    event = InboxEvent.objects.get()
    assert (event.result, event.awaiting) == ("awaiting_order", "SOMEONE-ELSES-ORDER")
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_payment_that_beat_its_order_is_applied_when_the_order_arrives(
    fake: Fake,
    adyen: Channel,
    make_order: Callable[..., Order],
    card_order: Callable[..., Order],
    control: Callable[..., Any],
) -> None:
    external_id = f"02-{time.monotonic_ns() % 10**9:09d}"
    control("payments", {"merchantReference": external_id, "amount": 11480})
    # The store's order webhook is late: Adyen's authorisation comes first and waits.
    assert _deliver(_hook(fake, "AUTHORISATION")).content == b"[accepted]"
    assert InboxEvent.objects.get(source="adyen").result == "awaiting_order"
    payment = {"method": "credit_card", "gateway": "adyen", "installments": 1}
    order = make_order(external_id=external_id, payment=payment)
    drain()
    order.refresh_from_db()
    assert order.status == "paid"
    assert InboxEvent.objects.get(source="adyen").result == "applied"
    # Forbidden: an order that is not the one named stays as it was.
    other = card_order()
    drain()
    other.refresh_from_db()
    assert other.status == "pending_payment"


@pytest.mark.django_db
def test_the_schedule_applies_a_waiting_payment_the_orders_arrival_missed(
    fake: Fake, adyen: Channel, make_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    from django.utils import timezone

    from malote.relay.intake import replay_awaiting
    from malote.sync.models import Schedule

    external_id = f"02-{time.monotonic_ns() % 10**9:09d}"
    control("payments", {"merchantReference": external_id, "amount": 11480})
    _deliver(_hook(fake, "AUTHORISATION"))
    schedule, _ = Schedule.objects.get_or_create(name="relay:awaiting", defaults={"job": "relay.awaiting"})
    assert replay_awaiting(schedule, timezone.now()) == "nothing to do"  # no such order yet
    payment = {"method": "credit_card", "gateway": "adyen", "installments": 1}
    order = make_order(external_id=external_id, payment=payment)
    # The order was committed while the payment was still being stored: its listener saw nothing.
    OutboxMessage.objects.filter(destination__startswith="awaiting:").delete()
    assert replay_awaiting(schedule, timezone.now()) == "applied 1"
    order.refresh_from_db()
    assert order.status == "paid"
    assert replay_awaiting(schedule, timezone.now()) == "nothing to do"


# ----------------------------------------------------------------- cancelling the payment


def _cancel_in_malote(order: Order) -> OutboxMessage:
    actions.run_transition(order.pk, "cancel", {"reason": "customer_gave_up"}, actor=SYSTEM)
    return OutboxMessage.objects.get(destination="channel:adyen", order=order)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cancel_with", "manual_capture", "event", "payment_status"),
    [
        ("reversals", False, "CANCEL_OR_REFUND", "Refunded"),
        ("reversals", True, "CANCEL_OR_REFUND", "Cancelled"),
        ("cancels", True, "CANCELLATION", "Cancelled"),
    ],
)
def test_cancelling_a_paid_order_cancels_or_refunds_the_payment_once(
    fake: Fake,
    adyen: Channel,
    card_order: Callable[..., Order],
    control: Callable[..., Any],
    cancel_with: str,
    manual_capture: bool,
    event: str,
    payment_status: str,
) -> None:
    fake.configure(manual_capture=manual_capture)
    Channel.objects.filter(pk=adyen.pk).update(options={**adyen.options, "cancel_with": cancel_with})
    order = card_order()
    psp = _pay(control, order)
    _deliver(_hook(fake, "AUTHORISATION"))
    message = _cancel_in_malote(order)
    assert drain(prefix="channel:") == 1
    message.refresh_from_db()
    assert message.state == "done", message.last_error
    [call] = fake.calls.filter("POST", f"/v71/payments/{psp}/{cancel_with}")
    assert call.headers["idempotency-key"] == message.idempotency_key
    assert call.json == {"merchantAccount": fake.credentials["merchant_account"], "reference": order.number}
    assert fake.state.payments[psp]["status"] == payment_status

    # Delivered again (a lease expired, an operator replayed it): Adyen replays, no second effect.
    deliver_to_channel(message)
    assert len(fake.calls.filter("POST", f"/v71/payments/{psp}/{cancel_with}")) == 2
    assert fake.webhooks.events().count(event) == 1
    # Adyen's news of the outcome finds the order already canceled.
    assert _deliver(_hook(fake, event)).status_code == 200
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("canceled", "customer_gave_up")


@pytest.mark.django_db
def test_a_lost_answer_is_retried_without_a_second_effect(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    order = card_order()
    psp = _pay(control, order)
    _deliver(_hook(fake, "AUTHORISATION"))
    fake.faults.set("drop", method="POST", path_prefix="/v71/payments", effect=True)
    message = _cancel_in_malote(order)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "pending" and message.attempts == 1
    assert fake.state.payments[psp]["status"] == "Refunded", "the reversal landed; its answer was lost"

    outbox.retry_now(message.pk)
    drain(prefix="channel:")
    message.refresh_from_db()
    assert message.state == "done"
    assert len(fake.state.modifications) == 1
    assert fake.webhooks.events().count("CANCEL_OR_REFUND") == 1


@pytest.mark.django_db
def test_nothing_to_cancel_without_a_payment(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order]
) -> None:
    order = card_order()
    with connector_for(adyen) as connector:
        connector.push_cancellation("", order_snapshot(order), idempotency_key="k0")
    assert fake.calls.all() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"credentials": {"api_key": "AQE-wrong", "hmac_key": "00"}}, 401),
        ({"options": {"merchant_account": "SomeoneElse"}}, 403),
        ({}, 422),  # unknown payment
    ],
)
def test_a_refused_cancel_is_a_dead_letter(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], change: dict[str, Any], status: int
) -> None:
    Channel.objects.filter(pk=adyen.pk).update(**change)
    adyen.refresh_from_db()
    order = card_order()
    with connector_for(adyen) as connector, pytest.raises(DeliveryError) as refused:
        connector.push_cancellation("PNOSUCHPAYMENT01", order_snapshot(order), idempotency_key="k1")
    assert (refused.value.status, refused.value.retryable) == (status, False)


@pytest.mark.django_db
def test_a_missing_merchant_account_or_an_unreachable_gateway(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order]
) -> None:
    order = card_order()
    fake.faults.set("error_5xx", status=503)
    with connector_for(adyen) as connector, pytest.raises(DeliveryError) as down:
        connector.push_cancellation("P000000000000001", order_snapshot(order), idempotency_key="k1")
    assert down.value.retryable is True
    Channel.objects.filter(pk=adyen.pk).update(options={})
    adyen.refresh_from_db()
    with connector_for(adyen) as connector, pytest.raises(DeliveryError) as unset:
        connector.push_cancellation("P000000000000001", order_snapshot(order), idempotency_key="k1")
    assert unset.value.retryable is False and "merchant_account" in unset.value.detail


# ----------------------------------------------------------------- events out of order


@pytest.mark.django_db
def test_a_payment_and_its_refund_that_beat_the_order_apply_in_arrival_order(
    fake: Fake, adyen: Channel, make_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    external_id = f"02-{time.monotonic_ns() % 10**9:09d}"
    psp = control("payments", {"merchantReference": external_id, "amount": 11480})["payment"]["pspReference"]
    control(f"payments/{psp}/refund")
    # The store's order webhook was lost: the authorisation and then the refund arrive first and wait.
    _deliver(_hook(fake, "AUTHORISATION"))
    _deliver(_hook(fake, "REFUND"))
    assert set(InboxEvent.objects.filter(source="adyen").values_list("result", flat=True)) == {
        "awaiting_order"
    }
    payment = {"method": "credit_card", "gateway": "adyen", "installments": 1}
    order = make_order(external_id=external_id, payment=payment)
    drain()
    order.refresh_from_db()
    assert order.status == "canceled" and order.status_path == ["pending_payment", "paid", "canceled"]
    link = OrderLink.objects.get(order=order, channel=adyen)
    assert link.state != "divergent"


@pytest.mark.django_db
def test_an_approval_older_than_the_refund_already_applied_is_late_history_not_a_divergence(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    order = card_order()
    psp = _pay(control, order)
    control(f"payments/{psp}/refund")
    assert _deliver(_hook(fake, "REFUND")).status_code == 200  # Adyen's webhooks came reordered
    assert _deliver(_hook(fake, "AUTHORISATION")).status_code == 200
    order.refresh_from_db()
    assert order.status == "canceled"
    assert OrderLink.objects.get(order=order, channel=adyen).state != "divergent"
    assert InboxEvent.objects.filter(source="adyen").order_by("pk").last().result == "late_approval"  # type: ignore[union-attr]


@pytest.mark.django_db
def test_an_approval_after_the_refund_is_still_a_divergence(
    fake: Fake, adyen: Channel, card_order: Callable[..., Order], control: Callable[..., Any]
) -> None:
    order = card_order()
    psp = _pay(control, order)
    control(f"payments/{psp}/refund")
    refund = _hook(fake, "REFUND")
    assert _deliver(refund).status_code == 200
    # A new authorisation after the refund (a second payment for a canceled order) needs a person.
    later = json.loads(_hook(fake, "AUTHORISATION").body)
    item = later["notificationItems"][0]["NotificationRequestItem"]
    item["pspReference"] = "P999999999999999"
    item["eventDate"] = "2099-01-01T10:00:00+00:00"
    item["additionalData"]["hmacSignature"] = hmac_signature(item, fake.credentials["hmac_key"])
    assert _post(json.dumps(later).encode()).status_code == 200
    order.refresh_from_db()
    assert order.status == "canceled"
    assert OrderLink.objects.get(order=order, channel=adyen).state == "divergent"
