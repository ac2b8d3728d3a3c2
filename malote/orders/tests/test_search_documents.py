"""Search by the documents people paste: the whole NF-e access key (as printed in groups of 4, with
punctuation, with the XML's ``NFe`` prefix) and tracking codes (any case, spaces ignored)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from malote.fiscal import format_nfe_key
from malote.orders import actions, search
from malote.orders.models import Invoice, Order, Shipment
from malote.orders.selectors import filtered_orders, search_orders
from malote_dev import samples
from malote_dev.testing.orders import SYSTEM, bring_to

# --- the rules, without a database ------------------------------------------------------------

KEY = "35261212345678000195550010000001231000001234"


@pytest.mark.parametrize(
    "query",
    [
        KEY,
        " ".join(KEY[i : i + 4] for i in range(0, 44, 4)),  # the DANFE's groups of 4
        f"  {KEY[:20]}  {KEY[20:]} ",
        "3526.1212.3456.7800.0195-5500.1000.0001.2310.0000.1234",
        f"NFe{KEY}",
        f"nfe {KEY}",
        format_nfe_key(KEY[:6] + "12ABCDEFGH34" + KEY[18:]),  # alphanumeric CNPJ (2026)
    ],
)
def test_nfe_key_accepts_the_whole_key_in_any_grouping(query: str) -> None:
    key = search.nfe_key(query)
    assert key is not None
    assert len(key) == 44
    assert key == key.upper()
    assert " " not in key


@pytest.mark.parametrize(
    "query",
    [
        KEY[:43],  # one position short
        KEY + "5",  # one too many
        KEY[:8],  # a part of a key is not a key
        KEY[-12:],
        "3526 1212 3456",
        "AB" + KEY[2:],  # letters only in the CNPJ part
        KEY[:40] + "ABCD",
        "３５" + KEY[2:],  # full-width digits
        "Maria Souza",
        "",
    ],
)
def test_nfe_key_refuses_anything_else(query: str) -> None:
    assert search.nfe_key(query) is None


@pytest.mark.parametrize(
    ("query", "forms"),
    [
        ("AA123456785BR", ["AA123456785BR", "aa123456785br"]),
        ("aa123456785br", ["aa123456785br", "AA123456785BR"]),
        (" AA 123 456 785 BR ", ["AA 123 456 785 BR", "AA123456785BR", "aa123456785br"]),
        ("14123456789012", ["14123456789012"]),  # Jadlog: digits only
        ("MEL-4419209875", ["MEL-4419209875", "mel-4419209875"]),
    ],
)
def test_tracking_codes_forms(query: str, forms: list[str]) -> None:
    assert search.tracking_codes(query) == forms


@pytest.mark.parametrize(
    "query",
    [
        "AA1234",  # shorter than any carrier's code
        "X" * 60 + "12345",  # longer than a stored code can be
        "Maria Souza",  # no digit: a name, not a code
        "pereira",
        "AA123456785BR; DROP",
        "ÁA123456785BR",
        "",
    ],
)
def test_tracking_codes_refuse_what_is_no_code(query: str) -> None:
    assert search.tracking_codes(query) == []


# --- the selector -----------------------------------------------------------------------------


def _ship(order: Order, code: str) -> Order:
    order = bring_to(order, "invoiced")
    data = {"carrier": "correios", "method": "SEDEX", "tracking_code": code}
    actions.run_transition(order.pk, "ship", data, actor=SYSTEM)
    return order


def _found(query: str) -> list[int]:
    return list(search_orders(Order.objects.all(), query).values_list("pk", flat=True))


@pytest.fixture
def shipped_pair(make_order: Callable[..., Order]) -> tuple[Order, Order]:
    first = _ship(make_order(external_id="02-704319102"), samples.correios_code(12345678))
    other = _ship(make_order(external_id="03-555000111"), samples.correios_code(87654321))
    return first, other


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["AA123456785BR", "aa123456785br", "AA 123456785 BR", " aa 1234 5678 5 br "],
)
def test_search_finds_the_order_by_tracking_code(shipped_pair: tuple[Order, Order], query: str) -> None:
    first, _ = shipped_pair
    assert Shipment.objects.get(order=first).tracking_code == "AA123456785BR"
    assert _found(query) == [first.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["AA123456784BR", "BB123456785BR", "AA12345678", "123456785"])
def test_search_by_tracking_code_needs_the_whole_code(shipped_pair: tuple[Order, Order], query: str) -> None:
    assert _found(query) == []


@pytest.mark.django_db
def test_search_finds_a_lower_case_code_another_carrier_sent(make_order: Callable[..., Order]) -> None:
    order = bring_to(make_order(), "invoiced")
    data = {"carrier": "Loggi", "method": "Expressa", "tracking_code": "lgi7x2k9q1"}
    actions.run_transition(order.pk, "ship", data, actor=SYSTEM)
    assert Shipment.objects.get(order=order).tracking_code == "lgi7x2k9q1"
    assert _found("LGI7X2K9Q1") == [order.pk]
    assert _found("LGI7X2K9Q2") == []


@pytest.fixture
def invoiced_pair(make_order: Callable[..., Order]) -> tuple[Order, Order]:
    return bring_to(make_order(), "invoiced"), bring_to(make_order(), "invoiced")


def _key(order: Order) -> str:
    return str(Invoice.objects.get(order=order).key)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spell",
    [
        lambda key: key,
        format_nfe_key,
        lambda key: f"NFe{key}",
        lambda key: ".".join(key[i : i + 4] for i in range(0, 44, 4)),
        lambda key: f"  {key[:22]} {key[22:]}  ",
    ],
)
def test_search_finds_the_order_by_its_nfe_key(invoiced_pair: tuple[Order, Order], spell: Any) -> None:
    first, other = invoiced_pair
    assert _found(spell(_key(first))) == [first.pk]
    assert _found(spell(_key(other))) == [other.pk]


@pytest.mark.django_db
def test_search_by_nfe_key_needs_the_whole_key(invoiced_pair: tuple[Order, Order]) -> None:
    first, _ = invoiced_pair
    key = _key(first)
    wrong_digit = key[:43] + ("1" if key[43] != "1" else "2")
    for query in (wrong_digit, key[:43], format_nfe_key(key)[:29], key[-8:]):
        assert first.pk not in _found(query), query


@pytest.mark.django_db
def test_key_and_code_search_keep_the_other_filters(
    shipped_pair: tuple[Order, Order], make_order: Callable[..., Order]
) -> None:
    first, _ = shipped_pair
    assert list(filtered_orders(None, None, None, None, "aa123456785br").values_list("pk", flat=True)) == [
        first.pk
    ]
    assert not filtered_orders(None, ["mercadolivre"], None, None, "AA123456785BR").exists()
    assert not filtered_orders(None, None, None, None, "AA123456785BR").filter(status="paid").exists()


@pytest.mark.django_db
def test_key_and_code_search_is_two_indexed_queries(invoiced_pair: tuple[Order, Order]) -> None:
    key = _key(invoiced_pair[0])
    with CaptureQueriesContext(connection) as queries:
        assert len(_found(format_nfe_key(key))) == 1
    # The invoice and shipment ids first (one UNION of two index lookups), then the orders.
    assert len(queries) == 2
    assert "UNION" in queries[0]["sql"]
    with CaptureQueriesContext(connection) as queries:
        assert _found("Maria Souza")
    assert len(queries) == 1  # a query that is no key and no code costs nothing more
