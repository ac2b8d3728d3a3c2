"""VTEX fake: auth, every endpoint validated against VTEX's OpenAPI, the feed's handles and
visibility timeout, OMS003, invoices keyed by number, hooks with custom headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver
from malote_dev.sandbox.tests.vtex_openapi import schema_properties, validate_request, validate_response
from malote_dev.sandbox.vtex import VtexState
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY

Fake = RunningFake[VtexState]
OMS = "/api/oms/pvt/orders"
ONE = f"{OMS}/{{orderId}}"
SEEDED_READY = "1500000010006-01"  # paid, ready-for-handling
SEEDED_INVOICED = "1500000010003-01"


@pytest.fixture
def vtex(receiver: WebhookReceiver) -> Iterator[Fake]:
    with start_fake("vtex", webhook_url=f"{receiver.url}/hooks/vtex") as fake:
        yield fake


def _headers(fake: Fake) -> dict[str, str]:
    return {
        "X-VTEX-API-AppKey": fake.credentials["app_key"],
        "X-VTEX-API-AppToken": fake.credentials["app_token"],
        "Accept": "application/json",
        "Content-Type": "application/json",
    }


def _call(http: httpx.Client, fake: Fake, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return http.request(method, f"{fake.api_url}{path}", headers=_headers(fake), **kwargs)


def _place(http: httpx.Client, fake: Fake, **body: Any) -> dict[str, Any]:
    answer = http.post(f"{fake.url}/_sandbox/orders", json=body)
    assert answer.status_code == 201, answer.text
    order: dict[str, Any] = answer.json()["order"]
    return order


def _set_status(http: httpx.Client, fake: Fake, order_id: str, status: str) -> None:
    answer = http.post(f"{fake.url}/_sandbox/orders/{order_id}/status", json={"status": status})
    assert answer.status_code == 200, answer.text


def _advance(http: httpx.Client, fake: Fake, seconds: int) -> None:
    assert http.post(f"{fake.url}/_sandbox/clock", json={"advance_seconds": seconds}).status_code == 200


def _invoice_body(order: dict[str, Any], number: str = "1234") -> dict[str, Any]:
    return {
        "type": "Output",
        "issuanceDate": "2025-03-10T10:00:00-03:00",
        "invoiceNumber": number,
        "invoiceValue": str(order["value"]),
        "invoiceKey": SAMPLE_NFE_KEY,
        "invoiceUrl": None,
        "embeddedInvoice": "<nfeProc/>",
        "courier": "",
        "trackingNumber": "",
        "trackingUrl": "",
        "dispatchedDate": None,
        "items": [
            {"id": item["id"], "price": item["sellingPrice"], "quantity": item["quantity"]}
            for item in order["items"]
        ],
    }


# ----------------------------------------------------------------- auth
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-VTEX-API-AppKey": "vtexappkey-malotedemo-MALOTE"},
        {"X-VTEX-API-AppKey": "vtexappkey-malotedemo-MALOTE", "X-VTEX-API-AppToken": "WRONG"},
    ],
)
def test_missing_or_wrong_app_key_and_token_get_401(
    vtex: Fake, http: httpx.Client, headers: dict[str, str]
) -> None:
    response = http.get(f"{vtex.api_url}{OMS}/{SEEDED_READY}", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "1", "message": "Unauthorized access", "exception": None}}
    validate_response(response.json(), f"{ONE}/start-handling", "post", 401)


def test_the_account_s_keys_are_accepted_and_another_account_is_refused(
    vtex: Fake, http: httpx.Client
) -> None:
    assert _call(http, vtex, "GET", f"{OMS}/{SEEDED_READY}").status_code == 200
    assert _call(http, vtex, "GET", f"{OMS}/{SEEDED_READY}", params={"an": "malotedemo"}).status_code == 200
    assert _call(http, vtex, "GET", f"{OMS}/{SEEDED_READY}", params={"an": "otherstore"}).status_code == 401
    assert vtex.api_url == vtex.url  # VTEX paths start with /api/ under the account's host


# ----------------------------------------------------------------- reads
@pytest.mark.parametrize(
    "order_id", ["1500000010001-01", "1500000010002-01", SEEDED_INVOICED, "1500000010005-01", SEEDED_READY]
)
def test_every_seeded_order_is_valid_and_complete_against_the_openapi(
    vtex: Fake, http: httpx.Client, order_id: str
) -> None:
    order = _call(http, vtex, "GET", f"{OMS}/{order_id}").json()
    validate_response(order, ONE, "get")
    assert schema_properties(ONE, "get") <= set(order)
    totals = {total["id"]: total["value"] for total in order["totals"]}
    assert order["value"] == totals["Items"] + totals["Discounts"] + totals["Shipping"] + totals["Tax"]


def test_the_demo_story_in_cents(vtex: Fake, http: httpx.Client) -> None:
    shipped = _call(http, vtex, "GET", f"{OMS}/{SEEDED_INVOICED}").json()
    # Jumpseller's 10003: 2 × 49.90 + 34.90 + 15.00 shipping = 149.70
    assert shipped["value"] == 14970 and shipped["status"] == "invoiced"
    assert [(item["refId"], item["price"], item["quantity"]) for item in shipped["items"]] == [
        ("CHINELO-42", 4990, 2),
        ("MEIAS-KIT-3", 3490, 1),
    ]
    [package] = shipped["packageAttachment"]["packages"]
    assert package["trackingNumber"].endswith("BR") and package["courier"] == "Correios"
    assert shipped["clientProfileData"]["document"] == "529.982.247-25"
    assert shipped["shippingData"]["address"]["state"] == "SP"
    ready = _call(http, vtex, "GET", f"{OMS}/{SEEDED_READY}").json()
    assert (ready["status"], ready["statusDescription"]) == ("ready-for-handling", "Pronto para o manuseio")
    assert ready["authorizedDate"] is not None


def test_an_unknown_order_is_404(vtex: Fake, http: httpx.Client) -> None:
    response = _call(http, vtex, "GET", f"{OMS}/999-01")
    assert response.status_code == 404 and response.json()["error"]["code"] == "404"


def test_the_list_envelope_paging_filters_and_order(vtex: Fake, http: httpx.Client) -> None:
    answer = _call(http, vtex, "GET", OMS, params={"per_page": 2, "page": 2}).json()
    validate_response(answer, OMS, "get")
    assert answer["paging"] == {"total": 5, "pages": 3, "currentPage": 2, "perPage": 2}
    assert [row["orderId"] for row in answer["list"]] == [SEEDED_INVOICED, "1500000010002-01"]  # newest first
    assert answer["list"][0]["items"] is None and answer["list"][0]["totalValue"] == 14970
    oldest_first = _call(http, vtex, "GET", OMS, params={"orderBy": "creationDate,asc"}).json()
    assert [row["orderId"][8:13] for row in oldest_first["list"]] == [
        "10001",
        "10002",
        "10003",
        "10005",
        "10006",
    ]
    ready = _call(http, vtex, "GET", OMS, params={"f_status": "ready-for-handling,payment-pending"}).json()
    assert {row["status"] for row in ready["list"]} == {"ready-for-handling", "payment-pending"}
    created = oldest_first["list"][3]["creationDate"]
    since = _call(
        http,
        vtex,
        "GET",
        OMS,
        params={"f_creationDate": f"creationDate:[{created} TO 2200-01-01T00:00:00.000Z]"},
    ).json()
    assert since["paging"]["total"] == 2
    bad = _call(http, vtex, "GET", OMS, params={"f_creationDate": "yesterday"})
    assert bad.status_code == 400


# ----------------------------------------------------------------- start-handling
def test_start_handling_answers_204_then_409_oms003(vtex: Fake, http: httpx.Client) -> None:
    first = _call(http, vtex, "POST", f"{OMS}/{SEEDED_READY}/start-handling")
    assert first.status_code == 204 and first.content == b""
    assert vtex.state.orders[SEEDED_READY]["status"] == "handling"
    again = _call(http, vtex, "POST", f"{OMS}/{SEEDED_READY}/start-handling")
    assert again.status_code == 409
    assert again.json() == {
        "error": {
            "code": "OMS003",
            "message": "Order status should be ready-for-handling to perform this action",
            "exception": None,
        }
    }
    validate_response(again.json(), f"{ONE}/start-handling", "post", 409)


def test_an_order_in_its_cancellation_window_is_not_ready_until_the_window_closes(
    vtex: Fake, http: httpx.Client
) -> None:
    order = _place(http, vtex, status="window-to-cancel")
    assert _call(http, vtex, "POST", f"{OMS}/{order['orderId']}/start-handling").status_code == 409
    _set_status(http, vtex, order["orderId"], "ready-for-handling")
    assert _call(http, vtex, "POST", f"{OMS}/{order['orderId']}/start-handling").status_code == 204


# ----------------------------------------------------------------- invoices, tracking, cancel
def test_an_invoice_is_keyed_by_number_and_a_repeat_only_gets_a_new_receipt(
    vtex: Fake, http: httpx.Client
) -> None:
    order = _place(http, vtex, items=[{"sku": "CHINELO-42", "qty": 2}])
    path = f"{OMS}/{order['orderId']}"
    body = _invoice_body(order)
    validate_request(body, f"{ONE}/invoice", "post")
    early = _call(http, vtex, "POST", f"{path}/invoice", json=body)
    assert early.status_code == 409  # not handling yet
    assert _call(http, vtex, "POST", f"{path}/start-handling").status_code == 204
    receipts = []
    for _ in range(2):
        answer = _call(http, vtex, "POST", f"{path}/invoice", json=body)
        assert answer.status_code == 200, answer.text
        validate_response(answer.json(), f"{ONE}/invoice", "post")
        assert answer.json()["orderId"] == order["orderId"]
        receipts.append(answer.json()["receipt"])
    assert receipts[0] != receipts[1]
    stored = _call(http, vtex, "GET", path).json()
    validate_response(stored, ONE, "get")
    [package] = stored["packageAttachment"]["packages"]
    assert (package["invoiceNumber"], package["invoiceKey"], package["invoiceValue"]) == (
        "1234",
        SAMPLE_NFE_KEY,
        11480,
    )
    assert package["embeddedInvoice"] == "<nfeProc/>"
    assert stored["status"] == "invoiced" and stored["invoicedDate"] is not None


def test_a_partial_invoice_leaves_the_order_in_handling(vtex: Fake, http: httpx.Client) -> None:
    order = _place(http, vtex)
    path = f"{OMS}/{order['orderId']}"
    _call(http, vtex, "POST", f"{path}/start-handling")
    body = {**_invoice_body(order), "invoiceValue": "100"}
    assert _call(http, vtex, "POST", f"{path}/invoice", json=body).status_code == 200
    assert vtex.state.orders[order["orderId"]]["status"] == "handling"


@pytest.mark.parametrize("missing", ["type", "issuanceDate", "invoiceNumber", "invoiceValue", "items"])
def test_an_invoice_without_a_required_field_is_400(vtex: Fake, http: httpx.Client, missing: str) -> None:
    order = vtex.state.orders[SEEDED_READY]
    _call(http, vtex, "POST", f"{OMS}/{SEEDED_READY}/start-handling")
    body = {k: v for k, v in _invoice_body(order).items() if k != missing}
    answer = _call(http, vtex, "POST", f"{OMS}/{SEEDED_READY}/invoice", json=body)
    assert answer.status_code == 400 and missing in answer.json()["error"]["message"]


def test_tracking_and_delivery_by_invoice_number(vtex: Fake, http: httpx.Client) -> None:
    order = _place(http, vtex)
    path = f"{OMS}/{order['orderId']}"
    _call(http, vtex, "POST", f"{path}/start-handling")
    _call(http, vtex, "POST", f"{path}/invoice", json=_invoice_body(order, "77"))
    tracking = {
        "trackingNumber": "AA123456785BR",
        "trackingUrl": "https://rastreamento.correios.com.br/app/index.php?objetos=AA123456785BR",
        "courier": "Correios",
        "dispatchedDate": "2025-03-11T10:00:00-03:00",
    }
    validate_request(tracking, f"{ONE}/invoice/{{invoiceNumber}}", "patch")
    patched = _call(http, vtex, "PATCH", f"{path}/invoice/77", json=tracking)
    assert patched.status_code == 200
    validate_response(patched.json(), f"{ONE}/invoice/{{invoiceNumber}}", "patch")
    delivered = {"isDelivered": True, "deliveredDate": "2025-03-13 14:00", "events": []}
    validate_request(delivered, f"{ONE}/invoice/{{invoiceNumber}}/tracking", "put")
    answer = _call(http, vtex, "PUT", f"{path}/invoice/77/tracking", json=delivered)
    assert answer.status_code == 200
    validate_response(answer.json(), f"{ONE}/invoice/{{invoiceNumber}}/tracking", "put")
    stored = _call(http, vtex, "GET", path).json()
    validate_response(stored, ONE, "get")
    [package] = stored["packageAttachment"]["packages"]
    assert package["trackingNumber"] == "AA123456785BR" and package["courier"] == "Correios"
    assert package["courierStatus"]["finished"] is True
    assert package["courierStatus"]["deliveredDate"] == "2025-03-13 14:00"
    assert stored["status"] == "invoiced"  # VTEX keeps invoiced while tracking moves
    assert _call(http, vtex, "PATCH", f"{path}/invoice/78", json=tracking).status_code == 404


def test_cancel_gives_a_receipt_and_an_invoiced_order_cannot_be_canceled(
    vtex: Fake, http: httpx.Client
) -> None:
    order = _place(http, vtex)
    path = f"{OMS}/{order['orderId']}"
    answer = _call(http, vtex, "POST", f"{path}/cancel", json={"reason": "Sem estoque"})
    assert answer.status_code == 200
    validate_response(answer.json(), f"{ONE}/cancel", "post")
    stored = _call(http, vtex, "GET", path).json()
    validate_response(stored, ONE, "get")
    assert (stored["status"], stored["cancelReason"]) == ("canceled", "Sem estoque")
    assert _call(http, vtex, "POST", f"{path}/cancel", json={"reason": "again"}).status_code == 200
    refused = _call(http, vtex, "POST", f"{OMS}/{SEEDED_INVOICED}/cancel", json={"reason": "x"})
    assert refused.status_code == 400
    assert vtex.state.orders[SEEDED_INVOICED]["status"] == "invoiced"


# ----------------------------------------------------------------- feed v3
def test_a_fresh_store_has_an_empty_feed_and_each_status_change_enters_it(
    vtex: Fake, http: httpx.Client
) -> None:
    assert _call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 10}).json() == []
    order = _place(http, vtex)
    items = _call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 10}).json()
    validate_response(items, "/api/orders/feed", "get")
    assert [(item["state"], item["lastState"]) for item in items] == [
        ("payment-pending", "order-created"),
        ("payment-approved", "payment-pending"),
        ("ready-for-handling", "window-to-cancel"),
    ]  # window-to-cancel is not in the seeded filter
    assert {item["orderId"] for item in items} == {order["orderId"]}
    assert {item["domain"] for item in items} == {"Fulfillment"}
    assert len({item["handle"] for item in items}) == 3


def test_read_items_are_invisible_committed_ones_are_gone_and_the_rest_come_back(
    vtex: Fake, http: httpx.Client
) -> None:
    _place(http, vtex, status="payment-approved")  # two items
    feed = "/api/orders/feed"
    first = _call(http, vtex, "GET", feed, params={"maxlot": 10}).json()
    assert len(first) == 2
    assert _call(http, vtex, "GET", feed, params={"maxlot": 10}).json() == []  # invisible now
    commit = _call(http, vtex, "POST", feed, json={"handles": [first[0]["handle"]]})
    assert commit.status_code == 200 and commit.content == b""  # the spec declares no body
    # The fake's clock is real time plus an offset: leave a margin a slow, loaded machine cannot eat.
    _advance(http, vtex, 240)
    assert _call(http, vtex, "GET", feed, params={"maxlot": 10}).json() == []
    _advance(http, vtex, 11)  # past the 250 s visibility timeout
    again = _call(http, vtex, "GET", feed, params={"maxlot": 10}).json()
    assert [item["eventId"] for item in again] == [first[1]["eventId"]]
    assert again[0]["handle"] != first[1]["handle"]
    _call(http, vtex, "POST", feed, json={"handles": [first[1]["handle"]]})  # outdated handle: nothing
    _advance(http, vtex, 251)
    third = _call(http, vtex, "GET", feed, params={"maxlot": 10}).json()
    assert [item["eventId"] for item in third] == [first[1]["eventId"]]
    _call(http, vtex, "POST", feed, json={"handles": [third[0]["handle"]]})
    _advance(http, vtex, 251)
    assert _call(http, vtex, "GET", feed, params={"maxlot": 10}).json() == []


def test_maxlot_caps_a_reading(vtex: Fake, http: httpx.Client) -> None:
    for _ in range(4):
        _place(http, vtex)  # 3 items each
    assert len(_call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 10}).json()) == 10
    assert len(_call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 5}).json()) == 2
    for bad in ("11", "0", "many"):
        assert _call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": bad}).status_code == 400
    assert _call(http, vtex, "GET", "/api/orders/feed").status_code == 400


def test_without_a_feed_config_the_feed_is_404_until_one_is_saved(vtex: Fake, http: httpx.Client) -> None:
    assert _call(http, vtex, "DELETE", "/api/orders/feed/config").status_code == 200
    assert _call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 1}).status_code == 404
    assert _call(http, vtex, "GET", "/api/orders/feed/config").status_code == 404
    config = {
        "filter": {"type": "FromWorkflow", "status": ["ready-for-handling"]},
        "queue": {"visibilityTimeoutInSeconds": 60, "MessageRetentionPeriodInSeconds": 345600},
    }
    validate_request(config, "/api/orders/feed/config", "post")
    assert _call(http, vtex, "POST", "/api/orders/feed/config", json=config).status_code == 200
    stored = _call(http, vtex, "GET", "/api/orders/feed/config").json()
    validate_response(stored, "/api/orders/feed/config", "get")
    assert stored["queue"]["visibilityTimeoutInSeconds"] == 60 and stored["quantity"] == 0
    _place(http, vtex)
    _advance(http, vtex, 30)
    counted = _call(http, vtex, "GET", "/api/orders/feed/config").json()
    # The fake's clock is real time to the whole second plus the advance: a second boundary may fall
    # between placing the order and reading the config.
    assert counted["quantity"] == 1
    assert 30.0 <= counted["approximateAgeOfOldestMessageInSeconds"] <= 32.0
    items = _call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 10}).json()
    assert [item["state"] for item in items] == ["ready-for-handling"]
    _advance(http, vtex, 61)
    assert len(_call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 10}).json()) == 1
    bad = {"filter": {"type": "FromWorkflow", "status": []}}
    assert _call(http, vtex, "POST", "/api/orders/feed/config", json=bad).status_code == 400


# ----------------------------------------------------------------- hooks
def test_status_changes_are_hooked_with_the_default_secret_header(
    vtex: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    order = _place(http, vtex)
    received = receiver.wait_for(3)
    assert [hook.json["State"] for hook in received] == [
        "payment-pending",
        "payment-approved",
        "ready-for-handling",
    ]
    for hook in received:
        validate_response(hook.json, "/api/orders/hook/config", "post")
        assert hook.json["OrderId"] == order["orderId"]
        assert hook.json["Origin"] == {"Account": "malotedemo", "Key": vtex.credentials["app_key"]}
        assert hook.headers["x-malote-hook-secret"] == vtex.credentials["hook_secret"]


def test_a_hook_config_pings_and_then_sends_its_own_headers(
    vtex: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    config = {
        "filter": {"type": "FromWorkflow", "status": ["handling"]},
        "hook": {"url": f"{receiver.url}/hooks/vtex-b", "headers": {"X-Shop-Secret": "s3cr3t"}},
    }
    # (Not validated as a request: the vendor's ``Headers`` schema requires a header named "key",
    # its example's placeholder.)
    answer = _call(http, vtex, "POST", "/api/orders/hook/config", json=config)
    assert answer.status_code == 200
    validate_response(answer.json(), "/api/orders/hook/config", "post")
    [ping] = receiver.wait_for(1)
    assert ping.json == {"hookConfig": "ping"} and ping.headers["x-shop-secret"] == "s3cr3t"
    assert ping.path == "/hooks/vtex-b"
    _call(http, vtex, "POST", f"{OMS}/{SEEDED_READY}/start-handling")
    received = receiver.wait_for(2)
    assert [hook.json.get("State") for hook in received] == [None, "handling"]
    assert "x-malote-hook-secret" not in received[1].headers
    assert _call(http, vtex, "GET", "/api/orders/hook/config").json()["hook"]["headers"] == {
        "X-Shop-Secret": "s3cr3t"
    }
    assert http.post(f"{vtex.url}/_sandbox/orders/{SEEDED_READY}/hook").status_code == 200
    assert receiver.wait_for(3)[2].json["State"] == "handling"


def test_the_seed_announces_nothing(vtex: Fake, receiver: WebhookReceiver) -> None:
    assert vtex.wait_for_webhooks(2.0)
    assert list(vtex.webhooks) == [] and vtex.state.feed == []


# ----------------------------------------------------------------- faults and control
def test_common_faults_apply_to_the_vtex_paths(vtex: Fake, http: httpx.Client) -> None:
    vtex.faults.set("error_5xx", status=503, path_prefix="/api/orders/feed")
    assert _call(http, vtex, "GET", "/api/orders/feed", params={"maxlot": 1}).status_code == 503
    vtex.faults.set("rate_limit", retry_after=7)
    limited = _call(http, vtex, "GET", f"{OMS}/{SEEDED_READY}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert _call(http, vtex, "GET", f"{OMS}/{SEEDED_READY}").status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"payment_method": "cheque"}, {"status": "invoiced"}, {"items": []}, {"items": [{"sku": "NOPE"}]}],
)
def test_the_control_api_refuses_bad_checkouts(vtex: Fake, http: httpx.Client, body: dict[str, Any]) -> None:
    assert http.post(f"{vtex.url}/_sandbox/orders", json=body).status_code == 400


def test_a_reset_brings_the_seed_back(vtex: Fake, http: httpx.Client) -> None:
    _place(http, vtex)
    vtex.reset()
    assert len(vtex.state.orders) == 5 and vtex.state.feed == []
