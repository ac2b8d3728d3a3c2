"""Tracking codes: S10 check digit, per-carrier registry, configurable patterns."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from malote.fiscal.errors import FiscalError
from malote.fiscal.tracking import (
    CorreiosRule,
    PatternRule,
    TrackingRule,
    carrier_key,
    configure_tracking_patterns,
    get_tracking_rule,
    register_tracking_rule,
    reset_tracking_rules,
    s10_check_digit,
    tracking_url,
    validate_tracking_code,
)


@pytest.fixture(autouse=True)
def _pristine_registry() -> Iterator[None]:
    reset_tracking_rules()
    yield
    reset_tracking_rules()


@pytest.mark.parametrize(
    ("serial", "digit"),
    [
        ("12345678", 5),
        ("46020941", 5),
        ("46020942", 9),
        ("46020943", 2),
        ("47312482", 9),
        ("10000002", 5),  # remainder 0 → 5
        ("10000014", 0),  # remainder 1 → 0
    ],
)
def test_s10_check_digit(serial: str, digit: int) -> None:
    assert s10_check_digit(serial) == digit


@pytest.mark.parametrize("serial", ["1234567", "123456789", "1234567A", "١٢٣٤٥٦٧٨"])
def test_s10_check_digit_needs_eight_digits(serial: str) -> None:
    with pytest.raises(FiscalError) as raised:
        s10_check_digit(serial)
    assert raised.value.code == "tracking_code_format"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AA123456785BR", "AA123456785BR"),
        ("SZ460209415BR", "SZ460209415BR"),
        ("SZ460209429BR", "SZ460209429BR"),
        ("SZ460209432BR", "SZ460209432BR"),
        ("RR473124829DE", "RR473124829DE"),
        ("AA473124829GB", "AA473124829GB"),
        ("JT194690698BR", "JT194690698BR"),
        ("AA100833276BR", "AA100833276BR"),
        ("AB100000025BR", "AB100000025BR"),
        ("AB100000140BR", "AB100000140BR"),
        (" aa123456785br ", "AA123456785BR"),
        ("AA 12345678 5 BR", "AA123456785BR"),
    ],
)
def test_correios_accepts_valid_s10_codes(code: str, expected: str) -> None:
    assert validate_tracking_code("correios", code) == expected


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("SS123456789BR", "tracking_code_check_digit"),
        ("AA123456784BR", "tracking_code_check_digit"),
        ("AA12345678BR", "tracking_code_format"),  # 12 characters
        ("AA1234567855BR", "tracking_code_format"),
        ("A1123456785BR", "tracking_code_format"),
        ("AA123456785B1", "tracking_code_format"),
        ("ÀA123456785BR", "tracking_code_format"),
        ("", "tracking_code_empty"),
        ("   ", "tracking_code_empty"),
        ("AA123456785BR\x00", "tracking_code_format"),
    ],
)
def test_correios_rejects_with_specific_code(code: str, error_code: str) -> None:
    with pytest.raises(FiscalError) as raised:
        validate_tracking_code("correios", code)
    assert raised.value.code == error_code


def test_correios_check_digit_error_says_what_was_expected() -> None:
    with pytest.raises(FiscalError) as raised:
        validate_tracking_code("correios", "SS123456789BR")
    assert raised.value.detail == "check digit is 9, expected 5"


@pytest.mark.parametrize("name", ["correios", "Correios", "CORREIOS", " correios ", "Córreios"])
def test_carrier_names_are_folded(name: str) -> None:
    assert isinstance(get_tracking_rule(name), CorreiosRule)
    with pytest.raises(FiscalError):
        validate_tracking_code(name, "SS123456789BR")


def test_carrier_key_folds_case_accents_spaces_and_punctuation() -> None:
    assert carrier_key("Total Express") == carrier_key("total-express") == "totalexpress"
    assert carrier_key("São Miguel") == "saomiguel"


@pytest.mark.parametrize("code", ["10080155188760", "18109001907268", " 10080155188760 "])
def test_jadlog_accepts_fourteen_digits(code: str) -> None:
    assert validate_tracking_code("Jadlog", code) == code.strip()


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("1008015518876", "tracking_code_format"),
        ("100801551887600", "tracking_code_format"),
        ("AA123456785BR", "tracking_code_format"),
        ("", "tracking_code_empty"),
    ],
)
def test_jadlog_rejects_other_shapes(code: str, error_code: str) -> None:
    with pytest.raises(FiscalError) as raised:
        validate_tracking_code("jadlog", code)
    assert raised.value.code == error_code


@pytest.mark.parametrize("code", ["28264263908", "LGI-123/abc", "x", "A" * 64, " opaque code "])
def test_carriers_without_rule_accept_opaque_codes(code: str) -> None:
    assert get_tracking_rule("Loggi") is None
    assert validate_tracking_code("Loggi", code) == code.strip()


@pytest.mark.parametrize(
    ("code", "error_code"),
    [
        ("", "tracking_code_empty"),
        (" \t\n", "tracking_code_empty"),
        ("A" * 65, "tracking_code_format"),
        ("ABC\x07DEF", "tracking_code_format"),
        ("ABC\nDEF", "tracking_code_format"),
    ],
)
def test_carriers_without_rule_reject_empty_long_or_control_characters(code: str, error_code: str) -> None:
    with pytest.raises(FiscalError) as raised:
        validate_tracking_code("Loggi", code)
    assert raised.value.code == error_code


def test_configure_tracking_patterns_adds_and_replaces_rules() -> None:
    configure_tracking_patterns({"Total Express": r"[A-Z]{3}\d{8}", "jadlog": r"\d{10,14}"})
    rule = get_tracking_rule("total express")
    assert isinstance(rule, PatternRule)
    assert validate_tracking_code("TOTAL EXPRESS", "ABC12345678") == "ABC12345678"
    with pytest.raises(FiscalError) as raised:
        validate_tracking_code("Total Express", "ABC1234567")
    assert raised.value.code == "tracking_code_format"
    assert validate_tracking_code("jadlog", "1234567890") == "1234567890"


def test_configure_tracking_patterns_rejects_bad_regex_without_partial_update() -> None:
    with pytest.raises(FiscalError) as raised:
        configure_tracking_patterns({"loggi": r"\d+", "total": r"[unclosed"})
    assert raised.value.code == "tracking_pattern_invalid"
    assert get_tracking_rule("loggi") is None


def test_register_custom_rule() -> None:
    class UpperRule(TrackingRule):
        def normalize(self, code: str) -> str:
            return super().normalize(code).upper()

    register_tracking_rule(UpperRule("Minha Transportadora"))
    assert validate_tracking_code("minha transportadora", " ab1 ") == "AB1"
    reset_tracking_rules()
    assert get_tracking_rule("minha transportadora") is None


def test_tracking_url_for_correios() -> None:
    assert (
        tracking_url("Correios", "aa123456785br")
        == "https://rastreamento.correios.com.br/app/index.php?objetos=AA123456785BR"
    )
    assert tracking_url("correios", "SS123456789BR") is None
    assert tracking_url("jadlog", "10080155188760") is None


# --- properties ---------------------------------------------------------------------------------


@given(st.sampled_from(["correios", "jadlog", "loggi", ""]), st.text())
def test_validate_tracking_code_raises_only_fiscal_error(carrier: str, code: str) -> None:
    with contextlib.suppress(FiscalError):
        validate_tracking_code(carrier, code)


@given(
    prefix=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
    serial=st.text(alphabet="0123456789", min_size=8, max_size=8),
    country=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
)
def test_s10_code_with_computed_check_digit_validates(prefix: str, serial: str, country: str) -> None:
    code = f"{prefix}{serial}{s10_check_digit(serial)}{country}"
    assert validate_tracking_code("correios", code.lower()) == code
    wrong = f"{prefix}{serial}{(s10_check_digit(serial) + 1) % 10}{country}"
    with pytest.raises(FiscalError) as raised:
        validate_tracking_code("correios", wrong)
    assert raised.value.code == "tracking_code_check_digit"
