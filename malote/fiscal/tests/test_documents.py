"""CPF, CNPJ (numeric and alphanumeric) and the CPF/CNPJ dispatcher."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from malote.fiscal.documents import (
    TaxDocument,
    cnpj_check_digits,
    cpf_check_digits,
    format_cnpj,
    format_cpf,
    normalize_cnpj,
    normalize_cpf,
    parse_tax_document,
)
from malote.fiscal.errors import FiscalError

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --- CPF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("111.444.777-35", "11144477735"),
        ("529.982.247-25", "52998224725"),
        ("11144477735", "11144477735"),
        ("  111.444.777-35\n", "11144477735"),
    ],
)
def test_normalize_cpf_accepts_valid_numbers(value: str, expected: str) -> None:
    assert normalize_cpf(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("111.444.777-36", "cpf_check_digit"),
        ("111.111.111-11", "cpf_repeated_digits"),
        ("00000000000", "cpf_repeated_digits"),
        ("1234567890", "cpf_length"),  # validate-docbr left-pads this to a valid CPF; we must not
        ("111444777350", "cpf_length"),
        ("", "cpf_length"),
        ("111 444 777 35", "cpf_invalid_characters"),
        ("111/444/777-35", "cpf_invalid_characters"),
        ("111.444.777-3A", "cpf_invalid_characters"),
        ("١١١٤٤٤٧٧٧٣٥", "cpf_invalid_characters"),  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_normalize_cpf_rejects_with_specific_code(value: str, code: str) -> None:
    with pytest.raises(FiscalError) as raised:
        normalize_cpf(value)
    assert raised.value.code == code


def test_cpf_check_digit_error_says_what_was_expected() -> None:
    with pytest.raises(FiscalError) as raised:
        normalize_cpf("111.444.777-36")
    assert raised.value.detail == "check digits are 36, expected 35"


@pytest.mark.parametrize(("base", "digits"), [("111444777", "35"), ("529982247", "25")])
def test_cpf_check_digits(base: str, digits: str) -> None:
    assert cpf_check_digits(base) == digits


@pytest.mark.parametrize("base", ["11144477", "1114447770", "11144477a"])
def test_cpf_check_digits_needs_nine_digits(base: str) -> None:
    with pytest.raises(FiscalError) as raised:
        cpf_check_digits(base)
    assert raised.value.code == "cpf_length"


def test_format_cpf() -> None:
    assert format_cpf("11144477735") == "111.444.777-35"
    with pytest.raises(FiscalError):
        format_cpf("11144477736")


# --- CNPJ ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11.222.333/0001-81", "11222333000181"),
        ("59594315000157", "59594315000157"),
        ("06.117.473/0001-50", "06117473000150"),
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),  # official RFB/Serpro alphanumeric example
        ("12abc34501de35", "12ABC34501DE35"),  # lower case is normalised
        ("0X0J92JY000196", "0X0J92JY000196"),
        (" 11.222.333/0001-81 ", "11222333000181"),
    ],
)
def test_normalize_cnpj_accepts_valid_numbers(value: str, expected: str) -> None:
    assert normalize_cnpj(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("11.222.333/0001-82", "cnpj_check_digit"),
        ("12.ABC.345/01DE-34", "cnpj_check_digit"),
        ("00.000.000/0000-00", "cnpj_repeated_digits"),  # passes the DV math, so the rule matters
        ("AAAAAAAAAAAA00", "cnpj_check_digit"),
        ("1122233300018", "cnpj_length"),
        ("112223330001811", "cnpj_length"),
        ("11.222.333/0001-8A", "cnpj_format"),  # check digits stay numeric
        ("11 222 333 0001 81", "cnpj_invalid_characters"),
        ("11.222.333_0001-81", "cnpj_invalid_characters"),
        ("12.ÀBC.345/01DE-35", "cnpj_invalid_characters"),
        ("ıı222333000181", "cnpj_invalid_characters"),  # dotless i upper-cases to ASCII 'I'
    ],
)
def test_normalize_cnpj_rejects_with_specific_code(value: str, code: str) -> None:
    with pytest.raises(FiscalError) as raised:
        normalize_cnpj(value)
    assert raised.value.code == code


def test_cnpj_check_digit_error_says_what_was_expected() -> None:
    with pytest.raises(FiscalError) as raised:
        normalize_cnpj("11.222.333/0001-82")
    assert raised.value.detail == "check digits are 82, expected 81"


def test_pending_letter_ban_is_off_by_default_and_can_be_enabled() -> None:
    base = "12ABCF345678"  # contains F, one of the letters ENCAT asked to forbid
    cnpj = base + cnpj_check_digits(base)
    assert normalize_cnpj(cnpj) == cnpj
    with pytest.raises(FiscalError) as raised:
        normalize_cnpj(cnpj, forbid_pending_letters=True)
    assert raised.value.code == "cnpj_forbidden_letter"
    assert normalize_cnpj("12.ABC.345/01DE-35", forbid_pending_letters=True) == "12ABC34501DE35"


@pytest.mark.parametrize(
    ("base", "digits"),
    [("112223330001", "81"), ("595943150001", "57"), ("12ABC34501DE", "35"), ("0X0J92JY0001", "96")],
)
def test_cnpj_check_digits(base: str, digits: str) -> None:
    assert cnpj_check_digits(base) == digits


@pytest.mark.parametrize("base", ["11222333000", "12abc34501de", "12.ABC.34501"])
def test_cnpj_check_digits_needs_twelve_upper_case_characters(base: str) -> None:
    with pytest.raises(FiscalError) as raised:
        cnpj_check_digits(base)
    assert raised.value.code == "cnpj_format"


def test_format_cnpj() -> None:
    assert format_cnpj("11222333000181") == "11.222.333/0001-81"
    assert format_cnpj("12abc34501de35") == "12.ABC.345/01DE-35"


# --- dispatcher ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "number", "formatted"),
    [
        ("111.444.777-35", "cpf", "11144477735", "111.444.777-35"),
        ("52998224725", "cpf", "52998224725", "529.982.247-25"),
        ("11.222.333/0001-81", "cnpj", "11222333000181", "11.222.333/0001-81"),
        ("12abc34501de35", "cnpj", "12ABC34501DE35", "12.ABC.345/01DE-35"),
    ],
)
def test_parse_tax_document_detects_kind(value: str, kind: str, number: str, formatted: str) -> None:
    document = parse_tax_document(value)
    assert document == TaxDocument(kind=kind, number=number)  # type: ignore[arg-type]
    assert document.formatted == formatted
    assert str(document) == formatted


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1234567890", "document_length"),
        ("123456789012", "document_length"),
        ("", "document_length"),
        ("111.444.777-36", "cpf_check_digit"),
        ("111.111.111-11", "cpf_repeated_digits"),
        ("111.444.777-3X", "cpf_invalid_characters"),
        ("11.222.333/0001-82", "cnpj_check_digit"),
        ("00.000.000/0000-00", "cnpj_repeated_digits"),
        ("12.ABC.345/01DE-34", "cnpj_check_digit"),
    ],
)
def test_parse_tax_document_reports_the_specific_rule(value: str, code: str) -> None:
    with pytest.raises(FiscalError) as raised:
        parse_tax_document(value)
    assert raised.value.code == code


# --- properties ---------------------------------------------------------------------------------


@given(st.text())
def test_document_validators_raise_only_fiscal_error(value: str) -> None:
    for validate in (normalize_cpf, normalize_cnpj, parse_tax_document):
        with contextlib.suppress(FiscalError):
            validate(value)


@given(st.text(alphabet="0123456789.-/ Aa", max_size=20))
def test_document_validators_raise_only_fiscal_error_on_near_misses(value: str) -> None:
    for validate in (normalize_cpf, normalize_cnpj, parse_tax_document):
        with contextlib.suppress(FiscalError):
            validate(value)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_cpf_with_computed_check_digits_validates(base: str) -> None:
    cpf = base + cpf_check_digits(base)
    assume(len(set(cpf)) > 1)
    assert normalize_cpf(cpf) == cpf
    assert parse_tax_document(format_cpf(cpf)) == TaxDocument("cpf", cpf)


@given(st.text(alphabet=ALPHANUMERIC, min_size=12, max_size=12))
def test_cnpj_with_computed_check_digits_validates(base: str) -> None:
    cnpj = base + cnpj_check_digits(base)
    assume(len(set(cnpj)) > 1)
    assert normalize_cnpj(cnpj.lower()) == cnpj
    assert parse_tax_document(format_cnpj(cnpj)) == TaxDocument("cnpj", cnpj)


@given(st.text(alphabet=ALPHANUMERIC, min_size=12, max_size=12), st.integers(0, 99))
def test_cnpj_with_other_check_digits_is_rejected(base: str, digits: int) -> None:
    expected = cnpj_check_digits(base)
    assume(f"{digits:02d}" != expected and len(set(base)) > 1)
    with pytest.raises(FiscalError) as raised:
        normalize_cnpj(f"{base}{digits:02d}")
    assert raised.value.code == "cnpj_check_digit"
