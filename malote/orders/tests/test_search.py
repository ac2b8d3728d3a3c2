"""Contains-search normalization and the indexed selector (FTS5 trigram on SQLite, pg_trgm on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from malote.orders import search
from malote.orders.models import Order
from malote.orders.selectors import search_orders


@pytest.mark.parametrize(
    ("query", "variants"),
    [
        ("02-704319102", ["02704319102"]),
        ("02704319102", ["02704319102"]),
        (" 704319102 ", ["704319102"]),
        ("704319102-1", ["7043191021", "704319102"]),
        ("704319102/02", ["70431910202", "704319102"]),
        ("M0000012", ["m0000012"]),
        ("José", ["jose"]),
        ("--", []),
        ("12-1", ["121"]),  # base too short to be an order number: no suffix stripping
    ],
)
def test_query_variants(query: str, variants: list[str]) -> None:
    assert search.query_variants(query) == variants


def test_search_key_separates_parts() -> None:
    assert search.search_key(["M0000001", "02-704319102", "maria@example.com", "Maria Souza"]) == (
        "m0000001 02704319102 mariaexamplecom mariasouza"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["02-704319102", "02704319102", "704319102", "704319102-1", "4319", "mariasouza", "Souza", "529.982"],
)
def test_search_finds_the_order(make_order: Callable[..., Order], query: str) -> None:
    target = make_order(external_id="02-704319102")
    make_order(external_id="03-555000111", customer={**target_customer(), "name": "Outra Pessoa"})
    found = list(search_orders(Order.objects.all(), query).values_list("pk", flat=True))
    assert target.pk in found


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["704319103", "02-704319109", "xyz", "555000111"])
def test_search_does_not_find_other_numbers(make_order: Callable[..., Order], query: str) -> None:
    target = make_order(external_id="02-704319102")
    assert target.pk not in set(search_orders(Order.objects.all(), query).values_list("pk", flat=True))


@pytest.mark.django_db
def test_search_by_malote_number_and_short_fragments(make_order: Callable[..., Order]) -> None:
    order = make_order()
    assert list(search_orders(Order.objects.all(), order.number or "").values_list("pk", flat=True)) == [
        order.pk
    ]
    assert order.pk in set(search_orders(Order.objects.all(), "02").values_list("pk", flat=True))


def target_customer() -> dict[str, str]:
    return {"name": "Maria Souza", "email": "maria@example.com", "phone": "", "document": "529.982.247-25"}
