"""The 2026 NF-e (NT 2025.002-RTC): IBS/CBS groups, finNFe 1–6, tpNF and referenced keys."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from malote.fiscal.errors import FiscalError
from malote.fiscal.nfe_tax_reform import NfeDirection, NfePurpose, NfeTaxReformItem, NfeTaxReformTotals
from malote.fiscal.nfe_xml import check_nfe_xml_against_key, parse_nfe_xml
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.nfe_tax_reform import SHIRT_TAXES, SOCKS_TAXES, TWO_ITEM_TOTALS, with_tax_reform

TWO_LINES = [("A", "Camiseta", 2, "50.00"), ("B", "Meia", 1, "20.00")]
SHIRT, SOCKS, TOTALS = SHIRT_TAXES, SOCKS_TAXES, TWO_ITEM_TOTALS
NEW_FIELDS = ("purpose", "direction", "referenced_keys", "tax_reform_items", "tax_reform_totals")


def _reform_xml(**ide: str) -> str:
    plain = build_nfe_xml(lines=TWO_LINES, ide_overrides=ide or None)
    return with_tax_reform(plain, items={1: SHIRT, 2: SOCKS}, totals=TOTALS)


def _expect(xml: str, code: str) -> FiscalError:
    with pytest.raises(FiscalError) as raised:
        parse_nfe_xml(xml)
    assert raised.value.code == code, raised.value.detail
    return raised.value


def test_ibscbs_on_two_items_and_the_totals_are_read_exactly() -> None:
    doc = parse_nfe_xml(_reform_xml())
    assert doc.tax_reform_items == (
        NfeTaxReformItem(
            item_number=1,
            code="A",
            description="Camiseta",
            cst="000",
            class_code="000001",
            base=Decimal("100.00"),
            ibs_state_rate=Decimal("0.1000"),
            ibs_state_value=Decimal("0.10"),
            ibs_municipal_rate=Decimal("0.0000"),
            ibs_municipal_value=Decimal("0.00"),
            ibs_value=Decimal("0.10"),
            cbs_rate=Decimal("0.9000"),
            cbs_value=Decimal("0.90"),
        ),
        NfeTaxReformItem(
            item_number=2,
            code="B",
            description="Meia",
            cst="200",
            class_code="200032",
            base=Decimal("20.00"),
            ibs_state_rate=Decimal("0.0400"),
            ibs_state_value=Decimal("0.01"),
            ibs_municipal_rate=Decimal("0.0200"),
            ibs_municipal_value=Decimal("0.00"),
            ibs_value=Decimal("0.01"),
            cbs_rate=Decimal("0.3600"),
            cbs_value=Decimal("0.07"),
        ),
    )
    assert doc.tax_reform_totals == NfeTaxReformTotals(
        base=Decimal("120.00"),
        ibs_state=Decimal("0.11"),
        ibs_municipal=Decimal("0.00"),
        ibs=Decimal("0.11"),
        cbs=Decimal("0.97"),
    )
    assert str(doc.tax_reform_totals.cbs) == "0.97"  # exact, not a float


def test_the_groups_change_nothing_else() -> None:
    plain = parse_nfe_xml(build_nfe_xml(lines=TWO_LINES))
    reformed = parse_nfe_xml(_reform_xml())
    blank: dict[str, Any] = dict.fromkeys(NEW_FIELDS)
    assert dataclasses.replace(plain, **blank) == dataclasses.replace(reformed, **blank)
    check_nfe_xml_against_key(reformed, reformed.key)


def test_an_nfe_without_the_groups_reads_as_before() -> None:
    doc = parse_nfe_xml(build_nfe_xml())
    assert doc.tax_reform_items == ()
    assert doc.tax_reform_totals is None
    assert doc.purpose is NfePurpose.NORMAL and doc.direction is NfeDirection.OUTBOUND
    assert doc.referenced_keys == () and doc.returned_key is None


def test_an_item_with_only_cst_and_class_has_no_values() -> None:
    xml = with_tax_reform(build_nfe_xml(lines=TWO_LINES), items={2: SOCKS})
    root_free = xml.replace("<gIBSCBS>", "<!--").replace("</gIBSCBS>", "-->")
    (item,) = parse_nfe_xml(root_free).tax_reform_items
    assert (item.item_number, item.cst, item.class_code) == (2, "200", "200032")
    assert item.base is None and item.cbs_value is None


def test_the_nfelib_reform_sample_is_read() -> None:
    sample = resources.files("nfelib") / "nfe/samples/v4_0/leiauteNFe/nfe_reforma_tributaria.xml"
    doc = parse_nfe_xml(sample.read_bytes())
    (item,) = doc.tax_reform_items
    assert (item.cst, item.class_code, item.base, item.cbs_rate, item.cbs_value) == (
        "000",
        "000001",
        Decimal("800"),
        Decimal("0.09"),
        Decimal("101"),
    )
    assert doc.tax_reform_totals == NfeTaxReformTotals(
        base=Decimal("2000.50"),
        ibs_state=Decimal("30"),
        ibs_municipal=Decimal("40"),
        ibs=Decimal("50"),
        cbs=Decimal("87.29"),
    )


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        ("<vCBS>0.90</vCBS>", "det[1]/imposto/IBSCBS/gIBSCBS/gCBS/vCBS"),
        ("<vBCIBSCBS>120.00</vBCIBSCBS>", "total/IBSCBSTot/vBCIBSCBS"),
        ("<vIBS>0.11</vIBS>", "total/IBSCBSTot/gIBS/vIBS"),
        ("<pIBSUF>0.0400</pIBSUF>", "det[2]/imposto/IBSCBS/gIBSCBS/gIBSUF/pIBSUF"),
    ],
)
def test_a_non_numeric_value_is_a_coded_error_naming_the_field(broken: str, field: str) -> None:
    xml = _reform_xml()
    assert broken in xml
    tag = broken[1 : broken.index(">")]
    error = _expect(xml.replace(broken, f"<{tag}>1,5</{tag}>", 1), "nfe_xml_ibscbs_invalid")
    assert field in error.detail and "'1,5'" in error.detail


@pytest.mark.parametrize(
    ("original", "replacement", "field"),
    [
        ("<CST>000</CST>", "<CST>00</CST>", "det[1]/imposto/IBSCBS/CST"),
        (
            "<cClassTrib>200032</cClassTrib>",
            "<cClassTrib>2000X2</cClassTrib>",
            "det[2]/imposto/IBSCBS/cClassTrib",
        ),
        ("<vCBS>0.97</vCBS>", "<vCBS>-0.97</vCBS>", "total/IBSCBSTot/gCBS/vCBS"),
        ("<vBC>100.00</vBC>", "<vBC></vBC>", "det[1]/imposto/IBSCBS/gIBSCBS/vBC"),
    ],
)
def test_other_malformed_groups_are_refused(original: str, replacement: str, field: str) -> None:
    xml = _reform_xml()
    assert original in xml
    error = _expect(xml.replace(original, replacement, 1), "nfe_xml_ibscbs_invalid")
    assert field in error.detail


@pytest.mark.parametrize(
    ("fin_nfe", "purpose"),
    [
        ("1", NfePurpose.NORMAL),
        ("2", NfePurpose.COMPLEMENTARY),
        ("3", NfePurpose.ADJUSTMENT),
        ("5", NfePurpose.CREDIT_NOTE),
        ("6", NfePurpose.DEBIT_NOTE),
    ],
)
def test_fin_nfe_is_the_purpose(fin_nfe: str, purpose: NfePurpose) -> None:
    doc = parse_nfe_xml(_reform_xml(finNFe=fin_nfe))
    assert doc.purpose is purpose
    assert doc.tax_reform_totals is not None


def test_an_unknown_fin_nfe_is_refused() -> None:
    _expect(build_nfe_xml(ide_overrides={"finNFe": "7"}), "nfe_xml_malformed")


def test_a_return_keeps_its_checked_referenced_key_and_direction() -> None:
    original = make_nfe_key(number=77)
    xml = with_tax_reform(
        build_nfe_xml(ide_overrides={"finNFe": "4", "tpNF": "0"}), referenced_keys=[original.lower()]
    )
    doc = parse_nfe_xml(xml)
    assert doc.purpose is NfePurpose.RETURN and doc.direction is NfeDirection.INBOUND
    assert doc.referenced_keys == (original,)
    assert doc.returned_key == original


def test_a_return_whose_referenced_key_fails_its_check_digit_is_refused() -> None:
    original = make_nfe_key(number=77)
    wrong = original[:43] + str((int(original[43]) + 1) % 10)
    xml = with_tax_reform(build_nfe_xml(ide_overrides={"finNFe": "4"}), referenced_keys=[wrong])
    error = _expect(xml, "nfe_xml_referenced_key_invalid")
    assert "nfe_key_check_digit" in error.detail and "NFref[1]" in error.detail


def test_other_purposes_keep_references_as_written() -> None:
    stale = "21323412888283895737729149494949494171688099"  # as in nfelib's reform sample
    xml = with_tax_reform(build_nfe_xml(ide_overrides={"finNFe": "5"}), referenced_keys=[stale])
    doc = parse_nfe_xml(xml)
    assert doc.referenced_keys == (stale,) and doc.returned_key is None


def test_an_alphanumeric_cnpj_emitter_with_the_groups_is_read() -> None:
    # The CNPJ of the alphanumeric example key in docs/fiscal.md, on an NF-e (model 55).
    key = make_nfe_key(emitter_document="0X0J92JY000196", year=2026, month=7)
    assert key[6:18] == "0X0J92JY0001"
    xml = with_tax_reform(build_nfe_xml(key, lines=TWO_LINES), items={1: SHIRT, 2: SOCKS}, totals=TOTALS)
    doc = parse_nfe_xml(xml)
    assert doc.key == key and doc.emitter_document == "0X0J92JY000196"
    assert doc.tax_reform_totals is not None and doc.tax_reform_totals.cbs == Decimal("0.97")
    check_nfe_xml_against_key(doc, key)
