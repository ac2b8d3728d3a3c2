"""UF codes, CEP shape and the CEP ↔ UF plausibility check."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from malote.fiscal.address import (
    UF_BY_CODE,
    UF_CODES,
    cep_matches_uf,
    format_cep,
    normalize_cep,
    normalize_uf,
)
from malote.fiscal.errors import FiscalError


def test_uf_codes_are_the_27_ibge_codes() -> None:
    assert len(UF_CODES) == 27
    assert set(UF_CODES.values()) == {
        11, 12, 13, 14, 15, 16, 17, 21, 22, 23, 24, 25, 26, 27, 28, 29,
        31, 32, 33, 35, 41, 42, 43, 50, 51, 52, 53,
    }  # fmt: skip
    assert UF_CODES["SP"] == 35  # not 34, a common mistake
    assert UF_BY_CODE[53] == "DF"


@pytest.mark.parametrize(("value", "expected"), [("SP", "SP"), (" sp ", "SP"), ("Df", "DF"), ("rs", "RS")])
def test_normalize_uf_accepts_the_27_units(value: str, expected: str) -> None:
    assert normalize_uf(value) == expected


@pytest.mark.parametrize("value", ["", "EX", "XX", "S P", "São Paulo", "ſp", "35"])
def test_normalize_uf_rejects_anything_else(value: str) -> None:
    with pytest.raises(FiscalError) as raised:
        normalize_uf(value)
    assert raised.value.code == "uf_invalid"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("01001-000", "01001000"), ("87704030", "87704030"), (" 15810-150\t", "15810150")],
)
def test_normalize_cep_accepts_both_shapes(value: str, expected: str) -> None:
    assert normalize_cep(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1234-567", "cep_format"),
        ("01001--000", "cep_format"),
        ("01.001-000", "cep_format"),
        ("0100100", "cep_format"),
        ("010010000", "cep_format"),
        ("01001 000", "cep_format"),
        ("٠١٠٠١٠٠٠", "cep_format"),  # non-ASCII digits
        ("", "cep_format"),
        ("00000000", "cep_zero"),
        ("00000-000", "cep_zero"),
    ],
)
def test_normalize_cep_rejects_with_specific_code(value: str, code: str) -> None:
    with pytest.raises(FiscalError) as raised:
        normalize_cep(value)
    assert raised.value.code == code


def test_format_cep() -> None:
    assert format_cep("87704030") == "87704-030"


@pytest.mark.parametrize(
    ("cep", "uf"),
    [
        ("01001-000", "SP"),
        ("87704030", "PR"),
        ("15810150", "SP"),
        ("69300000", "RR"),
        ("69400000", "AM"),
        ("73000-000", "DF"),
        ("73700-000", "go"),
        ("99999999", "RS"),
        ("78900-000", "RO"),  # legacy Rondônia range
    ],
)
def test_cep_matches_uf_inside_ranges(cep: str, uf: str) -> None:
    assert cep_matches_uf(cep, uf)


@pytest.mark.parametrize(("cep", "uf"), [("01001-000", "RJ"), ("69300000", "AM"), ("72900-000", "DF")])
def test_cep_matches_uf_outside_ranges(cep: str, uf: str) -> None:
    assert not cep_matches_uf(cep, uf)


def test_every_cep_prefix_belongs_to_exactly_one_uf() -> None:
    # The table is contiguous from 01000-000 to 99999-999 with no overlaps.
    for prefix in range(1000, 100_000, 7):
        cep = f"{prefix:05d}000"
        assert sum(cep_matches_uf(cep, uf) for uf in UF_CODES) == 1, cep


@given(st.text(), st.text())
def test_address_validators_raise_only_fiscal_error(cep: str, uf: str) -> None:
    for call in (lambda: normalize_cep(cep), lambda: normalize_uf(uf), lambda: cep_matches_uf(cep, uf)):
        with contextlib.suppress(FiscalError):
            call()
