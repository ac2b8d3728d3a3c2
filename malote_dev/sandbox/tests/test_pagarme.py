"""Pagar.me fake: auth, orders and charges in cents, idempotency keys, signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.pagarme import PagarmeState
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import Received, WebhookReceiver, client, pagarme_auth

Fake = RunningFake[PagarmeState]


def _order_body(code: str = "20001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "items": [
            {"amount": 4990, "description": "Chinelo de praia 42", "quantity": 2, "code": "CHINELO-42"},
            {"amount": 5990, "description": "Boné azul", "quantity": 1, "code": "BONE-AZUL"},
        ],
        "customer": {
            "name": "Maria Souza",
            "email": "maria@example.com",
            "document": "52998224725",
            "type": "individual",
        },
        "shipping": {"amount": 1500, "description": "SEDEX", "recipient_name": "Maria Souza"},
        "payments": [{"payment_method": "boleto", "boleto": {"instructions": "Pagar até o vencimento"}}],
    }
    body.update(overrides)
    return body


def _create(http: httpx.Client, fake: Fake, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"idempotency-key": key} if key else {}
    return http.post(f"{fake.api_url}/orders", json=body, headers=headers, auth=pagarme_auth(fake))


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify_rs256(received: Received, jwks: dict[str, Any]) -> None:
    fields = dict(
        part.strip().split("=", 1) for part in received.headers["x-webhook-asymmetric-signature"].split(";")
    )
    assert fields["alg"] == "RS256"
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == fields["kid"]]
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(_b64url_decode(jwk["e"]), "big"), int.from_bytes(_b64url_decode(jwk["n"]), "big")
    ).public_key()
    public_key.verify(_b64url_decode(fields["signature"]), received.body, padding.PKCS1v15(), hashes.SHA256())


# ----------------------------------------------------------------- auth
@pytest.mark.parametrize("auth", [None, ("sk_test_wrong", ""), ("", "x")])
def test_only_the_secret_key_gets_in(pagarme: Fake, http: httpx.Client, auth: tuple[str, str] | None) -> None:
    response = http.get(f"{pagarme.api_url}/orders", auth=auth)
    assert response.status_code == 401
    assert response.json() == {"message": "Authorization has been denied for this request."}
    assert pagarme.credentials["secret_key"].startswith("sk_test_")


# ----------------------------------------------------------------- orders
def test_create_order_in_cents_with_a_pending_charge(pagarme: Fake, http: httpx.Client) -> None:
    response = _create(http, pagarme, _order_body())
    assert response.status_code == 200
    order = response.json()
    assert order["id"].startswith("or_") and order["code"] == "20001"
    assert (order["amount"], order["status"], order["closed"], order["currency"]) == (
        17470,
        "pending",
        True,
        "BRL",
    )
    assert order["items"][0]["id"].startswith("oi_") and order["items"][0]["amount"] == 4990
    assert order["customer"]["id"].startswith("cus_") and order["customer"]["document_type"] == "cpf"
    (charge,) = order["charges"]
    assert charge["id"].startswith("ch_") and (charge["status"], charge["amount"]) == ("pending", 17470)
    assert charge["payment_method"] == "boleto" and charge["last_transaction"]["status"] == "generated"
    assert len(charge["last_transaction"]["line"]) == 47

    fetched = http.get(f"{pagarme.api_url}/orders/{order['id']}", auth=pagarme_auth(pagarme)).json()
    assert fetched == order
    fetched_charge = http.get(f"{pagarme.api_url}/charges/{charge['id']}", auth=pagarme_auth(pagarme)).json()
    assert fetched_charge["order"]["id"] == order["id"] and fetched_charge["order"]["code"] == "20001"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"amount": 49.9, "description": "x", "quantity": 1}]}, "items[0].amount"),
        ({"items": [{"amount": 100, "quantity": 1}]}, "items[0].description"),
        ({"payments": [{"payment_method": "cash"}]}, "payments[0].payment_method"),
        ({"payments": [{"payment_method": "pix", "amount": 100}]}, "payments"),
        (
            {"customer": {"name": "A", "email": "a@example.com", "document": "52998224700"}},
            "customer.document",
        ),
        ({"customer": None}, "customer"),
    ],
)
def test_invalid_orders_get_422_with_field_errors(
    pagarme: Fake, http: httpx.Client, overrides: dict[str, Any], field: str
) -> None:
    before = len(pagarme.state.orders)
    response = _create(http, pagarme, _order_body(**overrides))
    assert response.status_code == 422
    assert response.json()["message"] == "The request is invalid." and field in response.json()["errors"]
    assert len(pagarme.state.orders) == before


def test_unknown_ids_and_routes(pagarme: Fake, http: httpx.Client) -> None:
    auth = pagarme_auth(pagarme)
    assert http.get(f"{pagarme.api_url}/orders/or_nope", auth=auth).status_code == 404
    assert http.get(f"{pagarme.api_url}/charges/ch_nope", auth=auth).status_code == 404
    unknown = http.get(f"{pagarme.api_url}/subscriptions", auth=auth)
    assert unknown.status_code == 404 and "No HTTP resource" in unknown.json()["message"]
    assert http.put(f"{pagarme.api_url}/orders", auth=auth).status_code == 405
    bad_json = http.post(
        f"{pagarme.api_url}/orders", content=b"{", headers={"Content-Type": "application/json"}, auth=auth
    )
    assert bad_json.status_code == 400


def test_list_orders_with_paging_and_filters(pagarme: Fake, http: httpx.Client) -> None:
    auth = pagarme_auth(pagarme)
    page = http.get(f"{pagarme.api_url}/orders", params={"size": 2, "page": 2}, auth=auth).json()
    assert [order["code"] for order in page["data"]] == ["10003", "10002"]
    assert (
        page["paging"]["total"] == 5
        and "page=3" in page["paging"]["next"]
        and "page=1" in page["paging"]["previous"]
    )
    by_code = http.get(f"{pagarme.api_url}/orders", params={"code": "10005"}, auth=auth).json()
    assert [(order["status"], order["charges"][0]["payment_method"]) for order in by_code["data"]] == [
        ("pending", "boleto")
    ]
    paid = http.get(f"{pagarme.api_url}/orders", params={"status": "paid"}, auth=auth).json()
    assert sorted(order["code"] for order in paid["data"]) == ["10001", "10003", "10006"]
    recent = http.get(
        f"{pagarme.api_url}/orders", params={"created_since": "2999-01-01T00:00:00Z"}, auth=auth
    )
    assert recent.json() == {"data": [], "paging": {"total": 0, "previous": None, "next": None}}
    charges = http.get(f"{pagarme.api_url}/charges", params={"payment_method": "pix"}, auth=auth).json()
    assert [charge["code"] for charge in charges["data"]] == ["10003"]


def test_close_order(pagarme: Fake, http: httpx.Client, receiver: WebhookReceiver) -> None:
    order = _create(http, pagarme, _order_body(closed=False)).json()
    assert order["closed"] is False and order["closed_at"] is None
    url = f"{pagarme.api_url}/orders/{order['id']}/closed"
    closed = http.patch(url, json={"status": "canceled"}, auth=pagarme_auth(pagarme)).json()
    assert (closed["closed"], closed["status"]) == (True, "canceled") and closed["closed_at"]
    assert http.patch(url, json={"status": "open"}, auth=pagarme_auth(pagarme)).status_code == 422
    assert [item.json["type"] for item in receiver.wait_for(3)] == [
        "order.created",
        "charge.created",
        "order.canceled",
    ]


# ----------------------------------------------------------------- idempotency
def test_the_same_idempotency_key_replays_the_first_answer(pagarme: Fake, http: httpx.Client) -> None:
    before = len(pagarme.state.orders)
    first = _create(http, pagarme, _order_body(), key="checkout-20001")
    again = _create(http, pagarme, _order_body(code="changed"), key="checkout-20001")
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert len(pagarme.state.orders) == before + 1
    other = _create(http, pagarme, _order_body(), key="checkout-20001-b")
    assert other.json()["id"] != first.json()["id"]
    no_key = _create(http, pagarme, _order_body())
    assert no_key.json()["id"] not in (first.json()["id"], other.json()["id"])
    assert len(pagarme.state.orders) == before + 3
    assert pagarme.webhooks.wait_for(6) and len(pagarme.webhooks) == 6  # replays announce nothing


def test_a_retry_after_a_timeout_with_the_same_key_has_no_second_effect(pagarme: Fake) -> None:
    pagarme.faults.set("timeout", seconds=2, method="POST")
    before = len(pagarme.state.orders)
    with client(timeout=0.3) as impatient, pytest.raises(httpx.ReadTimeout):
        _create(impatient, pagarme, _order_body(), key="retry-me")
    with client() as patient:
        retried = _create(patient, pagarme, _order_body(), key="retry-me")
    assert retried.status_code == 200 and len(pagarme.state.orders) == before + 1


def test_a_5xx_answer_is_not_remembered(pagarme: Fake, http: httpx.Client) -> None:
    pagarme.faults.set("error_5xx", method="POST")
    assert _create(http, pagarme, _order_body(), key="k-5xx").status_code == 500
    assert _create(http, pagarme, _order_body(), key="k-5xx").status_code == 200


# ----------------------------------------------------------------- charges through the API
def test_capture_a_card_charge(pagarme: Fake, http: httpx.Client, receiver: WebhookReceiver) -> None:
    body = _order_body(
        payments=[
            {
                "payment_method": "credit_card",
                "credit_card": {"installments": 3, "card": {"number": "5555444433331111"}},
            }
        ]
    )
    charge = _create(http, pagarme, body).json()["charges"][0]
    assert charge["last_transaction"]["card"]["last_four_digits"] == "1111"
    captured = http.post(
        f"{pagarme.api_url}/charges/{charge['id']}/capture", auth=pagarme_auth(pagarme)
    ).json()
    assert captured["status"] == "paid" and captured["paid_amount"] == 17470
    assert captured["last_transaction"]["status"] == "captured"
    again = http.post(f"{pagarme.api_url}/charges/{charge['id']}/capture", auth=pagarme_auth(pagarme))
    assert again.status_code == 422
    types = [item.json["type"] for item in receiver.wait_for(4)]
    assert types == ["order.created", "charge.created", "charge.paid", "order.paid"]


def test_delete_cancels_a_pending_charge_and_refunds_a_paid_one(pagarme: Fake, http: httpx.Client) -> None:
    auth = pagarme_auth(pagarme)
    pending = _create(http, pagarme, _order_body()).json()["charges"][0]
    canceled = http.delete(f"{pagarme.api_url}/charges/{pending['id']}", auth=auth).json()
    assert (canceled["status"], canceled["canceled_amount"]) == ("canceled", 17470)
    assert http.delete(f"{pagarme.api_url}/charges/{pending['id']}", auth=auth).status_code == 422

    paid_id = next(cid for cid, charge in pagarme.state.charges.items() if charge["code"] == "10001")
    partial = http.request(
        "DELETE", f"{pagarme.api_url}/charges/{paid_id}", json={"amount": 1000}, auth=auth
    ).json()
    assert (partial["status"], partial["canceled_amount"]) == ("paid", 1000)
    rest = http.delete(f"{pagarme.api_url}/charges/{paid_id}", auth=auth).json()
    assert (rest["status"], rest["canceled_amount"]) == ("canceled", 31460)
    assert [record.event for record in pagarme.webhooks.wait_for(7)] == [
        "order.created",
        "charge.created",
        "charge.canceled",
        "order.canceled",
        "charge.partial_canceled",
        "charge.refunded",
        "order.canceled",
    ]


# ----------------------------------------------------------------- webhooks
def test_webhooks_are_signed_with_rs256_and_verifiable_with_the_jwks(
    pagarme: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = http.post(
        f"{pagarme.url}/_sandbox/orders", json={"customer": "joao", "payment_method": "pix"}
    ).json()
    http.post(f"{pagarme.url}/_sandbox/charges/{created['charge_id']}/pay")
    jwks = http.get(f"{pagarme.url}/.well-known/jwks.json").json()
    received = receiver.wait_for(4)
    assert [item.json["type"] for item in received] == [
        "order.created",
        "charge.created",
        "charge.paid",
        "order.paid",
    ]
    for item in received:
        _verify_rs256(item, jwks)
        assert item.json["id"].startswith("hook_") and item.json["account"]["id"].startswith("acc_")
    charge_paid = received[2].json["data"]
    assert charge_paid["id"] == created["charge_id"] and charge_paid["order"]["id"] == created["order_id"]
    assert received[3].json["data"]["status"] == "paid"
    tampered = Received(received[0].path, "", received[0].headers, received[0].body + b" ")
    with pytest.raises(InvalidSignature):
        _verify_rs256(tampered, jwks)


def test_hmac_signature_mode_is_a_switch(receiver: WebhookReceiver, http: httpx.Client) -> None:
    with start_fake("pagarme", webhook_url=receiver.url, webhook_signature="hmac-sha256") as fake:
        http.post(f"{fake.url}/_sandbox/orders", json={})
        (first, _) = receiver.wait_for(2)
        secret = fake.credentials["secret_key"].encode()
        assert (
            first.headers["x-hub-signature"]
            == "sha256=" + hmac.new(secret, first.body, hashlib.sha256).hexdigest()
        )
        assert "x-webhook-asymmetric-signature" not in first.headers
        bad = http.post(f"{fake.url}/_sandbox/config", json={"webhook_signature": "md5"})
        assert bad.status_code == 400


# ----------------------------------------------------------------- control actions
@pytest.mark.parametrize(
    ("method", "actions", "events", "charge_status", "order_status"),
    [
        ("pix", ["pay"], ["charge.paid", "order.paid"], "paid", "paid"),
        ("boleto", ["fail"], ["charge.payment_failed", "order.payment_failed"], "failed", "failed"),
        ("credit_card", ["pay", "refund"], ["charge.refunded", "order.canceled"], "canceled", "canceled"),
        ("credit_card", ["pay", "chargeback"], ["charge.chargedback"], "chargedback", "paid"),
    ],
)
def test_control_actions_emit_charge_then_order_events(
    pagarme: Fake,
    http: httpx.Client,
    method: str,
    actions: list[str],
    events: list[str],
    charge_status: str,
    order_status: str,
) -> None:
    created = http.post(f"{pagarme.url}/_sandbox/orders", json={"payment_method": method, "code": "X-1"})
    assert created.status_code == 201 and created.json()["events"] == ["order.created", "charge.created"]
    charge_id, order_id = created.json()["charge_id"], created.json()["order_id"]
    answer: dict[str, Any] = {}
    for action in actions:
        answer = http.post(f"{pagarme.url}/_sandbox/charges/{charge_id}/{action}").json()
    assert answer["events"] == events
    assert pagarme.state.charges[charge_id]["status"] == charge_status
    assert pagarme.state.orders[order_id]["status"] == order_status


def test_control_cancel_order_and_refusals(pagarme: Fake, http: httpx.Client) -> None:
    created = http.post(
        f"{pagarme.url}/_sandbox/orders", json={"items": [{"sku": "CAFE-MOIDO-500G", "qty": 3}]}
    ).json()
    assert created["order"]["amount"] == 3 * 2990 + 1500
    canceled = http.post(f"{pagarme.url}/_sandbox/orders/{created['order_id']}/cancel").json()
    assert canceled["events"] == ["charge.canceled", "order.canceled"]
    assert canceled["order"]["charges"][0]["status"] == "canceled"
    assert http.post(f"{pagarme.url}/_sandbox/charges/{created['charge_id']}/pay").status_code == 409
    assert http.post(f"{pagarme.url}/_sandbox/charges/{created['charge_id']}/refund").status_code == 409
    assert http.post(f"{pagarme.url}/_sandbox/charges/ch_nope/pay").status_code == 404
    assert http.post(f"{pagarme.url}/_sandbox/orders/or_nope/cancel").status_code == 404
