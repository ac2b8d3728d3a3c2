"""GET /api/v1/orders: the contains-search, the filters and the keyset pagination."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from malote.api.tests.helpers import ORDERS, assert_error
from malote.channels.models import Channel
from malote.conftest import ApiClient
from malote.orders.models import Order
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

OrderFactory = Callable[..., Order]


def _list(api: ApiClient, **params: Any) -> dict[str, Any]:
    response = api.get(f"{ORDERS}?{urlencode(params, doseq=True)}")
    assert response.status_code == 200, response.content[:300]
    body: dict[str, Any] = response.json()
    return body


def _ids(api: ApiClient, **params: Any) -> set[int]:
    return {item["id"] for item in _list(api, **params)["items"]}


@pytest.fixture
def target(make_order: OrderFactory) -> Order:
    """The order of the seeds' example, among others whose ids share no digits run with it."""
    make_order(external_id="ML-555000111")
    order = make_order(external_id="02-704319102")
    make_order(external_id="B2W-88812")
    return order


# --- search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "02-704319102",
        "02704319102",
        "704319102",
        "704319102-1",
        "704319102-12",
        "02.704.319/102",
        " 704319102 ",
    ],
)
def test_search_finds_the_external_id_however_it_is_pasted(api: ApiClient, target: Order, query: str) -> None:
    assert _ids(api, q=query) == {target.pk}


def test_search_by_malote_number_and_a_fragment_of_it(api: ApiClient, target: Order) -> None:
    assert target.number
    assert _ids(api, q=target.number) == {target.pk}
    assert _ids(api, q=target.number.lower()) == {target.pk}
    assert target.pk in _ids(api, q=target.number[-5:])
    assert target.pk in _ids(api, q=target.number[:4])


@pytest.mark.parametrize("query", ["123456789", "704319103", "02-704319109", "m9999999"])
def test_search_does_not_find_it_with_an_unrelated_number(api: ApiClient, target: Order, query: str) -> None:
    assert target.pk not in _ids(api, q=query)


def test_search_finds_other_orders_by_their_own_ids(api: ApiClient, target: Order) -> None:
    other = Order.objects.get(external_id="ML-555000111")
    assert _ids(api, q="ml555000111") == {other.pk}
    assert _ids(api, q="555000") == {other.pk}


@pytest.mark.parametrize(
    ("query", "found"), [("02", True), ("7", True), ("q", False), ("zz", False), ("b2", False)]
)
def test_short_queries_work(api: ApiClient, target: Order, query: str, found: bool) -> None:
    assert (target.pk in _ids(api, q=query)) is found


def test_short_query_finds_only_what_contains_it(api: ApiClient, target: Order) -> None:
    b2w = Order.objects.get(external_id="B2W-88812")
    assert b2w.pk in _ids(api, q="b2")
    assert _ids(api, q="zz") == set()


def test_search_combines_with_filters(api: ApiClient, target: Order) -> None:
    bring_to(target, "paid")
    assert _ids(api, q="704319102", status="paid") == {target.pk}
    assert _ids(api, q="704319102", status="canceled") == set()


def test_query_without_letters_or_digits_does_not_filter(api: ApiClient, target: Order) -> None:
    assert len(_ids(api, q="--")) == 3


def test_query_too_long_is_422(api: ApiClient, target: Order) -> None:
    assert_error(api.get(f"{ORDERS}?q={'7' * 201}"), 422, "query_too_long", "q")
    assert _ids(api, q="7" * 200) == set()


# --- filters --------------------------------------------------------------------------------------


def test_status_filter(api: ApiClient, make_order: OrderFactory) -> None:
    pending = make_order()
    paid = bring_to(make_order(), "paid")
    assert _ids(api, status="paid") == {paid.pk}
    assert _ids(api, status="pending_payment") == {pending.pk}
    assert _ids(api, status=["paid", "pending_payment"]) == {paid.pk, pending.pk}
    assert _ids(api, status="canceled") == set()


def test_unknown_status_is_422(api: ApiClient, make_order: OrderFactory) -> None:
    make_order()
    assert_error(api.get(f"{ORDERS}?status=lost"), 422, "enum", "status.0")
    assert_error(api.get(f"{ORDERS}?status=paid&status=lost"), 422, "enum", "status.1")


def test_channel_filter(api: ApiClient, make_order: OrderFactory, xml_channel: Channel) -> None:
    site = make_order()
    ml = make_order(channel="mercadolivre")
    assert _ids(api, channel="site") == {site.pk}
    assert _ids(api, channel="mercadolivre") == {ml.pk}
    assert _ids(api, channel=["site", "mercadolivre"]) == {site.pk, ml.pk}
    assert _ids(api, channel="amazon") == set()


