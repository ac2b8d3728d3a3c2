"""Jumpseller fake: auth, every endpoint, OpenAPI conformance and signed hooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.jumpseller import JumpsellerState
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver, jumpseller_auth, validate_jumpseller

Fake = RunningFake[JumpsellerState]


def _get(http: httpx.Client, fake: Fake, path: str, **params: Any) -> httpx.Response:
    return http.get(f"{fake.api_url}{path}", params=params, auth=jumpseller_auth(fake))


def _put_order(http: httpx.Client, fake: Fake, order_id: int, fields: dict[str, Any]) -> httpx.Response:
    return http.put(
        f"{fake.api_url}/orders/{order_id}.json", json={"order": fields}, auth=jumpseller_auth(fake)
    )


# ----------------------------------------------------------------- auth
def test_basic_auth_and_the_deprecated_query_form_are_accepted(jumpseller: Fake, http: httpx.Client) -> None:
    assert _get(http, jumpseller, "/orders/count.json").json() == {"count": 6}
    login, token = jumpseller_auth(jumpseller)
    query = http.get(f"{jumpseller.api_url}/orders/count.json", params={"login": login, "authtoken": token})
    assert query.status_code == 200
    assert len(token) == 32


@pytest.mark.parametrize(
    "auth", [None, ("malote-demo", "wrong-token-wrong-token-wrong-tok"), ("someone-else", "x")]
)
def test_bad_or_missing_credentials_get_401_with_a_message(
    jumpseller: Fake, http: httpx.Client, auth: tuple[str, str] | None
) -> None:
    response = http.get(f"{jumpseller.api_url}/orders.json", auth=auth)
    assert response.status_code == 401
    validate_jumpseller(response.json(), "MessageObject")
    assert response.headers["Jumpseller-PerMinuteRateLimit-Limit"] == "800"


# ----------------------------------------------------------------- reads
def test_order_list_is_an_array_of_wrapped_orders_valid_against_the_openapi(
    jumpseller: Fake, http: httpx.Client
) -> None:
    response = _get(http, jumpseller, "/orders.json")
    orders = response.json()
    validate_jumpseller(orders, "Order", array=True)
    assert [item["order"]["id"] for item in orders] == [10006, 10005, 10004, 10003, 10002, 10001]
    shipped = next(item["order"] for item in orders if item["order"]["id"] == 10003)
    assert shipped["billing_address"]["taxid"] == "529.982.247-25"
    assert shipped["shipping_address"]["region_code"] == "SP"
    assert shipped["total"] == 149.7 and shipped["subtotal"] == 134.7 and shipped["shipping"] == 15.0
    assert (shipped["status"], shipped["status_enum"]) == ("Paid", "paid")
    assert (shipped["shipment_status"], shipped["shipment_status_enum"]) == ("In Transit", "in_transit")
    assert shipped["created_at"].endswith(" UTC")
    for header in ("PerMinuteRateLimit", "PerSecondRateLimit"):
        assert int(response.headers[f"Jumpseller-{header}-Remaining"]) < int(
            response.headers[f"Jumpseller-{header}-Limit"]
        )


def test_paging_limit_and_status_filters(jumpseller: Fake, http: httpx.Client) -> None:
    page_two = _get(http, jumpseller, "/orders.json", limit=4, page=2).json()
    assert [item["order"]["id"] for item in page_two] == [10002, 10001]
    assert len(_get(http, jumpseller, "/orders.json", limit=500).json()) == 6  # clamped to 100
    paid_or_canceled = _get(
        http, jumpseller, "/orders.json", **{"status_filters[]": ["paid", "canceled"]}
    ).json()
    assert sorted(item["order"]["status_enum"] for item in paid_or_canceled) == [
        "canceled",
        "paid",
        "paid",
        "paid",
    ]
    fields = _get(http, jumpseller, "/orders.json", fields="id,status", limit=1).json()
    assert fields == [{"order": {"id": 10006, "status": "Paid"}}]
    assert _get(http, jumpseller, "/orders/count.json", **{"status_filters[]": "pending_payment"}).json() == {
        "count": 1
    }


def test_date_filters(jumpseller: Fake, http: httpx.Client) -> None:
    assert len(_get(http, jumpseller, "/orders.json", dateFilter="last7days").json()) == 4
    assert (
        _get(http, jumpseller, "/orders.json", dateFilter="customDate", initialDate="2001-01-01").status_code
        == 400
    )


def test_orders_after_an_id_come_oldest_first(jumpseller: Fake, http: httpx.Client) -> None:
    orders = _get(http, jumpseller, "/orders/after/10003.json").json()
    validate_jumpseller(orders, "Order", array=True)
    assert [item["order"]["id"] for item in orders] == [10004, 10005, 10006]
    assert _get(http, jumpseller, "/orders/after/99999.json").json() == []


def test_orders_by_status_and_an_invalid_status(jumpseller: Fake, http: httpx.Client) -> None:
    abandoned = _get(http, jumpseller, "/orders/status/abandoned.json").json()
    assert [item["order"]["id"] for item in abandoned] == [10004]
    invalid = _get(http, jumpseller, "/orders/status/shipped.json")
    assert invalid.status_code == 404
    validate_jumpseller(invalid.json(), "StatusInvalid")


def test_one_order_and_a_missing_one(jumpseller: Fake, http: httpx.Client) -> None:
    order = _get(http, jumpseller, "/orders/10001.json").json()
    validate_jumpseller(order, "Order")
    assert order["order"]["tracking_company"] == "Correios"
    missing = _get(http, jumpseller, "/orders/424242.json")
    assert missing.status_code == 404
    validate_jumpseller(missing.json(), "NotFound")
    assert _get(http, jumpseller, "/nothing.json").status_code == 404
    assert (
        http.delete(f"{jumpseller.api_url}/orders/10001.json", auth=jumpseller_auth(jumpseller)).status_code
        == 405
    )


# ----------------------------------------------------------------- updates and hooks
def test_put_updates_writable_fields_ignores_read_only_ones_and_signs_hooks(
    jumpseller: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    response = _put_order(
        http,
        jumpseller,
        10006,
        {
            "shipment_status": "in_transit",
            "tracking_number": "AA123456785BR",
            "tracking_company": "Correios",
            "total": 1.0,
            "id": 1,
            "additional_fields": [{"label": "NF-e", "value": "35250311222333000181550010000012341123456783"}],
        },
    )
    assert response.status_code == 200
    validate_jumpseller(response.json(), "Order")
    order = response.json()["order"]
    assert order["id"] == 10006 and order["total"] == 154.6
    assert order["shipment_status"] == "In Transit" and order["tracking_number"] == "AA123456785BR"
    assert order["additional_fields"][0]["value"].startswith("3525")

    received = receiver.wait_for(2)
    assert [item.headers["jumpseller-event"] for item in received] == ["order_shipped", "order_updated"]
    token = jumpseller.credentials["hooks_token"].encode()
    for item in received:
        expected = base64.b64encode(hmac.new(token, item.body, hashlib.sha256).digest()).decode()
        assert item.headers["jumpseller-hmac-sha256"] == expected
        assert item.headers["jumpseller-store-code"] == "malote-demo"
        assert item.path == "/hooks/jumpseller"
        validate_jumpseller(item.json, "Order")
        assert item.json["order"]["tracking_number"] == "AA123456785BR"


def test_status_takes_labels_not_enums_by_default(jumpseller: Fake, http: httpx.Client) -> None:
    refused = _put_order(http, jumpseller, 10005, {"status": "paid"})
    assert refused.status_code == 422
    validate_jumpseller(refused.json(), "BadParams")
    assert "Pending Payment" in refused.json()["message"]
    paid = _put_order(http, jumpseller, 10005, {"status": "Paid"}).json()["order"]
    assert (paid["status"], paid["status_enum"]) == ("Paid", "paid") and paid["completed_at"]
    assert [record.event for record in jumpseller.webhooks.wait_for(2)] == ["order_paid", "order_updated"]


def test_the_enum_form_is_a_switch(receiver: WebhookReceiver, http: httpx.Client) -> None:
    with start_fake("jumpseller", accept_status_enum_on_put=True, emit_order_updated=False) as fake:
        answer = _put_order(http, fake, 10005, {"status": "canceled"})
        assert answer.json()["order"]["status"] == "Canceled"
        assert fake.webhooks.wait_for(1) and fake.webhooks.events() == ["order_canceled"]


@pytest.mark.parametrize(
    "fields",
    [
        {"shipment_status": "shipped"},
        {"shipment_status": "In Transit"},
        {"status": "Shipped"},
        {"tracking_url": {}},
    ],
)
def test_invalid_values_get_422(jumpseller: Fake, http: httpx.Client, fields: dict[str, Any]) -> None:
    response = _put_order(http, jumpseller, 10006, fields)
    assert response.status_code == 422 and "message" in response.json()


def test_malformed_bodies(jumpseller: Fake, http: httpx.Client) -> None:
    url = f"{jumpseller.api_url}/orders/10006.json"
    auth = jumpseller_auth(jumpseller)
    not_json = http.put(url, content=b"{nope", headers={"Content-Type": "application/json"}, auth=auth)
    assert not_json.status_code == 400
    unwrapped = http.put(url, json={"status": "Paid"}, auth=auth)
    assert unwrapped.status_code == 400
    form = http.put(url, data={"order[status]": "Paid"}, auth=auth)
    assert form.status_code == 415
    assert _put_order(http, jumpseller, 999, {"status": "Paid"}).status_code == 404


def test_documents_attach_an_invoice_to_an_order(jumpseller: Fake, http: httpx.Client) -> None:
    key = "35250311222333000181550010000012341123456783"
    url = f"{jumpseller.api_url}/orders/10003/documents.json"
    auth = jumpseller_auth(jumpseller)
    document = {
        "document_type": 1,
        "external_id": key,
        "public_id": "NF-1234",
        "url": "https://danfe.example/1",
    }
    created = http.post(url, json={"document": document}, auth=auth)
    assert created.status_code == 200
    validate_jumpseller(created.json(), "Document")
    assert created.json()["document"] == {**document, "order_id": 10003, "app_code": None}
    listed = http.get(url, auth=auth).json()
    validate_jumpseller(listed, "Document", array=True)
    assert [item["document"]["public_id"] for item in listed] == ["NF-1234"]
    assert http.post(url, json={"document": document}, auth=auth).status_code == 422  # public_id taken
    assert http.post(url, json={"document": {"document_type": 7}}, auth=auth).status_code == 422
    doc_url = f"{jumpseller.api_url}/orders/10003/documents/NF-1234.json"
    updated = http.put(doc_url, json={"document": {"url": "https://danfe.example/2"}}, auth=auth)
    assert updated.json()["document"]["url"] == "https://danfe.example/2"
    assert http.delete(doc_url, auth=auth).status_code == 200
    assert http.get(url, auth=auth).json() == []
    assert (
        http.post(
            f"{jumpseller.api_url}/orders/1/documents.json", json={"document": {}}, auth=auth
        ).status_code
        == 404
    )


def test_hooks_crud_and_delivery_to_registered_urls(receiver: WebhookReceiver, http: httpx.Client) -> None:
    with start_fake("jumpseller") as fake:  # no webhook_url: only registered hooks receive
        auth = jumpseller_auth(fake)
        hook = {"event": "order_paid", "url": f"{receiver.url}/registered"}
        created = http.post(f"{fake.api_url}/hooks.json", json={"hook": hook}, auth=auth)
        validate_jumpseller(created.json(), "Hook")
        hook_id = created.json()["hook"]["id"]
        listed = http.get(f"{fake.api_url}/hooks.json", auth=auth).json()
        validate_jumpseller(listed, "Hook", array=True)
        assert (
            http.post(
                f"{fake.api_url}/hooks.json", json={"hook": {"event": "x", "url": "y"}}, auth=auth
            ).status_code
            == 422
        )

        _put_order(http, fake, 10005, {"status": "Paid"})
        received = receiver.wait_for(1)
        assert [(item.path, item.headers["jumpseller-event"]) for item in receiver.settle()] == [
            ("/registered", "order_paid")
        ]
        assert received[0].json["order"]["status"] == "Paid"
        assert [(r.event, r.url is None) for r in fake.webhooks.wait_for(2)] == [
            ("order_paid", False),
            ("order_updated", True),  # no hook and no webhook_url: recorded only
        ]

        moved = http.put(
            f"{fake.api_url}/hooks/{hook_id}.json",
            json={"hook": {"event": "order_canceled", "url": hook["url"]}},
            auth=auth,
        )
        assert moved.json()["hook"]["event"] == "order_canceled"
        assert http.get(f"{fake.api_url}/hooks/{hook_id}.json", auth=auth).json()["hook"]["id"] == hook_id
        assert http.delete(f"{fake.api_url}/hooks/{hook_id}.json", auth=auth).status_code == 200
        missing = http.get(f"{fake.api_url}/hooks/{hook_id}.json", auth=auth)
        assert missing.status_code == 404
        validate_jumpseller(missing.json(), "NotFound")


# ----------------------------------------------------------------- control actions
def test_a_shopper_places_an_order_and_a_human_marks_it_paid(
    jumpseller: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    placed = http.post(
        f"{jumpseller.url}/_sandbox/orders",
        json={
            "customer": "ana",
            "items": [{"sku": "MOCHILA-URBANA", "qty": 2}],
            "payment_method": "boleto",
            "shipping": 20,
        },
    )
    assert placed.status_code == 201
    order = placed.json()["order"]
    validate_jumpseller(placed.json(), "Order")
    assert order["id"] == 10007 and order["total"] == 399.8 and order["status_enum"] == "pending_payment"
    assert order["billing_address"]["taxid"] == "123.456.789-09"

    changed = http.post(f"{jumpseller.url}/_sandbox/orders/10007/status", json={"status": "paid"})
    assert changed.json()["events"] == ["order_paid", "order_updated"]
    events = [item.headers["jumpseller-event"] for item in receiver.wait_for(3)]
    assert events == ["order_pending_payment", "order_paid", "order_updated"]
    assert (
        http.post(f"{jumpseller.url}/_sandbox/orders/10007/status", json={"status": "x"}).status_code == 400
    )
    assert http.post(f"{jumpseller.url}/_sandbox/orders/1/status", json={}).status_code == 404
    assert (
        http.post(f"{jumpseller.url}/_sandbox/orders", json={"items": [{"sku": "NOPE"}]}).status_code == 400
    )


def test_tracking_only_changes_send_order_updated(jumpseller: Fake, http: httpx.Client) -> None:
    answer = http.post(
        f"{jumpseller.url}/_sandbox/orders/10003/status", json={"tracking_url": "https://t.example"}
    )
    assert answer.json()["events"] == ["order_updated"]
    unchanged = http.post(f"{jumpseller.url}/_sandbox/orders/10003/status", json={"status": "Paid"})
    assert unchanged.json()["events"] == []


def test_the_schema_check_is_not_vacuous(jumpseller: Fake) -> None:
    import jsonschema  # type: ignore[import-untyped]

    order = jumpseller.state.orders[10001]
    for broken in (
        {**order, "id": "10001"},
        {**order, "status": "paid"},
        {**order, "billing_address": {**order["billing_address"], "street_number": "100"}},
        {**order, "products": [{"qty": "2"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_jumpseller({"order": broken}, "Order")
