"""Adyen fake: Checkout modifications with X-API-Key and idempotency keys, signed standard webhooks
valid against Adyen's Webhooks OpenAPI, control actions, base faults."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.adyen import AdyenState, sign_item
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver
from malote_dev.sandbox.tests.specs import not_found, vendor_spec

Fake = RunningFake[AdyenState]

ADYEN_OPENAPI = vendor_spec("adyen-webhooks-openapi.json", "MALOTE_ADYEN_OPENAPI")
VECTOR_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


@cache
def _spec() -> dict[str, Any]:
    if not ADYEN_OPENAPI.is_file():
        pytest.skip(not_found("adyen-webhooks-openapi.json", "MALOTE_ADYEN_OPENAPI"))
    spec: dict[str, Any] = json.loads(ADYEN_OPENAPI.read_text())
    return spec


def validate_webhook(body: Any) -> None:
    """Validate a webhook body against the request schema of its event code's webhook."""
    spec = _spec()
    [wrapper] = body["notificationItems"]
    event_code = wrapper["NotificationRequestItem"]["eventCode"]
    operation = spec["webhooks"][f"/{event_code}"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    document = {**copy.deepcopy(schema), "components": spec["components"]}
    jsonschema.Draft202012Validator(document).validate(body)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def adyen(receiver: WebhookReceiver) -> Iterator[Fake]:
    with start_fake("adyen", webhook_url=f"{receiver.url}/hooks/adyen", seed=False) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


def _pay(http: httpx.Client, fake: Fake, **body: Any) -> dict[str, Any]:
    response = http.post(f"{fake.url}/_sandbox/payments", json={"merchantReference": "10007", **body})
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()["payment"]
    return payment


def _modify(
    http: httpx.Client, fake: Fake, psp: str, action: str, *, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = {"X-API-Key": fake.credentials["api_key"]}
    if key:
        headers["Idempotency-Key"] = key
    payload = {"merchantAccount": fake.credentials["merchant_account"], **body}
    return http.post(f"{fake.api_url}/payments/{psp}/{action}", json=payload, headers=headers)


def _item(received: Any) -> dict[str, Any]:
    item: dict[str, Any] = received.json["notificationItems"][0]["NotificationRequestItem"]
    return item


def _expected_signature(item: dict[str, Any], hex_key: str) -> str:
    """An independent computation of Adyen's HMAC (not the fake's own function)."""
    fields = [
        item.get("pspReference", ""),
        item.get("originalReference", ""),
        item.get("merchantAccountCode", ""),
        item.get("merchantReference", ""),
        str(item["amount"]["value"]),
        item["amount"]["currency"],
        item.get("eventCode", ""),
        item.get("success", ""),
    ]
    digest = hmac.new(bytes.fromhex(hex_key), ":".join(fields).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# ----------------------------------------------------------------- signing
def test_the_fake_signs_the_reference_test_vector() -> None:
    item = {
        "pspReference": "7914073381342284",
        "merchantReference": "TestPayment-1407325143704",
        "merchantAccountCode": "TestMerchant",
        "amount": {"value": 1130, "currency": "EUR"},
        "eventCode": "AUTHORISATION",
        "success": "true",
    }
    assert sign_item(item, VECTOR_KEY) == "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="


def test_every_webhook_is_signed_and_valid_against_the_openapi(
    adyen: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    adyen.configure(manual_capture=True)
    first = _pay(http, adyen)
    assert first["status"] == "Authorised"
    assert http.post(f"{adyen.url}/_sandbox/payments/{first['pspReference']}/capture").status_code == 200
    assert (
        http.post(
            f"{adyen.url}/_sandbox/payments/{first['pspReference']}/refund", json={"amount": 480}
        ).status_code
        == 200
    )
    assert http.post(f"{adyen.url}/_sandbox/payments/{first['pspReference']}/chargeback").status_code == 200
    second = _pay(http, adyen, merchantReference="10008", paymentMethod="pix")
    assert http.post(f"{adyen.url}/_sandbox/payments/{second['pspReference']}/cancel").status_code == 200
    third = _pay(http, adyen, merchantReference="10009")
    assert _modify(http, adyen, third["pspReference"], "reversals").status_code == 201
    refused = _pay(http, adyen, merchantReference="10010", outcome="refused")
    assert refused["status"] == "Refused"

    received = receiver.wait_for(9)
    events = [_item(r)["eventCode"] for r in received]
    assert events == [
        "AUTHORISATION",
        "CAPTURE",
        "REFUND",
        "CHARGEBACK",
        "AUTHORISATION",
        "CANCELLATION",
        "AUTHORISATION",
        "CANCEL_OR_REFUND",
        "AUTHORISATION",
    ]
    for record in received:
        validate_webhook(record.json)
        item = _item(record)
        assert record.json["live"] == "false"
        assert item["additionalData"]["hmacSignature"] == _expected_signature(
            item, adyen.credentials["hmac_key"]
        )
        assert item["merchantAccountCode"] == "MaloteDemoECOM" and item["amount"]["currency"] == "BRL"
    authorisation, capture, refund = (_item(r) for r in received[:3])
    assert "originalReference" not in authorisation and authorisation["success"] == "true"
    assert authorisation["operations"] == ["CANCEL", "CAPTURE", "REFUND"]
    assert capture["originalReference"] == first["pspReference"] != capture["pspReference"]
    assert refund["amount"]["value"] == 480
    assert _item(received[-1])["success"] == "false" and _item(received[-1])["reason"]
    assert _item(received[7])["additionalData"]["modification.action"] == "cancel"


def test_the_openapi_check_catches_a_wrong_body(
    adyen: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    _pay(http, adyen)
    [record] = receiver.wait_for(1)
    wrong = copy.deepcopy(record.json)
    wrong["notificationItems"][0]["NotificationRequestItem"]["amount"]["value"] = "11480"
    with pytest.raises(jsonschema.ValidationError):
        validate_webhook(wrong)
    unknown_field = copy.deepcopy(record.json)
    unknown_field["notificationItems"][0]["NotificationRequestItem"]["status"] = "paid"
    with pytest.raises(jsonschema.ValidationError):
        validate_webhook(unknown_field)


def test_unsigned_mode_and_basic_auth_on_webhooks(
    adyen: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    adyen.configure(webhook_signature="none", webhook_username="hooks", webhook_password="pw")
    _pay(http, adyen)
    [record] = receiver.wait_for(1)
    assert "hmacSignature" not in _item(record)["additionalData"]
    assert record.headers["authorization"] == "Basic " + base64.b64encode(b"hooks:pw").decode()
    validate_webhook(record.json)


# ----------------------------------------------------------------- the Checkout API
@pytest.mark.parametrize("key", [None, "AQE-wrong"])
def test_only_the_api_key_gets_in(adyen: Fake, http: httpx.Client, key: str | None) -> None:
    headers = {"X-API-Key": key} if key else {}
    response = http.post(f"{adyen.api_url}/payments/X/cancels", json={}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "errorCode": "000",
        "message": "HTTP Status Response - Unauthorized",
        "errorType": "security",
    }


def test_modifications_answer_received_and_report_through_webhooks(
    adyen: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    payment = _pay(http, adyen)
    assert payment["status"] == "Captured", "immediate capture is Adyen's default"
    response = _modify(
        http,
        adyen,
        payment["pspReference"],
        "refunds",
        reference="R-1",
        amount={"value": 1000, "currency": "BRL"},
    )
    assert response.status_code == 201
    answer = response.json()
    assert answer["status"] == "received" and answer["paymentPspReference"] == payment["pspReference"]
    assert answer["reference"] == "R-1" and answer["amount"] == {"value": 1000, "currency": "BRL"}
    assert len(answer["pspReference"]) == 16 and answer["pspReference"] != payment["pspReference"]
    # A cancel after capture is received too, and fails in its webhook.
    assert _modify(http, adyen, payment["pspReference"], "cancels").status_code == 201
    received = receiver.wait_for(3)
    assert [(_item(r)["eventCode"], _item(r)["success"]) for r in received] == [
        ("AUTHORISATION", "true"),
        ("REFUND", "true"),
        ("CANCELLATION", "false"),
    ]
    assert adyen.state.payments[payment["pspReference"]]["refunded"] == 1000


@pytest.mark.parametrize(
    ("psp", "body", "status", "code"),
    [
        ("UNKNOWNPSP000001", {}, 422, "167"),
        (None, {"merchantAccount": "SomeoneElse"}, 403, "901"),
        (None, {"merchantAccount": ""}, 422, "702"),
    ],
)
def test_refused_modifications(
    adyen: Fake, http: httpx.Client, psp: str | None, body: dict[str, Any], status: int, code: str
) -> None:
    target = psp or _pay(http, adyen)["pspReference"]
    response = _modify(http, adyen, target, "cancels", **body)
    assert response.status_code == status and response.json()["errorCode"] == code
    bad_amount = _modify(http, adyen, _pay(http, adyen)["pspReference"], "refunds", amount={"value": 1.5})
    assert bad_amount.status_code == 422 and bad_amount.json()["errorCode"] == "137"


def test_the_same_idempotency_key_replays_and_a_reused_key_is_refused(
    adyen: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    psp = _pay(http, adyen)["pspReference"]
    first = _modify(http, adyen, psp, "reversals", key="msg-1", reference="10007")
    again = _modify(http, adyen, psp, "reversals", key="msg-1", reference="10007")
    assert (first.status_code, again.status_code) == (201, 201) and first.json() == again.json()
    other = _modify(http, adyen, psp, "reversals", key="msg-1", reference="OTHER")
    assert other.status_code == 422 and other.json()["errorCode"] == "704"
    assert len(adyen.state.modifications) == 1
    assert len(receiver.settle()) == 2  # AUTHORISATION + one CANCEL_OR_REFUND


def test_a_timed_out_reversal_landed_and_its_retry_is_a_replay(adyen: Fake) -> None:
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        psp = _pay(http, adyen)["pspReference"]
    adyen.faults.set("timeout", seconds=2.0)
    with httpx.Client(timeout=0.3, trust_env=False) as impatient, pytest.raises(httpx.ReadTimeout):
        _modify(impatient, adyen, psp, "reversals", key="msg-2")
    assert adyen.state.payments[psp]["status"] == "Refunded"
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        retried = _modify(http, adyen, psp, "reversals", key="msg-2")
    assert retried.status_code == 201 and len(adyen.state.modifications) == 1


@pytest.mark.parametrize(
    ("kind", "params", "status"),
    [("error_5xx", {"status": 503}, 503), ("rate_limit", {"retry_after": 7}, 429)],
)
def test_base_faults_answer_adyen_errors_without_effect(
    adyen: Fake, http: httpx.Client, kind: str, params: dict[str, Any], status: int
) -> None:
    psp = _pay(http, adyen)["pspReference"]
    adyen.faults.set(kind, **params)
    response = _modify(http, adyen, psp, "reversals", key="msg-3")
    assert response.status_code == status and response.json()["status"] == status
    if kind == "rate_limit":
        assert response.headers["Retry-After"] == "7"
    assert adyen.state.modifications == {}
    assert _modify(http, adyen, psp, "reversals", key="msg-3").status_code == 201, "5xx/429 not remembered"


def test_webhook_faults_apply(adyen: Fake, http: httpx.Client, receiver: WebhookReceiver) -> None:
    adyen.faults.set("webhook_off")
    _pay(http, adyen, merchantReference="A")
    adyen.faults.set("webhook_duplicate")
    _pay(http, adyen, merchantReference="B")
    received = receiver.wait_for(2)
    assert [_item(r)["merchantReference"] for r in received] == ["B", "B"]
    assert received[0].body == received[1].body
    assert adyen.webhooks.all()[0].suppressed


# ----------------------------------------------------------------- control API and seed
def test_control_refusals(adyen: Fake, http: httpx.Client) -> None:
    refused = _pay(http, adyen, outcome="refused")
    for action in ("capture", "cancel", "refund", "chargeback"):
        response = http.post(f"{adyen.url}/_sandbox/payments/{refused['pspReference']}/{action}")
        assert response.status_code == 409, action
    assert http.post(f"{adyen.url}/_sandbox/payments/NOPE/cancel").status_code == 404
    assert http.post(f"{adyen.url}/_sandbox/payments", json={}).status_code == 400
    assert (
        http.post(
            f"{adyen.url}/_sandbox/payments", json={"merchantReference": "x", "amount": 1.5}
        ).status_code
        == 400
    )


def test_the_seed_has_the_card_orders_and_sends_nothing(receiver: WebhookReceiver) -> None:
    with start_fake("adyen", webhook_url=f"{receiver.url}/hooks/adyen") as fake:
        references = sorted(p["merchantReference"] for p in fake.state.payments.values())
        assert references == ["10001", "10006"]
        assert all(p["status"] == "Captured" for p in fake.state.payments.values())
        assert fake.webhooks.all() == []
        index = httpx.get(f"{fake.url}/_sandbox", trust_env=False).json()
        assert index["kind"] == "adyen" and index["api_url"].endswith("/v71")


def test_latency_and_a_drop_without_effect(adyen: Fake, http: httpx.Client) -> None:
    psp = _pay(http, adyen)["pspReference"]
    adyen.faults.set("latency_ms", ms=10)
    adyen.faults.set("drop", method="POST", path_prefix="/v71/payments")
    with pytest.raises(httpx.RemoteProtocolError):
        _modify(http, adyen, psp, "reversals", key="msg-4")
    assert adyen.state.modifications == {} and adyen.state.payments[psp]["status"] == "Captured"
    assert [call.faults for call in adyen.calls.all()] == [["latency_ms", "drop"]]
    assert _modify(http, adyen, psp, "reversals", key="msg-4").status_code == 201