@pytest.fixture
def by_day(make_order: OrderFactory) -> dict[str, Order]:
    """Orders on both sides of midnight in São Paulo (UTC-3): 23:30 local is already the next day in UTC."""
    return {
        "20": make_order(placed_at="2026-11-20T14:03:00-03:00"),
        "21-late": make_order(placed_at="2026-11-21T23:30:00-03:00"),
        "22-start": make_order(placed_at="2026-11-22T00:00:00-03:00"),
        "23": make_order(placed_at="2026-11-23T09:00:00-03:00"),
    }


def _pks(orders: dict[str, Order], *names: str) -> set[int]:
    return {orders[n].pk for n in names}


def test_placed_to_date_includes_that_whole_local_day(api: ApiClient, by_day: dict[str, Order]) -> None:
    assert _ids(api, placed_to="2026-11-21") == _pks(by_day, "20", "21-late")
    assert _ids(api, placed_to="2026-11-19") == set()


def test_placed_from_date_starts_at_local_midnight(api: ApiClient, by_day: dict[str, Order]) -> None:
    assert _ids(api, placed_from="2026-11-22") == _pks(by_day, "22-start", "23")
    assert _ids(api, placed_from="2026-11-24") == set()


def test_placed_range_of_one_day(api: ApiClient, by_day: dict[str, Order]) -> None:
    assert _ids(api, placed_from="2026-11-22", placed_to="2026-11-22") == _pks(by_day, "22-start")
    assert _ids(api, placed_from="2026-11-21", placed_to="2026-11-22") == _pks(by_day, "21-late", "22-start")


def test_placed_filters_with_date_times(api: ApiClient, by_day: dict[str, Order]) -> None:
    assert _ids(api, placed_to="2026-11-21T23:29:59-03:00") == _pks(by_day, "20")
    assert _ids(api, placed_to="2026-11-22T02:30:00Z") == _pks(by_day, "20", "21-late")
    assert _ids(api, placed_from="2026-11-21T23:30:00-03:00") == _pks(by_day, "21-late", "22-start", "23")
    # A naive date-time is read in the shop's zone.
    assert _ids(api, placed_from="2026-11-22T00:00:00") == _pks(by_day, "22-start", "23")


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("placed_from", "yesterday"),
        ("placed_to", "2026-13-45"),
        ("placed_to", "2026-02-30"),
        ("placed_to", "9999-12-31"),
        ("placed_from", "0001-01-01T00:00:00+01:00"),
        ("placed_to", "9999-12-31T23:59:59-05:00"),
        ("placed_from", "2026-11-21T25:00:00"),
    ],
)
def test_bad_or_unrepresentable_dates_are_422(
    api: ApiClient, by_day: dict[str, Order], param: str, value: str
) -> None:
    assert_error(api.get(f"{ORDERS}?{urlencode({param: value})}"), 422, "invalid_datetime", param)
    export = api.get(f"{ORDERS}/export?{urlencode({param: value})}")
    assert_error(export, 422, "invalid_datetime", param)


def test_summary_item_fields(api: ApiClient, make_order: OrderFactory) -> None:
    order = make_order(placed_at="2026-11-20T14:03:00-03:00")
    [item] = _list(api)["items"]
    assert item == {
        "id": order.pk,
        "number": order.number,
        "channel": "site",
        "external_id": order.external_id,
        "placed_at": "2026-11-20T17:03:00Z",
        "status": "pending_payment",
        "status_label": "Aguardando pagamento",
        "customer_name": "Maria Souza",
        "total": "114.80",
        "currency": "BRL",
        "payment_method": "boleto",
    }


# --- keyset pagination ----------------------------------------------------------------------------


@pytest.fixture
def seven(make_order: OrderFactory) -> list[Order]:
    """Seven orders, three of them at the very same instant and two at another."""
    moments = [
        "2026-11-20T10:00:00-03:00",
        "2026-11-20T12:00:00-03:00",
        "2026-11-20T12:00:00-03:00",
        "2026-11-20T12:00:00-03:00",
        "2026-11-19T08:00:00-03:00",
        "2026-11-21T08:00:00-03:00",
        "2026-11-21T08:00:00-03:00",
    ]
    return [make_order(placed_at=m) for m in moments]


def _expected_order(orders: list[Order]) -> list[int]:
    return [o.pk for o in sorted(orders, key=lambda o: (o.placed_at, o.pk), reverse=True)]


