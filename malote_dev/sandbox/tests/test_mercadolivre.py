"""Mercado Livre fake: OAuth tokens, order search, shipments, the NF-e upload rules, ME1 seller
notifications, notifications to the webhook URL, the seed and the common faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.clock import BRASILIA, parse_iso, utc_now
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key

Fake = RunningFake[Any]
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def ml(receiver: WebhookReceiver) -> Iterator[Fake]:
    with start_fake("mercadolivre", seed=False, webhook_url=f"{receiver.url}/hooks/mercadolivre") as fake:
        yield fake


def _auth(fake: Fake, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or fake.credentials['access_token']}", "x-format-new": "true"}


def _get(http: httpx.Client, fake: Fake, path: str, **params: Any) -> httpx.Response:
    return http.get(f"{fake.api_url}{path}", params=params, headers=_auth(fake))


def _buy(http: httpx.Client, fake: Fake, **body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    answer = http.post(f"{fake.url}/_sandbox/orders", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["order"], answer.json()["shipment"]


def _nfe(order: dict[str, Any], *, number: int = 1234, cpf: str = "52998224725", **kwargs: Any) -> str:
    now = utc_now().astimezone(BRASILIA)
    key = make_nfe_key(number, year=now.year, month=now.month)
    defaults: dict[str, Any] = {
        "total": Decimal(str(order["paid_amount"])),
        "recipient_cpf": cpf,
        "issued_at": now,
    }
    return build_nfe_xml(key, **{**defaults, **kwargs})


def _upload(http: httpx.Client, fake: Fake, shipment_id: int, xml: str, site: str = "MLB") -> httpx.Response:
    return http.post(
        f"{fake.api_url}/shipments/{shipment_id}/invoice_data/",
        params={"siteId": site},
        content=xml.encode(),
        headers={**_auth(fake), **XML},
    )


# ----------------------------------------------------------------- OAuth
@pytest.mark.parametrize("header", [None, "Bearer APP_USR-wrong", "Basic eDp5"])
def test_only_a_valid_bearer_token_gets_in(ml: Fake, http: httpx.Client, header: str | None) -> None:
    response = http.get(f"{ml.api_url}/orders/1", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json() == {
        "message": "invalid access token",
        "error": "not_found",
        "status": 401,
        "cause": [],
    }


def test_a_refresh_gives_a_new_pair_and_the_old_refresh_token_is_spent(ml: Fake, http: httpx.Client) -> None:
    http.post(f"{ml.url}/_sandbox/tokens/expire")
    assert _get(http, ml, "/orders/1").status_code == 401
    form = {
        "grant_type": "refresh_token",
        "client_id": ml.credentials["client_id"],
        "client_secret": ml.credentials["client_secret"],
        "refresh_token": ml.credentials["refresh_token"],
    }
    answer = http.post(f"{ml.api_url}/oauth/token", data=form)
    assert answer.status_code == 200
    tokens = answer.json()
    assert (tokens["token_type"], tokens["expires_in"], tokens["user_id"]) == ("bearer", 21600, 468424240)
    assert tokens["access_token"].startswith("APP_USR-") and tokens["refresh_token"].startswith("TG-")
    fresh = http.get(f"{ml.api_url}/orders/1", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert fresh.status_code == 404  # authenticated; the order does not exist
    again = http.post(f"{ml.api_url}/oauth/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "change",
    [{"client_secret": "wrong"}, {"client_id": "1"}, {"refresh_token": "TG-x"}, {"grant_type": "password"}],
)
def test_a_bad_refresh_request_is_400(ml: Fake, http: httpx.Client, change: dict[str, str]) -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": ml.credentials["client_id"],
        "client_secret": ml.credentials["client_secret"],
        "refresh_token": ml.credentials["refresh_token"],
        **change,
    }
    answer = http.post(f"{ml.api_url}/oauth/token", data=form)
    assert answer.status_code == 400 and answer.json()["error"] in ("invalid_grant", "unsupported_grant_type")


# ----------------------------------------------------------------- orders and search
def test_an_order_has_the_reference_fields(ml: Fake, http: httpx.Client) -> None:
    placed, shipment = _buy(http, ml, items=[{"sku": "CHINELO-42", "qty": 2}], payment_method="credit_card")
    order = _get(http, ml, f"/orders/{placed['id']}").json()
    assert order == placed
    assert {"id", "pack_id", "date_created", "date_closed", "last_updated", "status", "status_detail", "tags",
            "order_items", "total_amount", "paid_amount", "currency_id", "buyer", "seller", "payments",
            "shipping"} <= set(order)  # fmt: skip
    assert (order["status"], order["total_amount"], order["paid_amount"]) == ("paid", 99.8, 114.8)
    assert order["shipping"] == {"id": shipment["id"]} and order["seller"] == {"id": 468424240}
    [line] = order["order_items"]
    assert line["item"]["seller_sku"] == "CHINELO-42" and line["item"]["id"].startswith("MLB")
    [payment] = order["payments"]
    assert (payment["status"], payment["payment_type"], payment["shipping_cost"]) == (
        "approved",
        "credit_card",
        15.0,
    )
    assert parse_iso(order["date_created"]).utcoffset() == timedelta(hours=-3)
    assert _get(http, ml, f"/orders/{placed['id']}/shipments").json() == [
        {"id": shipment["id"], "type": "forward"}
    ]
    assert _get(http, ml, "/orders/999").status_code == 404


def test_search_pages_filters_and_hides_cancelled_orders(ml: Fake, http: httpx.Client) -> None:
    ids = [_buy(http, ml)[0]["id"] for _ in range(5)]
    http.post(f"{ml.url}/_sandbox/orders/{ids[1]}/cancel")
    seller = ml.credentials["user_id"]
    page = _get(http, ml, "/orders/search", seller=seller, sort="date_asc", offset=1, limit=2).json()
    assert page["paging"] == {"total": 4, "offset": 1, "limit": 2}
    assert [order["id"] for order in page["results"]] == [ids[2], ids[3]]
    assert {"query", "results", "sort", "available_sorts", "filters", "paging", "display"} <= set(page)
    newest_first = _get(http, ml, "/orders/search", seller=seller, sort="date_desc").json()
    assert [order["id"] for order in newest_first["results"]] == [ids[4], ids[3], ids[2], ids[0]]
    cancelled = _get(http, ml, "/orders/search", seller=seller, **{"order.status": "cancelled"}).json()
    assert [order["id"] for order in cancelled["results"]] == [ids[1]]
    later = ml.state.orders[ids[4]]["last_updated"]
    changed = _get(
        http, ml, "/orders/search", seller=seller, **{"order.date_last_updated.from": later}
    ).json()
    assert ids[4] in [order["id"] for order in changed["results"]] and ids[0] not in [
        order["id"] for order in changed["results"]
    ]


@pytest.mark.parametrize(("params", "status"), [({"seller": "123"}, 403), ({}, 400), ({"seller": "x"}, 400)])
def test_search_needs_the_tokens_seller(
    ml: Fake, http: httpx.Client, params: dict[str, str], status: int
) -> None:
    assert _get(http, ml, "/orders/search", **params).status_code == status


# ----------------------------------------------------------------- shipments
def test_a_shipment_needs_the_new_format_header_and_has_the_buyers_address(
    ml: Fake, http: httpx.Client
) -> None:
    _order, shipment = _buy(http, ml, customer="joao")
    old = http.get(
        f"{ml.api_url}/shipments/{shipment['id']}", headers={"Authorization": _auth(ml)["Authorization"]}
    )
    assert old.status_code == 400
    current = _get(http, ml, f"/shipments/{shipment['id']}").json()
    assert (current["status"], current["substatus"], current["logistic"]["mode"]) == (
        "ready_to_ship",
        "invoice_pending",
        "me2",
    )
    address = current["destination"]["shipping_address"]
    assert (address["street_name"], address["zip_code"], address["state"]["id"]) == (
        "Avenida Rio Branco",
        "20040003",
        "BR-RJ",
    )
    billing = _get(http, ml, f"/shipments/{shipment['id']}/billing_info").json()
    assert billing["receiver"]["document"] == {"id": "CPF", "value": "11144477735"}


@pytest.mark.parametrize(
    ("body", "status", "substatus"),
    [
        ({"paid": False}, "pending", None),
        ({"logistic_type": "self_service"}, "ready_to_ship", "ready_to_print"),
        ({"mode": "me1"}, "handling", None),
        ({"logistic_type": "cross_docking"}, "ready_to_ship", "invoice_pending"),
    ],
)
def test_the_shipment_state_after_the_sale(
    ml: Fake, http: httpx.Client, body: dict[str, Any], status: str, substatus: str | None
) -> None:
    _order, shipment = _buy(http, ml, **body)
    assert (shipment["status"], shipment["substatus"]) == (status, substatus)


# ----------------------------------------------------------------- NF-e upload
def test_the_nfe_is_taken_while_the_shipment_waits_and_unlocks_the_label(
    ml: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    order, shipment = _buy(http, ml)
    xml = _nfe(order)
    assert _get(http, ml, f"/shipments/{shipment['id']}/invoice_data", siteId="MLB").status_code == 404
    answer = _upload(http, ml, shipment["id"], xml)
    assert answer.status_code == 201
    stored = _get(http, ml, f"/shipments/{shipment['id']}/invoice_data", siteId="MLB").json()
    assert stored == answer.json()
    assert (stored["status"], stored["invoice_amount"], stored["shipment_id"]) == (
        "approved",
        114.8,
        shipment["id"],
    )
    assert stored["fiscal_key"] in xml and ml.state.invoices[shipment["id"]]["_xml"] == xml
    assert _get(http, ml, f"/shipments/{shipment['id']}").json()["substatus"] == "ready_to_print"
    assert ml.wait_for_webhooks()
    assert ml.webhooks.events()[-1] == "shipments"
    again = _upload(http, ml, shipment["id"], xml)
    assert again.status_code == 400 and again.json()["error_code"] == "shipment_invoice_already_saved"


def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["status"], body["cause"]) == ("bad_request", 400, [])
    return str(body["error_code"])


@pytest.mark.parametrize(
    ("xml_args", "code"),
    [
        ({"cpf": "11144477735"}, "wrong_receiver_cpf"),
        ({"total": Decimal("100.00")}, "nfe_order_value_divergence"),
        ({"c_stat": "110"}, "invalid_nfe_cstat"),
        ({"environment": "2"}, "invalid_nfe_xml"),
        ({"proc": False}, "invalid_nfe_xml"),
    ],
)
def test_an_nfe_ml_would_refuse_is_refused(
    ml: Fake, http: httpx.Client, xml_args: dict[str, Any], code: str
) -> None:
    order, shipment = _buy(http, ml)
    assert _refusal(_upload(http, ml, shipment["id"], _nfe(order, **xml_args))) == code
    assert shipment["id"] not in ml.state.invoices


def test_upload_refusals_of_site_state_date_and_duplicates(ml: Fake, http: httpx.Client) -> None:
    order, shipment = _buy(http, ml)
    assert (
        _refusal(_upload(http, ml, shipment["id"], _nfe(order), site="MLA"))
        == "invalid_operation_for_site_id"
    )
    old = _nfe(order, issued_at=utc_now().astimezone(BRASILIA) - timedelta(days=40), number=9)
    assert _refusal(_upload(http, ml, shipment["id"], old)) == "wrong_invoice_date"
    unpaid, unpaid_shipment = _buy(http, ml, paid=False)
    assert _refusal(_upload(http, ml, unpaid_shipment["id"], _nfe(unpaid))) == "invalid_shipment_status"
    assert _upload(http, ml, shipment["id"], _nfe(order, number=7)).status_code == 201
    other, other_shipment = _buy(http, ml)
    assert _refusal(_upload(http, ml, other_shipment["id"], _nfe(other, number=7))) == "duplicated_fiscal_key"
    plain = http.post(
        f"{ml.api_url}/shipments/{other_shipment['id']}/invoice_data",
        params={"siteId": "MLB"},
        json={"xml": "no"},
        headers=_auth(ml),
    )
    assert _refusal(plain) == "invalid_content_type"


# ----------------------------------------------------------------- ME1
def test_me1_tracking_and_seller_notifications(ml: Fake, http: httpx.Client) -> None:
    _order, shipment = _buy(http, ml, mode="me1")
    base = f"{ml.api_url}/shipments/{shipment['id']}"
    put = http.put(base, json={"service_id": 11, "tracking_number": "AA123456785BR"}, headers=_auth(ml))
    assert put.status_code == 200 and put.json()["tracking_number"] == "AA123456785BR"
    body = {
        "payload": {"service_id": 11, "comment": "", "date": "2026-11-20T10:00:00-03:00"},
        "status": "shipped",
    }
    assert http.post(f"{base}/seller_notifications", json=body, headers=_auth(ml)).json() == {"status": "OK"}
    delivered = http.post(
        f"{base}/seller_notifications", json={**body, "status": "delivered"}, headers=_auth(ml)
    )
    assert delivered.status_code == 200
    current = ml.state.shipments[shipment["id"]]
    assert current["status"] == "delivered" and current["status_history"]["date_delivered"] is not None
    bad = http.post(f"{base}/seller_notifications", json={**body, "status": "lost"}, headers=_auth(ml))
    assert bad.status_code == 400


def test_me2_shipments_refuse_seller_writes(ml: Fake, http: httpx.Client) -> None:
    _order, shipment = _buy(http, ml)
    put = http.put(
        f"{ml.api_url}/shipments/{shipment['id']}", json={"tracking_number": "X"}, headers=_auth(ml)
    )
    assert put.status_code == 400 and "only ME1" in put.json()["message"]


# ----------------------------------------------------------------- notifications
def test_notifications_are_unsigned_hints_per_topic(
    ml: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    order, shipment = _buy(http, ml, paid=False)
    http.post(f"{ml.url}/_sandbox/orders/{order['id']}/pay")
    moved = http.post(f"{ml.url}/_sandbox/shipments/{shipment['id']}/status", json={"status": "shipped"})
    assert moved.json()["notifications"] == [f"shipments /shipments/{shipment['id']}"]
    received = receiver.wait_for(4)
    assert [(r.json["topic"], r.json["resource"]) for r in received] == [
        ("orders_v2", f"/orders/{order['id']}"),
        ("orders_v2", f"/orders/{order['id']}"),
        ("shipments", f"/shipments/{shipment['id']}"),
        ("shipments", f"/shipments/{shipment['id']}"),
    ]
    first = received[0]
    assert set(first.json) == {
        "_id",
        "resource",
        "user_id",
        "topic",
        "application_id",
        "attempts",
        "sent",
        "received",
    }
    assert (first.json["user_id"], first.json["application_id"]) == (468424240, 5503910054141466)
    assert first.path == "/hooks/mercadolivre" and not any("signature" in name for name in first.headers)


def test_webhook_faults_apply(ml: Fake, http: httpx.Client, receiver: WebhookReceiver) -> None:
    ml.faults.set("webhook_duplicate")
    order, _shipment = _buy(http, ml, paid=False)
    received = receiver.wait_for(2)
    assert len(received) == 2 and received[0].body == received[1].body
    assert received[0].json["resource"] == f"/orders/{order['id']}"


# ----------------------------------------------------------------- control
def test_cancelling_by_hand_and_too_late(ml: Fake, http: httpx.Client) -> None:
    order, shipment = _buy(http, ml)
    cancelled = http.post(f"{ml.url}/_sandbox/orders/{order['id']}/cancel").json()
    assert (cancelled["order"]["status"], cancelled["shipment"]["status"]) == ("cancelled", "cancelled")
    assert cancelled["order"]["payments"][0]["status"] == "refunded"
    shipped, shipped_shipment = _buy(http, ml)
    http.post(f"{ml.url}/_sandbox/shipments/{shipped_shipment['id']}/status", json={"status": "shipped"})
    late = http.post(f"{ml.url}/_sandbox/orders/{shipped['id']}/cancel")
    assert late.status_code == 409
    bad = http.post(f"{ml.url}/_sandbox/shipments/{shipment['id']}/status", json={"status": "lost"})
    assert bad.status_code == 409


# ----------------------------------------------------------------- seed and faults
def test_the_seed_tells_the_demo_story_in_the_past(http: httpx.Client) -> None:
    with start_fake("mercadolivre") as fake:
        orders = sorted(fake.state.orders.values(), key=lambda order: order["id"])
        shipments = [fake.state.shipments[order["shipping"]["id"]] for order in orders]
        assert [order["status"] for order in orders] == [
            "paid",
            "cancelled",
            "paid",
            "payment_required",
            "paid",
        ]
        assert [(s["status"], s["substatus"], s["logistic"]["mode"]) for s in shipments] == [
            ("delivered", None, "me2"),
            ("cancelled", None, "me2"),
            ("shipped", None, "me1"),
            ("pending", None, "me2"),
            ("ready_to_ship", "invoice_pending", "me2"),
        ]
        assert all(parse_iso(order["last_updated"]) < utc_now() - timedelta(hours=3) for order in orders)
        assert fake.webhooks.events() == []  # the seed is history
        assert shipments[0]["tracking_number"] and shipments[0]["tracking_number"].endswith("BR")


@pytest.mark.parametrize(
    ("fault", "params", "status"),
    [("error_5xx", {"status": 503}, 503), ("rate_limit", {"retry_after": 4}, 429)],
)
def test_api_faults_answer_like_ml(
    ml: Fake, http: httpx.Client, fault: str, params: dict[str, Any], status: int
) -> None:
    ml.faults.set(fault, **params)
    response = _get(http, ml, "/orders/search", seller=ml.credentials["user_id"])
    assert response.status_code == status and response.json()["status"] == status
    if status == 429:
        assert response.headers["Retry-After"] == "4"
    assert _get(http, ml, "/orders/search", seller=ml.credentials["user_id"]).status_code == 200


def test_an_order_status_set_by_hand_is_notified(ml: Fake, http: httpx.Client) -> None:
    order, _shipment = _buy(http, ml)
    answer = http.post(
        f"{ml.url}/_sandbox/orders/{order['id']}/status", json={"status": "partially_refunded"}
    )
    assert answer.status_code == 200
    assert answer.json()["notifications"] == [f"orders_v2 /orders/{order['id']}"]
    assert _get(http, ml, f"/orders/{order['id']}").json()["status"] == "partially_refunded"
    refused = http.post(f"{ml.url}/_sandbox/orders/{order['id']}/status", json={"status": "lost"})
    assert refused.status_code == 400


# --- listings and stock ---------------------------------------------------------------------------


def _item(http: httpx.Client, fake: Fake, **body: Any) -> dict[str, Any]:
    answer = http.post(
        f"{fake.api_url}/items", json={"title": "Chinelo", "price": 49.9, **body}, headers=_auth(fake)
    )
    assert answer.status_code == 201, answer.text
    item: dict[str, Any] = answer.json()
    return item


def _put(http: httpx.Client, fake: Fake, item_id: str, body: dict[str, Any]) -> httpx.Response:
    return http.put(f"{fake.api_url}/items/{item_id}", json=body, headers=_auth(fake))


def test_a_listing_is_found_by_seller_sku_and_paused_at_zero(ml: Fake, http: httpx.Client) -> None:
    item = _item(http, ml, available_quantity=2, seller_custom_field="CHINELO-42")
    _item(http, ml, available_quantity=2, seller_custom_field="CANECA-CERAMICA")
    user = ml.credentials["user_id"]
    found = _get(http, ml, f"/users/{user}/items/search", seller_sku="CHINELO-42").json()
    assert found["results"] == [item["id"]] and found["paging"]["total"] == 1
    assert _get(http, ml, "/users/1/items/search", seller_sku="CHINELO-42").status_code == 403

    paused = _put(http, ml, item["id"], {"available_quantity": 0}).json()
    assert (paused["available_quantity"], paused["status"], paused["sub_status"]) == (
        0,
        "paused",
        ["out_of_stock"],
    )
    active = _put(http, ml, item["id"], {"available_quantity": 3}).json()
    assert (active["status"], active["sub_status"]) == ("active", [])
    refused = _put(http, ml, item["id"], {"available_quantity": -1})
    assert (
        refused.status_code == 400
        and _get(http, ml, f"/items/{item['id']}").json()["available_quantity"] == 3
    )
    assert _get(http, ml, "/items/MLB1").status_code == 404


def test_variations_left_out_of_a_put_are_deleted(ml: Fake, http: httpx.Client) -> None:
    item = _item(
        http,
        ml,
        variations=[
            {"available_quantity": 4, "attributes": [{"id": "SELLER_SKU", "value_name": "CHINELO-42"}]},
            {"available_quantity": 3, "seller_custom_field": "CHINELO-40"},
        ],
    )
    assert item["available_quantity"] == 7
    user = ml.credentials["user_id"]
    assert _get(http, ml, f"/users/{user}/items/search", seller_sku="CHINELO-42").json()["results"] == [
        item["id"]
    ]
    first, second = (v["id"] for v in item["variations"])
    refused = _put(http, ml, item["id"], {"available_quantity": 1})
    assert refused.status_code == 400, "an item with variations takes the stock per variation"
    kept = _put(http, ml, item["id"], {"variations": [{"id": first, "available_quantity": 1}]}).json()
    assert [v["id"] for v in kept["variations"]] == [first] and kept["available_quantity"] == 1
    assert second not in [v["id"] for v in _get(http, ml, f"/items/{item['id']}").json()["variations"]]


def test_the_seed_lists_every_demo_product_under_the_id_its_orders_name(http: httpx.Client) -> None:
    with start_fake("mercadolivre") as seeded:
        [order] = _get(http, seeded, "/orders/search", seller=seeded.credentials["user_id"], limit=1).json()[
            "results"
        ]
        item_id = order["order_items"][0]["item"]["id"]
        listing = _get(http, seeded, f"/items/{item_id}").json()
        assert listing["seller_custom_field"] == order["order_items"][0]["item"]["seller_sku"]


def test_a_cart_is_a_pack_of_orders_sharing_one_shipment_shown_in_the_state(
    ml: Fake, http: httpx.Client
) -> None:
    answer = http.post(f"{ml.url}/_sandbox/packs", json={})
    assert answer.status_code == 201, answer.text
    [pack], orders = answer.json()["packs"], answer.json()["orders"]
    assert len(orders) == 3 and all("pack_order" in order["tags"] for order in orders)
    read = _get(http, ml, f"/packs/{pack['id']}").json()
    assert read["orders"] == [{"id": order["id"]} for order in orders] and read["family_pack_id"] is None
    shipment = _get(http, ml, f"/shipments/{pack['shipment']['id']}").json()
    assert (shipment["status"], shipment["substatus"]) == ("ready_to_ship", "invoice_pending")
    assert {order["shipping"]["id"] for order in orders} == {shipment["id"]}
    state = http.get(f"{ml.url}/_sandbox/state").json()
    assert [p["id"] for p in state["packs"]] == [pack["id"]]
    assert _get(http, ml, "/packs/1").status_code == 404


def test_a_split_cart_is_two_packs_of_one_family(ml: Fake, http: httpx.Client) -> None:
    answer = http.post(f"{ml.url}/_sandbox/packs", json={"split": True}).json()
    first, second = answer["packs"]
    assert first["family_pack_id"] == second["family_pack_id"] is not None
    assert (len(first["orders"]), len(second["orders"])) == (1, 2)
    assert first["shipment"]["id"] != second["shipment"]["id"]


def test_a_family_of_split_packs_has_an_id_of_its_own(ml: Fake, http: httpx.Client) -> None:
    families = []
    for _cart in range(2):
        answer = http.post(f"{ml.url}/_sandbox/packs", json={"split": True}).json()
        families.append(answer["packs"][0]["family_pack_id"])
    state = http.get(f"{ml.url}/_sandbox/state").json()
    taken = {order["id"] for order in state["orders"]} | {pack["id"] for pack in state["packs"]}
    taken |= {shipment["id"] for shipment in state["shipments"]}
    # ML's shape: 2000… ids of ten digits or more, one per split cart, never an order's or a pack's.
    assert all(str(family).startswith("2000") and len(str(family)) >= 10 for family in families)
    assert len(set(families)) == 2 and not set(families) & taken
    # Far from the ids the fake hands out next, however many sales follow.
    assert all(abs(family - other) > 100_000 for family in families for other in taken)
    # A cart that leaves one warehouse is a pack of no family.
    single = http.post(f"{ml.url}/_sandbox/packs", json={}).json()["packs"][0]
    assert single["family_pack_id"] is None


def test_a_claim_is_opened_escalated_and_closed_with_its_notifications(ml: Fake, http: httpx.Client) -> None:
    order, _shipment = _buy(http, ml)
    opened = http.post(f"{ml.url}/_sandbox/claims", json={"order_id": order["id"]})
    assert opened.status_code == 201, opened.text
    claim = opened.json()["claim"]
    resource = f"/post-purchase/v1/claims/{claim['id']}"
    assert opened.json()["notifications"] == [f"claims {resource}"]
    read = _get(http, ml, resource).json()
    assert (read["resource"], read["resource_id"], read["status"], read["stage"]) == (
        "order",
        order["id"],
        "opened",
        "claim",
    )
    seller = next(p for p in read["players"] if p["role"] == "respondent")
    assert seller["available_actions"][0]["mandatory"] is True
    http.post(f"{ml.url}/_sandbox/claims/{claim['id']}/dispute", json={})
    assert _get(http, ml, resource).json()["stage"] == "dispute"
    http.post(f"{ml.url}/_sandbox/claims/{claim['id']}/close", json={"reason": "refunded"})
    closed = _get(http, ml, resource).json()
    assert (closed["status"], closed["resolution"]["reason"]) == ("closed", "refunded")
    again = http.post(f"{ml.url}/_sandbox/claims/{claim['id']}/close", json={})
    assert again.status_code == 409, "a closed claim stays closed"
    assert http.get(f"{ml.url}/_sandbox/state").json()["claims"][0]["status"] == "closed"
