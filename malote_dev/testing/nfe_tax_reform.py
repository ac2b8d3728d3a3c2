"""The 2026 NF-e groups (NT 2025.002-RTC) added to the test skeleton of ``malote_dev.testing.fiscal``.

``with_tax_reform`` takes an XML built by ``build_nfe_xml`` and adds, in layout order,
``det/imposto/IBSCBS`` to the items given, ``total/IBSCBSTot`` after ``ICMSTot`` and
``ide/NFref/refNFe`` references; ``finNFe`` and ``tpNF`` are set with ``build_nfe_xml``'s
``ide_overrides``. Values are written as given (strings), so a test can also write a bad one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree

from malote.fiscal.nfe_xml import NFE_NAMESPACE
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY, build_nfe_xml


@dataclass(frozen=True)
class ItemTaxes:
    """One item's IBSCBS with the full ``gIBSCBS`` (rates in percent, values in reais)."""

    cst: str = "000"
    class_code: str = "000001"
    base: str = "100.00"
    ibs_state_rate: str = "0.1000"
    ibs_state_value: str = "0.10"
    ibs_municipal_rate: str = "0.0000"
    ibs_municipal_value: str = "0.00"
    ibs_value: str = "0.10"
    cbs_rate: str = "0.9000"
    cbs_value: str = "0.90"


# The test-period rates of 2026 (CBS 0.9 %, IBS 0.1 % state, 0 % municipal) over a base of 100.
TEST_PERIOD_TOTALS = {
    "vBCIBSCBS": "100.00",
    "vIBSUF": "0.10",
    "vIBSMun": "0.00",
    "vIBS": "0.10",
    "vCBS": "0.90",
}


def _tag(name: str) -> str:
    return f"{{{NFE_NAMESPACE}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _tag(name))
    if text is not None:
        element.text = text
    return element


def _item_group(imposto: etree._Element, taxes: ItemTaxes) -> None:
    group = _sub(imposto, "IBSCBS")
    _sub(group, "CST", taxes.cst)
    _sub(group, "cClassTrib", taxes.class_code)
    rates = _sub(group, "gIBSCBS")
    _sub(rates, "vBC", taxes.base)
    state = _sub(rates, "gIBSUF")
    _sub(state, "pIBSUF", taxes.ibs_state_rate)
    _sub(state, "vIBSUF", taxes.ibs_state_value)
    municipal = _sub(rates, "gIBSMun")
    _sub(municipal, "pIBSMun", taxes.ibs_municipal_rate)
    _sub(municipal, "vIBSMun", taxes.ibs_municipal_value)
    _sub(rates, "vIBS", taxes.ibs_value)
    cbs = _sub(rates, "gCBS")
    _sub(cbs, "pCBS", taxes.cbs_rate)
    _sub(cbs, "vCBS", taxes.cbs_value)


def _totals_group(total: etree._Element, values: Mapping[str, str]) -> None:
    group = etree.Element(_tag("IBSCBSTot"))
    icms_tot = total.find(_tag("ICMSTot"))
    if icms_tot is None:
        raise ValueError("the XML has no total/ICMSTot")
    icms_tot.addnext(group)
    _sub(group, "vBCIBSCBS", values["vBCIBSCBS"])
    ibs = _sub(group, "gIBS")
    for level, value in (("gIBSUF", "vIBSUF"), ("gIBSMun", "vIBSMun")):
        part = _sub(ibs, level)
        _sub(part, "vDif", "0.00")
        _sub(part, "vDevTrib", "0.00")
        _sub(part, value, values[value])
    _sub(ibs, "vIBS", values["vIBS"])
    _sub(ibs, "vCredPres", "0.00")
    _sub(ibs, "vCredPresCondSus", "0.00")
    cbs = _sub(group, "gCBS")
    _sub(cbs, "vDif", "0.00")
    _sub(cbs, "vDevTrib", "0.00")
    _sub(cbs, "vCBS", values["vCBS"])
    _sub(cbs, "vCredPres", "0.00")
    _sub(cbs, "vCredPresCondSus", "0.00")


def with_tax_reform(
    xml: str,
    *,
    items: Mapping[int, ItemTaxes] | None = None,
    totals: Mapping[str, str] | None = None,
    referenced_keys: Sequence[str] = (),
) -> str:
    """``xml`` with IBSCBS on the items numbered in ``items`` (1-based), ``IBSCBSTot`` from
    ``totals`` (keys as in :data:`TEST_PERIOD_TOTALS`) and one ``NFref/refNFe`` per key."""
    root = etree.fromstring(xml.encode("utf-8"))
    inf_nfe = root.find(f".//{_tag('infNFe')}")
    if inf_nfe is None:
        raise ValueError("the XML has no infNFe")
    ide = inf_nfe.find(_tag("ide"))
    if ide is None:
        raise ValueError("the XML has no ide")
    for key in referenced_keys:
        _sub(_sub(ide, "NFref"), "refNFe", key)
    for position, det in enumerate(inf_nfe.findall(_tag("det")), start=1):
        taxes = (items or {}).get(position)
        if taxes is None:
            continue
        imposto = det.find(_tag("imposto"))
        if imposto is None:
            imposto = _sub(det, "imposto")
        _item_group(imposto, taxes)
    if totals is not None:
        total = inf_nfe.find(_tag("total"))
        if total is None:
            raise ValueError("the XML has no total")
        _totals_group(total, totals)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


# Two items with IBSCBS, as the order page and the tests show them; their sum is TWO_ITEM_TOTALS.
SHIRT_TAXES = ItemTaxes(base="100.00", ibs_state_value="0.10", ibs_value="0.10", cbs_value="0.90")
SOCKS_TAXES = ItemTaxes(
    cst="200",
    class_code="200032",
    base="20.00",
    ibs_state_rate="0.0400",
    ibs_state_value="0.01",
    ibs_municipal_rate="0.0200",
    ibs_municipal_value="0.00",
    ibs_value="0.01",
    cbs_rate="0.3600",
    cbs_value="0.07",
)
TWO_ITEM_TOTALS = {"vBCIBSCBS": "120.00", "vIBSUF": "0.11", "vIBSMun": "0.00", "vIBS": "0.11", "vCBS": "0.97"}


def reform_invoice_input(
    total: Decimal,
    recipient_document: str,
    *,
    ide: Mapping[str, str] | None = None,
    referenced_keys: Sequence[str] = (),
    groups: bool = True,
) -> dict[str, Any]:
    """``invoice`` transition input for an order of ``total`` and customer ``recipient_document``
    (CPF): the sample key, its number, series and date, and an XML of two items (the first worth
    ``total`` − 10, the second 10.00) with IBSCBS on both and IBSCBSTot (unless ``groups`` is
    false). ``ide`` overrides ``finNFe``, ``tpNF``…"""
    lines: list[tuple[str, str, int, Decimal | str]] = [
        ("CHINELO-42", "Chinelo", 1, total - Decimal("10.00")),
        ("MEIA-01", "Meia", 1, "10.00"),
    ]
    xml = build_nfe_xml(
        SAMPLE_NFE_KEY, total=total, lines=lines, recipient_cpf=recipient_document, ide_overrides=ide
    )
    if groups or referenced_keys:
        xml = with_tax_reform(
            xml,
            items={1: SHIRT_TAXES, 2: SOCKS_TAXES} if groups else None,
            totals=TWO_ITEM_TOTALS if groups else None,
            referenced_keys=referenced_keys,
        )
    return {
        "key": SAMPLE_NFE_KEY,
        "number": "1234",
        "series": "1",
        "issued_at": "2025-03-15T10:30:00-03:00",
        "xml": xml,
    }
