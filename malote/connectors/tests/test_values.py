"""The shared value readers of the connectors (malote/connectors/values.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from malote.connectors import values

BRASILIA = ZoneInfo("America/Sao_Paulo")


def test_text_of_strips_and_reads_none_as_empty_but_keeps_zero() -> None:
    assert values.text_of("  Magazine Luiza ") == "Magazine Luiza"
    assert values.text_of(None) == ""
    assert values.text_of(0) == "0"


def test_header_value_ignores_the_names_case_in_a_plain_dict() -> None:
    headers = {"x-vtex-api-appkey": " key-1 "}
    assert values.header_value(headers, "X-VTEX-API-AppKey") == "key-1"
    assert values.header_value(headers, "X-VTEX-API-AppToken") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(149.7, "149.70"), ("114.80", "114.80"), (107.68, "107.68"), (0, "0.00"), (None, "0.00"), ("", "0.00")],
)
def test_money_reads_reais_to_the_cent(raw: object, expected: str) -> None:
    assert str(values.money(raw)) == expected


@pytest.mark.parametrize("raw", ["abc", "12,50", [], "Infinity"])
def test_money_refuses_what_is_not_an_amount_with_a_value_error(raw: object) -> None:
    with pytest.raises(ValueError, match="not an amount"):
        values.money(raw)


def test_decimal_or_zero_is_lenient_and_keeps_the_places() -> None:
    assert values.decimal_or_zero("10.500") == Decimal("10.500")
    assert str(values.decimal_or_zero("10.500")) == "10.500"
    assert values.decimal_or_zero(None) == Decimal("0")
    assert values.decimal_or_zero("") == Decimal("0")
    assert values.decimal_or_zero("R$ 10") == Decimal("0")


@pytest.mark.parametrize(
    ("raw", "currency", "expected"),
    [(11480, "BRL", "114.80"), ("11480", "brl", "114.80"), (-5, "BRL", "-0.05"), (1000, "JPY", "1000")],
)
def test_minor_to_decimal_uses_the_currencys_places(raw: object, currency: str, expected: str) -> None:
    assert values.minor_to_decimal(raw, currency) == expected


def test_minor_to_decimal_three_places_and_brl_by_default() -> None:
    assert values.minor_to_decimal(12345, "KWD") == "12.345"
    assert values.minor_to_decimal(11480) == "114.80"


@pytest.mark.parametrize("raw", [None, "", True, "114.80", 114.8, "abc"])
def test_minor_to_decimal_refuses_what_is_not_integer_units(raw: object) -> None:
    assert values.minor_to_decimal(raw) is None


def test_parse_iso_keeps_offsets_and_reads_z_as_utc() -> None:
    assert values.parse_iso("2019-10-16T17:45:38-03:00") == datetime(
        2019, 10, 16, 17, 45, 38, tzinfo=timezone(timedelta(hours=-3))
    )
    assert values.parse_iso("2025-03-10T13:00:00.1234567Z") is not None
    assert values.parse_iso("2025-03-10T13:00:00Z") == datetime(2025, 3, 10, 13, tzinfo=UTC)


def test_parse_iso_places_a_naive_time_in_the_given_zone() -> None:
    assert values.parse_iso("2025-03-10T10:00:00") == datetime(2025, 3, 10, 10, tzinfo=UTC)
    brasilia = values.parse_iso("2025-03-10T10:00:00", naive=BRASILIA)
    assert brasilia is not None and brasilia.astimezone(UTC) == datetime(2025, 3, 10, 13, tzinfo=UTC)


@pytest.mark.parametrize("raw", [None, "", "  ", "10/03/2025", "yesterday"])
def test_parse_iso_reads_empty_or_foreign_text_as_none(raw: object) -> None:
    assert values.parse_iso(raw) is None
    assert values.iso_or_none(raw) is None


def test_iso_or_none_writes_the_time_back_with_its_offset() -> None:
    assert values.iso_or_none("2025-03-10T10:00:00", naive=BRASILIA) == "2025-03-10T10:00:00-03:00"
    assert values.iso_or_none("2025-03-10T13:00:00Z") == "2025-03-10T13:00:00+00:00"


def test_moment_in_converts_to_the_zone_and_reads_naive_as_local() -> None:
    assert values.moment_in("2025-03-10T01:30:00+00:00", BRASILIA).date().isoformat() == "2025-03-09"
    assert values.moment_in("2025-03-10T01:30:00", BRASILIA).date().isoformat() == "2025-03-10"
    assert values.moment_in(None, BRASILIA).tzinfo == BRASILIA  # now, in Brasília


def test_moment_in_refuses_a_time_that_is_not_iso() -> None:
    with pytest.raises(ValueError):
        values.moment_in("10/03/2025", BRASILIA)


@pytest.mark.parametrize(
    ("raw", "expected"), [(12345678, "12345678"), (12345678.0, "12345678"), (" 42 ", "42"), ("ab1", "ab1")]
)
def test_id_text_reads_numbers_and_strings_alike(raw: object, expected: str) -> None:
    assert values.id_text(raw) == expected


@pytest.mark.parametrize("raw", [None, "", 0, "0", "000", 0.0])
def test_id_text_reads_no_record_as_the_none_marker(raw: object) -> None:
    assert values.id_text(raw) == "0"
    assert values.id_text(raw, none="") == ""


def test_balance_totals_moves_nothing_for_consistent_input() -> None:
    d = Decimal
    assert values.balance_totals(d("100.00"), d("10.00"), d("0.00"), d("5.00"), d("105.00")) == (
        d("0.00"),
        d("5.00"),
    )


def test_balance_totals_closes_a_gap_above_with_the_discount_then_tax() -> None:
    d = Decimal
    # Total 3 above the sum: the 2 discount was counted twice, the last 1 is a surcharge.
    assert values.balance_totals(d("100.00"), d("10.00"), d("0.00"), d("2.00"), d("111.00")) == (
        d("1.00"),
        d("0.00"),
    )


def test_balance_totals_closes_a_gap_below_with_the_tax_then_discount() -> None:
    d = Decimal
    # Total 5 below the sum: the 3 tax was inside the prices, the last 2 is an unitemized discount.
    tax, discount = values.balance_totals(d("100.00"), d("10.00"), d("3.00"), d("0.00"), d("108.00"))
    assert (tax, discount) == (d("0.00"), d("2.00"))
    assert d("100.00") + d("10.00") + tax - discount == d("108.00")


@pytest.mark.parametrize(
    "spelling", ["704319102", "02-704319102", "02704319102", "704319102-1", " 704319102 "]
)
def test_spellings_of_one_sale_are_the_same_reference(spelling: str) -> None:
    assert values.same_reference("02-704319102", spelling)
    assert values.same_reference(spelling, "704319102")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("704319102", "704319103"),
        ("02-704319102", "03-704319112"),
        ("", ""),
        ("1001", "11001"),
        ("", "704319102"),
    ],
)
def test_other_sales_are_not_the_same_reference(one: str, other: str) -> None:
    assert not values.same_reference(one, other)


def test_reference_forms_are_the_spellings_to_search() -> None:
    assert values.reference_forms("02-704319102") == ["02-704319102", "02704319102", "704319102"]
    assert values.reference_forms("704319102-1") == ["704319102-1", "7043191021", "704319102"]
    assert values.reference_forms("") == []


def test_sale_references_leave_out_malote_s_own_number() -> None:
    assert values.sale_references({"number": "M1", "external_id": "02-704319102"}) == ["02-704319102"]
    assert values.sale_references({"number": "M1", "external_id": "M1"}) == []
    assert values.sale_references({"number": "M1", "external_id": "", "references": ["X-1", "X-1"]}) == [
        "X-1"
    ]