def _walk(api: ApiClient, limit: int, **params: Any) -> tuple[list[int], list[int]]:
    ids: list[int] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(20):
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page = _list(api, **query)
        ids += [item["id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, sizes
    raise AssertionError("pagination does not end")


def test_keyset_pagination_returns_every_order_once_in_order(api: ApiClient, seven: list[Order]) -> None:
    ids, sizes = _walk(api, 3)
    assert sizes == [3, 3, 1]
    assert ids == _expected_order(seven)
    assert len(set(ids)) == 7


@pytest.mark.parametrize("limit", [1, 2, 7, 200])
def test_keyset_pagination_any_page_size(api: ApiClient, seven: list[Order], limit: int) -> None:
    ids, _ = _walk(api, limit)
    assert ids == _expected_order(seven)


def test_no_next_cursor_when_the_page_holds_the_rest(api: ApiClient, seven: list[Order]) -> None:
    assert _list(api, limit=7)["next_cursor"] is None
    assert _list(api, limit=6)["next_cursor"] is not None
    assert _list(api)["next_cursor"] is None


def test_pagination_with_a_filter(api: ApiClient, seven: list[Order]) -> None:
    paid = [bring_to(o, "paid") for o in seven[1:5]]
    ids, sizes = _walk(api, 3, status="paid")
    assert sizes == [3, 1]
    assert ids == _expected_order(paid)


def test_pages_do_not_shift_when_newer_orders_arrive(
    api: ApiClient, seven: list[Order], make_order: OrderFactory
) -> None:
    first = _list(api, limit=3)
    make_order(placed_at="2026-12-01T00:00:00-03:00")
    rest, _ = _walk(api, 3, cursor=first["next_cursor"])
    assert [i["id"] for i in first["items"]] + rest == _expected_order(seven)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%FF%FE",
        _b64("yesterday|3"),
        _b64("2026-11-20T10:00:00+00:00|three"),
        _b64("2026-11-20T10:00:00|3"),  # naive: not one this API gives out
        _b64("0001-01-01T00:00:00+05:00|3"),
        _b64("2026-11-20T10:00:00+00:00|" + "9" * 30),
        _b64("2026-11-20T10:00:00+00:00|-1"),
        _b64("\x00"),
    ],
)
def test_invalid_cursor_is_422(api: ApiClient, seven: list[Order], cursor: str) -> None:
    assert_error(api.get(f"{ORDERS}?cursor={cursor}"), 422, "invalid_cursor", "cursor")


def test_valid_cursor_format_is_accepted(api: ApiClient, seven: list[Order]) -> None:
    moment = datetime.fromisoformat("2026-11-20T15:00:00+00:00")
    cursor = _b64(f"{(moment + timedelta(0)).isoformat()}|{seven[-1].pk + 1}")
    ids = [i["id"] for i in _list(api, cursor=cursor)["items"]]
    assert ids == [pk for pk in _expected_order(seven) if Order.objects.get(pk=pk).placed_at <= moment]


@pytest.mark.parametrize(
    ("limit", "code"), [(0, "greater_than_equal"), (201, "less_than_equal"), ("x", "int_parsing")]
)
def test_limit_bounds(api: ApiClient, seven: list[Order], limit: Any, code: str) -> None:
    assert_error(api.get(f"{ORDERS}?limit={limit}"), 422, code, "limit")


def _skyhub_invoiced(make_order: OrderFactory, marketplace: str, method: str) -> Order:
    order = make_order(
        channel="skyhub", marketplace=marketplace, shipping={"method": method, "price": "15.00"}
    )
    return bring_to(order, "invoiced")


def test_invoice_held_for_shipment_filter_lists_a_waiting_sub_channel_order_until_it_ships(
    api: ApiClient, make_order: OrderFactory
) -> None:
    Channel.objects.create(code="skyhub", name="SkyHub", role="marketplace", kind="skyhub")
    held = _skyhub_invoiced(make_order, "Magalu", "Correios SEDEX")
    assert _ids(api, invoice_held_for_shipment="true") == {held.pk}
    assert held.pk in _ids(api, invoice_held_for_shipment="false")
    shipped = api.post(
        f"{ORDERS}/{held.pk}/transitions/ship",
        {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"},
    )
    assert shipped.status_code == 200, shipped.content[:300]
    assert _ids(api, invoice_held_for_shipment="true") == set()


def test_invoice_held_for_shipment_filter_skips_channels_without_the_rule(
    api: ApiClient, make_order: OrderFactory
) -> None:
    Channel.objects.create(code="skyhub", name="SkyHub", role="marketplace", kind="skyhub")
    _skyhub_invoiced(make_order, "Mercado Livre", "Mercado Envios Coleta")  # the documented exception
    bring_to(make_order(), "invoiced")  # a storefront that takes the NF-e at once
    assert _ids(api, invoice_held_for_shipment="true") == set()
    assert len(_ids(api)) == 2


def test_invoice_held_for_shipment_is_documented(api: ApiClient) -> None:
    document = api.get("/api/v1/openapi.json").json()
    parameters = {p["name"]: p for p in document["paths"][ORDERS]["get"]["parameters"]}
    assert "after the shipment" in parameters["invoice_held_for_shipment"]["description"]
    assert "invoice_xml_pending" in parameters
