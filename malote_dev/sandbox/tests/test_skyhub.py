"""SkyHub fake: the three auth headers, the order queue (one order per GET, acknowledgement,
visibility timeout on an advanceable clock), the write endpoints and the account's status list,
listing, the control API, the seed and the common faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from malote.fiscal import parse_nfe_key
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.skyhub import SUB_CHANNELS
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY, build_nfe_xml

Fake = RunningFake[Any]
HEADERS = ("X-User-Email", "X-Api-Key", "X-Accountmanager-Key")


@pytest.fixture
def skyhub() -> Iterator[Fake]:
    with start_fake("skyhub", seed=False) as fake:
        yield fake


@pytest.fixture
def seeded() -> Iterator[Fake]:
    with start_fake("skyhub") as fake:
        yield fake


def auth(fake: Fake) -> dict[str, str]:
    credentials = fake.credentials
    return {
        "X-User-Email": credentials["user_email"],
        "X-Api-Key": credentials["api_key"],
        "X-Accountmanager-Key": credentials["accountmanager_key"],
        "Accept": "application/json",
    }


def api(http: httpx.Client, fake: Fake, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return http.request(method, fake.api_url + path, headers=auth(fake), **kwargs)


def control(http: httpx.Client, fake: Fake, path: str, body: dict[str, Any] | None = None) -> Any:
    response = http.post(f"{fake.url}/_sandbox/{path}", json=body or {})
    assert response.status_code in (200, 201), response.text
    return response.json()


def place(http: httpx.Client, fake: Fake, **body: Any) -> str:
    return str(control(http, fake, "orders", body)["order"]["code"])


def path_of(code: str) -> str:
    return quote(code, safe="")


# ----------------------------------------------------------------- authentication


@pytest.mark.parametrize("missing", HEADERS)
def test_every_request_needs_all_three_headers(skyhub: Fake, http: httpx.Client, missing: str) -> None:
    headers = {name: value for name, value in auth(skyhub).items() if name != missing}
    for method, path in (("GET", "/queues/orders"), ("GET", "/orders"), ("POST", "/orders/X-1/cancel")):
        response = http.request(method, skyhub.api_url + path, headers=headers, json={"status": "x"})
        assert response.status_code == 401, (method, path)
        assert missing in response.json()["error"]
    # Each refused call was logged as such; nothing happened.
    assert {call.status for call in skyhub.calls.all()} == {401}


@pytest.mark.parametrize("wrong", HEADERS)
def test_a_wrong_header_value_is_refused(skyhub: Fake, http: httpx.Client, wrong: str) -> None:
    headers = {**auth(skyhub), wrong: "not-it"}
    response = http.get(skyhub.api_url + "/orders", headers=headers)
    assert response.status_code == 401 and response.json() == {"error": "Usuário ou token inválido"}


def test_with_the_three_headers_the_api_answers(skyhub: Fake, http: httpx.Client) -> None:
    assert api(http, skyhub, "GET", "/orders").json() == {"total": 0, "orders": []}
    assert api(http, skyhub, "GET", "/queues/orders").status_code == 204


def test_a_body_that_is_not_utf8_is_415(skyhub: Fake, http: httpx.Client) -> None:
    code = place(http, skyhub)
    response = api(
        http,
        skyhub,
        "POST",
        f"/orders/{path_of(code)}/cancel",
        content='{"status": "order_canceled é"}'.encode("latin-1"),
    )
    assert response.status_code == 415


# ----------------------------------------------------------------- the queue


def test_the_queue_serves_one_order_at_a_time_and_hides_it_until_acknowledged(
    skyhub: Fake, http: httpx.Client
) -> None:
    control(http, skyhub, "clock", {"freeze": True})
    first = place(http, skyhub, channel="Submarino")
    second = place(http, skyhub, channel="Shoptime")

    head = api(http, skyhub, "GET", "/queues/orders")
    assert head.status_code == 200
    order = head.json()
    assert isinstance(order, dict) and order["code"] == first, "one bare order object, not an array"
    assert order["status"] == {"code": "book_product", "label": "Pagamento Pendente (SkyHub)", "type": "NEW"}
    # While the first is being handled, the next GET serves the next one.
    assert api(http, skyhub, "GET", "/queues/orders").json()["code"] == second
    assert api(http, skyhub, "GET", "/queues/orders").status_code == 204

    assert api(http, skyhub, "DELETE", f"/queues/orders/{path_of(first)}").status_code == 204
    assert skyhub.state.orders[first]["sync_status"] == "SYNCED"
    assert skyhub.state.orders[second]["sync_status"] == "NOT_SYNCED"
    assert api(http, skyhub, "DELETE", f"/queues/orders/{path_of(first)}").status_code == 404

    # Not acknowledged within the visibility timeout: the second comes back, the first does not.
    control(http, skyhub, "clock", {"advance": 299})
    assert api(http, skyhub, "GET", "/queues/orders").status_code == 204
    clock = control(http, skyhub, "clock", {"advance": 1})
    assert clock["offset_seconds"] == 300
    again = api(http, skyhub, "GET", "/queues/orders").json()
    assert again["code"] == second
    queue = http.get(f"{skyhub.url}/_sandbox/queue").json()["queue"]
    assert [(entry["code"], entry["deliveries"]) for entry in queue] == [(second, 2)]


def test_the_visibility_timeout_is_a_setting(skyhub: Fake, http: httpx.Client) -> None:
    skyhub.configure(visibility_timeout=30.0)
    control(http, skyhub, "clock", {"freeze": True})
    code = place(http, skyhub)
    assert api(http, skyhub, "GET", "/queues/orders").json()["code"] == code
    control(http, skyhub, "clock", {"advance": 29})
    assert api(http, skyhub, "GET", "/queues/orders").status_code == 204
    control(http, skyhub, "clock", {"advance": 1})
    assert api(http, skyhub, "GET", "/queues/orders").json()["code"] == code


@pytest.mark.parametrize(
    ("setting", "status", "body"), [("204", 204, b""), ("empty", 200, b""), ("object", 200, b"{}")]
)
def test_the_empty_queue_answer_is_a_setting(
    skyhub: Fake, http: httpx.Client, setting: str, status: int, body: bytes
) -> None:
    skyhub.configure(empty_queue=setting)
    response = api(http, skyhub, "GET", "/queues/orders")
    assert (response.status_code, response.content) == (status, body)


def test_marketplace_updates_are_queued_manual_changes_and_seller_writes_are_not(
    skyhub: Fake, http: httpx.Client
) -> None:
    code = place(http, skyhub)
    api(http, skyhub, "GET", "/queues/orders")
    api(http, skyhub, "DELETE", f"/queues/orders/{path_of(code)}")

    control(http, skyhub, f"orders/{path_of(code)}/status", {"status": "order_canceled"})
    assert api(http, skyhub, "GET", "/queues/orders").status_code == 204, "a change by hand is silent"

    control(http, skyhub, f"orders/{path_of(code)}/approve")
    served = api(http, skyhub, "GET", "/queues/orders").json()
    assert served["status"]["code"] == "payment_received" and served["approved_date"]
    api(http, skyhub, "DELETE", f"/queues/orders/{path_of(code)}")

    # The seller's own write does not come back through the queue unless the setting says so.
    api(http, skyhub, "POST", f"/orders/{path_of(code)}/cancel", json={"status": "order_canceled"})
    assert api(http, skyhub, "GET", "/queues/orders").status_code == 204
    skyhub.configure(queue_seller_updates=True)
    api(http, skyhub, "POST", f"/orders/{path_of(code)}/approval", json={"status": "payment_received"})
    assert api(http, skyhub, "GET", "/queues/orders").json()["code"] == code


def test_an_order_already_queued_is_not_queued_twice_and_is_served_as_it_is_now(
    skyhub: Fake, http: httpx.Client
) -> None:
    code = place(http, skyhub)
    control(http, skyhub, f"orders/{path_of(code)}/approve")
    control(http, skyhub, f"orders/{path_of(code)}/status", {"status": "order_canceled", "queue": True})
    assert len(skyhub.state.queue) == 1
    assert api(http, skyhub, "GET", "/queues/orders").json()["status"]["code"] == "order_canceled"


# ----------------------------------------------------------------- writes and statuses


def test_invoice_shipments_delivery_and_exception_update_the_order(skyhub: Fake, http: httpx.Client) -> None:
    code = place(http, skyhub, status="payment_received", shipping_method="Correios SEDEX")
    base = f"/orders/{path_of(code)}"
    invoiced = api(
        http,
        skyhub,
        "POST",
        f"{base}/invoice",
        json={
            "status": "order_invoiced",
            "invoice": {"key": SAMPLE_NFE_KEY, "issue_date": "2025-03-10T10:00:00-03:00"},
        },
    )
    assert invoiced.status_code == 204 and invoiced.content == b""
    order = api(http, skyhub, "GET", base).json()
    key = parse_nfe_key(SAMPLE_NFE_KEY)
    assert order["status"]["type"] == "INVOICED"
    assert order["invoices"] == [
        {
            "key": SAMPLE_NFE_KEY,
            "number": str(key.number),
            "line": str(key.series),
            "issue_date": "2025-03-10T10:00:00-03:00",
        }
    ]

    shipment = {
        "code": code,
        "items": [{"sku": "CHINELO-42", "qty": 2}],
        "track": {
            "code": "AA123456785BR",
            "carrier": "Correios",
            "method": "SEDEX",
            "url": "https://x.example/t",
        },
    }
    assert (
        api(
            http, skyhub, "POST", f"{base}/shipments", json={"status": "order_shipped", "shipment": shipment}
        ).status_code
        == 204
    )
    order = api(http, skyhub, "GET", base).json()
    assert order["shipments"] == [
        {"code": code, "items": [{"sku": "CHINELO-42", "qty": 2}], "tracks": [shipment["track"]]}
    ]
    assert order["status"]["code"] == "order_shipped" and order["shipped_date"]

    exception = {
        "status": "shipment_exception",
        "shipment_exception": {"observation": "Destinatário ausente"},
    }
    assert api(http, skyhub, "POST", f"{base}/shipment_exception", json=exception).status_code == 204
    assert api(http, skyhub, "GET", base).json()["status"]["type"] == "SHIPMENT_EXCEPTION"

    delivered = {"status": "complete", "delivered_date": "2025-03-15T15:00:00-03:00"}
    assert api(http, skyhub, "POST", f"{base}/delivery", json=delivered).status_code == 204
    order = api(http, skyhub, "GET", base).json()
    assert order["status"]["type"] == "DELIVERED" and order["delivered_date"] == delivered["delivered_date"]


@pytest.mark.parametrize(
    ("endpoint", "body", "message"),
    [
        ("invoice", {"status": "order_invoiced", "invoice": {"key": "123"}}, "44"),
        ("invoice", {"status": "order_invoiced"}, "invoice"),
        (
            "shipments",
            {"status": "order_shipped", "shipment": {"track": {"code": "A1", "url": "https://" + "x" * 200}}},
            "200",
        ),
        ("shipments", {"status": "order_shipped", "shipment": {"track": {}}}, "track.code"),
        ("shipment_exception", {"status": "shipment_exception", "shipment_exception": {}}, "observation"),
        ("cancel", {}, "status"),
    ],
)
def test_malformed_writes_are_422_and_change_nothing(
    skyhub: Fake, http: httpx.Client, endpoint: str, body: dict[str, Any], message: str
) -> None:
    code = place(http, skyhub, status="payment_received")
    response = api(http, skyhub, "POST", f"/orders/{path_of(code)}/{endpoint}", json=body)
    assert response.status_code == 422 and message in response.json()["error"]
    assert skyhub.state.orders[code]["status"]["code"] == "payment_received"


def test_a_status_the_account_lacks_is_422_until_created(skyhub: Fake, http: httpx.Client) -> None:
    code = place(http, skyhub, status="payment_received")
    path = f"/orders/{path_of(code)}/cancel"
    refused = api(http, skyhub, "POST", path, json={"status": "cancelado_loja"})
    assert refused.status_code == 422 and "cancelado_loja" in refused.json()["error"]
    assert skyhub.state.orders[code]["status"]["code"] == "payment_received"

    status = {"code": "cancelado_loja", "label": "Cancelado pela loja", "type": "CANCELED"}
    assert api(http, skyhub, "POST", "/statuses", json={"status": status}).status_code == 201
    assert api(http, skyhub, "POST", "/statuses", json={"status": status}).status_code == 422
    assert status in api(http, skyhub, "GET", "/statuses").json()
    assert api(http, skyhub, "POST", path, json={"status": "cancelado_loja"}).status_code == 204
    assert skyhub.state.orders[code]["status"] == status

    renamed = api(http, skyhub, "PUT", "/statuses/cancelado_loja", json={"status": {"label": "Cancelado"}})
    assert renamed.json()["label"] == "Cancelado"
    bad_type = {"status": {"code": "x", "label": "x", "type": "WHATEVER"}}
    assert api(http, skyhub, "POST", "/statuses", json=bad_type).status_code == 422
    types = [entry["code"] for entry in api(http, skyhub, "GET", "/status_types").json()]
    assert "SHIPMENT_EXCEPTION" in types and "CANCELED" in types


def test_writes_on_an_unknown_order_are_404(skyhub: Fake, http: httpx.Client) -> None:
    response = api(http, skyhub, "POST", "/orders/Submarino-1/cancel", json={"status": "order_canceled"})
    assert response.status_code == 404 and response.json() == {"error": "Pedido não encontrado"}
    assert api(http, skyhub, "GET", "/orders/Submarino-1").status_code == 404


def test_write_answers_and_the_canceled_spelling_are_settings(skyhub: Fake, http: httpx.Client) -> None:
    code = place(http, skyhub, status="payment_received")
    skyhub.configure(write_response="ok_order", canceled_type="CANCELLED")
    answer = api(http, skyhub, "POST", f"/orders/{path_of(code)}/cancel", json={"status": "order_canceled"})
    assert answer.status_code == 200 and answer.json()["status"]["type"] == "CANCELLED"
    skyhub.configure(write_response="ok_empty")
    answer = api(
        http, skyhub, "POST", f"/orders/{path_of(code)}/approval", json={"status": "payment_received"}
    )
    assert (answer.status_code, answer.content) == (200, b"")


# ----------------------------------------------------------------- listing and the seed


def test_list_orders_pages_and_filters(seeded: Fake, http: httpx.Client) -> None:
    everything = api(http, seeded, "GET", "/orders", params={"per_page": 100}).json()
    assert everything["total"] == 8
    placed = [order["placed_at"] for order in everything["orders"]]
    assert placed == sorted(placed, reverse=True)

    page = api(http, seeded, "GET", "/orders", params={"page": 2, "per_page": 3}).json()
    assert [order["code"] for order in page["orders"]] == [
        order["code"] for order in everything["orders"][3:6]
    ]
    capped = api(http, seeded, "GET", "/orders", params={"per_page": 1000})
    assert len(capped.json()["orders"]) == 8

    by_channel = api(http, seeded, "GET", "/orders", params={"filters[sale_system]": "Zoom"}).json()
    assert [order["channel"] for order in by_channel["orders"]] == ["Zoom"]
    params = [("filters[statuses][]", "payment_received"), ("filters[statuses][]", "complete")]
    by_status = api(http, seeded, "GET", "/orders", params=params).json()
    assert {order["status"]["code"] for order in by_status["orders"]} == {"payment_received", "complete"}
    assert by_status["total"] == 4


def test_the_seed_spans_sub_channels_and_shipping_methods(seeded: Fake) -> None:
    orders = list(seeded.state.orders.values())
    assert {order["channel"] for order in orders} == set(SUB_CHANNELS)
    methods = {order["shipping_method"] for order in orders}
    assert {"B2W Entregas", "B2W Entregas Direct", "Magalu Entregas", "Correios SEDEX"} <= methods
    americanas = next(order for order in orders if order["channel"] == "Lojas Americanas")
    assert americanas["code"].count("-") == 2, "the 2025 code pattern"
    # Only the open orders wait in the queue for the first import.
    queued = {entry.code for entry in seeded.state.queue}
    assert queued == {order["code"] for order in orders if order["status"]["type"] in ("NEW", "APPROVED")}
    for order in orders:
        assert order["total_ordered"] == pytest.approx(
            sum(item["special_price"] * item["qty"] for item in order["items"]) + order["shipping_cost"]
        )


def test_control_places_orders_for_any_sub_channel(skyhub: Fake, http: httpx.Client) -> None:
    answer = control(
        http,
        skyhub,
        "orders",
        {
            "channel": "Magazine Luiza",
            "shipping_method": "Magalu Entregas",
            "customer": "joao",
            "items": [{"sku": "BONE-AZUL", "qty": 2, "price": "50.00"}],
            "payment_method": "PIX",
            "shipping_cost": 0,
        },
    )
    order = answer["order"]
    assert order["code"].startswith("Magazine Luiza-") and order["channel"] == "Magazine Luiza"
    assert order["total_ordered"] == 100.0 and order["payments"][0]["method"] == "PIX"
    assert order["customer"]["vat_number"] == "11144477735"
    assert order["shipping_carrier"] == "Magalu Entregas"
    bad = http.post(f"{skyhub.url}/_sandbox/orders", json={"items": [{"sku": "NOPE"}]})
    assert bad.status_code == 400
    unknown = http.post(
        f"{skyhub.url}/_sandbox/orders/{path_of(order['code'])}/status", json={"status": "nope"}
    )
    assert unknown.status_code == 400
    assert http.post(f"{skyhub.url}/_sandbox/clock", json={"advance": -1}).status_code == 400
    assert http.post(f"{skyhub.url}/_sandbox/clock", json={"freeze": "yes"}).status_code == 400


def test_a_frozen_clock_stands_still_and_unfreezing_keeps_its_time(skyhub: Fake, http: httpx.Client) -> None:
    frozen = control(http, skyhub, "clock", {"freeze": True})
    assert frozen["frozen"] is True
    assert http.get(f"{skyhub.url}/_sandbox/clock").json()["now"] == frozen["now"]
    advanced = control(http, skyhub, "clock", {"advance": 3600})
    assert advanced["now"] > frozen["now"]
    thawed = control(http, skyhub, "clock", {"freeze": False})
    assert thawed["frozen"] is False and thawed["now"] >= advanced["now"]


# ----------------------------------------------------------------- faults


def test_common_faults_answer_in_skyhubs_shape(skyhub: Fake, http: httpx.Client) -> None:
    place(http, skyhub)
    skyhub.faults.set("error_5xx", path_prefix="/queues/orders", status=503)
    failed = api(http, skyhub, "GET", "/queues/orders")
    assert failed.status_code == 503 and failed.json() == {"error": "Internal Server Error"}

    skyhub.faults.set("rate_limit", path_prefix="/queues/orders", retry_after=9)
    limited = api(http, skyhub, "GET", "/queues/orders")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "9"

    skyhub.faults.set("drop", path_prefix="/queues/orders")
    with pytest.raises(httpx.RemoteProtocolError):
        api(http, skyhub, "GET", "/queues/orders")
    # None of the faulted calls served the order: it is still there, never delivered.
    assert [entry.deliveries for entry in skyhub.state.queue] == [0]
    assert api(http, skyhub, "GET", "/queues/orders").status_code == 200


def test_reset_empties_the_store_and_the_clock(seeded: Fake, http: httpx.Client) -> None:
    control(http, seeded, "clock", {"advance": 600})
    seeded.reset(seed=False)
    assert seeded.state.orders == {} and seeded.state.queue == [] and seeded.state.clock_offset == 0


def test_the_invoice_may_be_the_nfe_xml_as_a_multipart_form(skyhub: Fake, http: httpx.Client) -> None:
    code = place(http, skyhub, status="payment_received", channel="Mercado Livre")
    path = f"/orders/{path_of(code)}/invoice"
    xml = build_nfe_xml(SAMPLE_NFE_KEY)
    response = api(
        http,
        skyhub,
        "POST",
        path,
        data={"status": "order_invoiced", "volume_qty": "2"},
        files={"file": ("nfe.xml", xml.encode(), "text/xml")},
    )
    assert response.status_code == 204, response.text
    order = skyhub.state.orders[code]
    assert order["invoices"][0]["key"] == SAMPLE_NFE_KEY and order["_invoice_xml"] == xml
    assert order["invoices"][0]["issue_date"] == "2025-03-15T10:30:00-03:00", "the date is read from the XML"
    assert (
        order["status"]["code"] == "order_invoiced"
        and "_invoice_xml" not in api(http, skyhub, "GET", f"/orders/{path_of(code)}").json()
    )

    broken = api(
        http,
        skyhub,
        "POST",
        path,
        data={"status": "order_invoiced"},
        files={"file": ("nfe.xml", b"<nfeProc>", "text/xml")},
    )
    assert broken.status_code == 422 and "XML" in broken.json()["error"]


# ----------------------------------------------------------------- products and stock


def test_products_and_variations_carry_the_stock(skyhub: Fake, http: httpx.Client) -> None:
    product = {"sku": "CHINELO", "name": "Chinelo", "variations": [
        {"sku": "CHINELO-42", "qty": 5}, {"sku": "CHINELO-40", "qty": 3}]}  # fmt: skip
    assert api(http, skyhub, "POST", "/products", json={"product": product}).status_code == 201
    assert (
        api(http, skyhub, "POST", "/products", json={"product": {"sku": "CANECA", "qty": 2}}).status_code
        == 201
    )

    answer = api(http, skyhub, "PUT", "/variations/CHINELO-42", json={"variation": {"qty": 0}})
    assert (answer.status_code, answer.content) == (204, b"")
    assert api(http, skyhub, "GET", "/variations/CHINELO-42").json()["qty"] == 0
    stored = api(http, skyhub, "GET", "/products/CHINELO").json()
    assert [(v["sku"], v["qty"]) for v in stored["variations"]] == [("CHINELO-42", 0), ("CHINELO-40", 3)]
    assert api(http, skyhub, "PUT", "/products/CANECA", json={"product": {"qty": 9}}).status_code == 204
    assert api(http, skyhub, "GET", "/products/CANECA").json()["qty"] == 9


def test_stock_writes_are_checked(skyhub: Fake, http: httpx.Client) -> None:
    assert (
        api(http, skyhub, "POST", "/products", json={"product": {"sku": "CANECA", "qty": 2}}).status_code
        == 201
    )
    for path, body in (("/products/CANECA", {"product": {"qty": -1}}), ("/products/CANECA", {"qty": 1})):
        refused = api(http, skyhub, "PUT", path, json=body)
        assert refused.status_code == 422 and "error" in refused.json()
    assert (
        api(http, skyhub, "POST", "/products", json={"product": {"sku": "CANECA", "qty": 1}}).status_code
        == 422
    )
    for path in ("/products/NOPE", "/variations/NOPE"):
        missing = api(http, skyhub, "GET", path)
        assert missing.status_code == 404 and "error" in missing.json()
    anonymous = http.put(f"{skyhub.api_url}/products/CANECA", json={"product": {"qty": 0}})
    assert anonymous.status_code == 401
    assert api(http, skyhub, "GET", "/products/CANECA").json()["qty"] == 2


def test_the_seed_lists_every_demo_product(seeded: Fake, http: httpx.Client) -> None:
    assert api(http, seeded, "GET", "/products/CHINELO-42").json()["qty"] == 10
