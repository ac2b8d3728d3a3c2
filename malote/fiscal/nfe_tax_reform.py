"""The 2026 NF-e (NT 2025.002-RTC): purpose, direction, references and the IBS/CBS groups.

Read from the nfelib objects that :mod:`malote.fiscal.nfe_xml` binds (never from raw text), so
the hardened lxml parse in front of it still applies. Every group is optional: an NF-e issued
before the tax reform has none and reads as it always did (no items, no totals).

Values are kept as ``Decimal`` exactly as written (``800`` stays ``800``, ``1.50`` stays
``1.50``). A group that is present but unreadable (a value that is not a number, a CST that is
not three digits, a required value missing) raises ``nfe_xml_ibscbs_invalid`` naming the field;
a return (``finNFe`` 4) that references a malformed NF-e key raises
``nfe_xml_referenced_key_invalid``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from malote.fiscal.errors import FiscalError, FiscalErrorCode
from malote.fiscal.nfe_key import compact_nfe_key, parse_nfe_key

# TDec1302RTC / TDec_0302_04RTC: unsigned, a dot and up to four decimals (values, rates).
_TAX_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,4})?")
_CST = re.compile(r"[0-9]{3}")
_CLASS_CODE = re.compile(r"[0-9]{6}")


class NfePurpose(StrEnum):
    """``ide/finNFe``: why the NF-e was issued (5 and 6 arrived with the tax reform)."""

    NORMAL = "1"
    COMPLEMENTARY = "2"
    ADJUSTMENT = "3"
    RETURN = "4"  # devolução/retorno
    CREDIT_NOTE = "5"
    DEBIT_NOTE = "6"


class NfeDirection(StrEnum):
    """``ide/tpNF``: 0 entrada (goods coming in, e.g. a return), 1 saída."""

    INBOUND = "0"
    OUTBOUND = "1"


@dataclass(frozen=True)
class NfeTaxReformItem:
    """One item's ``imposto/IBSCBS``. The rates and values are ``None`` when the item carries only
    CST and ``cClassTrib`` (e.g. an exempt operation, or the monophasic and credit-transfer
    choices, which Malote does not break down)."""

    item_number: int
    code: str
    description: str
    cst: str
    class_code: str
    base: Decimal | None = None
    ibs_state_rate: Decimal | None = None
    ibs_state_value: Decimal | None = None
    ibs_municipal_rate: Decimal | None = None
    ibs_municipal_value: Decimal | None = None
    ibs_value: Decimal | None = None
    cbs_rate: Decimal | None = None
    cbs_value: Decimal | None = None


@dataclass(frozen=True)
class NfeTaxReformTotals:
    """``total/IBSCBSTot``: the base and the IBS (state, municipal, sum) and CBS totals.

    The IBS and CBS values are ``None`` when their groups (``gIBS``, ``gCBS``) are absent.
    """

    base: Decimal
    ibs_state: Decimal | None = None
    ibs_municipal: Decimal | None = None
    ibs: Decimal | None = None
    cbs: Decimal | None = None


def _value(node: Any, path: str) -> Any:
    """Follow a dotted attribute path; ``None`` if a step is missing or the text is blank."""
    current = node
    for name in path.split("."):
        current = getattr(current, name, None)
        if current is None:
            return None
    current = getattr(current, "value", current)  # enums are read as their XML text
    if isinstance(current, str):
        return current.strip() or None
    return current


def _invalid(detail: str) -> FiscalError:
    return FiscalError(FiscalErrorCode.NFE_XML_IBSCBS_INVALID, detail)


def _tax_decimal(node: Any, path: str, label: str) -> Decimal:
    text = _value(node, path)
    if text is None:
        raise _invalid(f"{label} is missing")
    if not _TAX_DECIMAL.fullmatch(str(text)):
        raise _invalid(f"{label} must be a non-negative decimal number, got {str(text)!r}")
    return Decimal(str(text))


def _in_group(group: Any, path: str, label: str) -> Decimal | None:
    """A required value of an optional group: ``None`` when the group itself is absent."""
    return None if group is None else _tax_decimal(group, path, label)


def _code(node: Any, path: str, label: str, pattern: re.Pattern[str]) -> str:
    text = _value(node, path)
    if text is None:
        raise _invalid(f"{label} is missing")
    if not pattern.fullmatch(str(text)):
        raise _invalid(f"{label} must be {pattern.pattern}, got {str(text)!r}")
    return str(text)


def _item(position: int, det: Any, group: Any) -> NfeTaxReformItem:
    where = f"det[{position}]/imposto/IBSCBS"
    item = NfeTaxReformItem(
        item_number=position,
        code=str(_value(det, "prod.cProd") or ""),
        description=str(_value(det, "prod.xProd") or ""),
        cst=_code(group, "CST", f"{where}/CST", _CST),
        class_code=_code(group, "cClassTrib", f"{where}/cClassTrib", _CLASS_CODE),
    )
    rates = getattr(group, "gIBSCBS", None)
    if rates is None:
        return item
    where = f"{where}/gIBSCBS"
    values = {
        "base": ("vBC", "vBC"),
        "ibs_state_rate": ("gIBSUF.pIBSUF", "gIBSUF/pIBSUF"),
        "ibs_state_value": ("gIBSUF.vIBSUF", "gIBSUF/vIBSUF"),
        "ibs_municipal_rate": ("gIBSMun.pIBSMun", "gIBSMun/pIBSMun"),
        "ibs_municipal_value": ("gIBSMun.vIBSMun", "gIBSMun/vIBSMun"),
        "ibs_value": ("vIBS", "vIBS"),
        "cbs_rate": ("gCBS.pCBS", "gCBS/pCBS"),
        "cbs_value": ("gCBS.vCBS", "gCBS/vCBS"),
    }
    read: dict[str, Any] = {
        name: _tax_decimal(rates, path, f"{where}/{label}") for name, (path, label) in values.items()
    }
    return replace(item, **read)


def read_tax_reform_items(inf_nfe: Any) -> tuple[NfeTaxReformItem, ...]:
    """The ``det/imposto/IBSCBS`` of every item that has one, in item order."""
    items = []
    for position, det in enumerate(getattr(inf_nfe, "det", None) or [], start=1):
        group = _value(det, "imposto.IBSCBS")
        if group is not None:
            items.append(_item(position, det, group))
    return tuple(items)


def read_tax_reform_totals(inf_nfe: Any) -> NfeTaxReformTotals | None:
    """``total/IBSCBSTot``, or ``None`` when the NF-e has no such group."""
    group = _value(inf_nfe, "total.IBSCBSTot")
    if group is None:
        return None
    where = "total/IBSCBSTot"
    ibs = getattr(group, "gIBS", None)
    cbs = getattr(group, "gCBS", None)
    return NfeTaxReformTotals(
        base=_tax_decimal(group, "vBCIBSCBS", f"{where}/vBCIBSCBS"),
        ibs_state=_in_group(ibs, "gIBSUF.vIBSUF", f"{where}/gIBS/gIBSUF/vIBSUF"),
        ibs_municipal=_in_group(ibs, "gIBSMun.vIBSMun", f"{where}/gIBS/gIBSMun/vIBSMun"),
        ibs=_in_group(ibs, "vIBS", f"{where}/gIBS/vIBS"),
        cbs=_in_group(cbs, "vCBS", f"{where}/gCBS/vCBS"),
    )


def read_purpose(ide: Any) -> NfePurpose:
    """``ide/finNFe``; nfelib's binding already refuses a value outside 1–6."""
    text = _value(ide, "finNFe")
    try:
        return NfePurpose(text)
    except ValueError as error:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_FIELD, f"ide/finNFe must be 1 to 6, got {text!r}"
        ) from error


def read_direction(ide: Any) -> NfeDirection:
    """``ide/tpNF``: 0 entrada, 1 saída."""
    text = _value(ide, "tpNF")
    try:
        return NfeDirection(text)
    except ValueError as error:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_FIELD, f"ide/tpNF must be 0 or 1, got {text!r}"
        ) from error


def read_referenced_keys(ide: Any, purpose: NfePurpose) -> tuple[str, ...]:
    """Every ``ide/NFref/refNFe``, compacted. A return (``finNFe`` 4) names the NF-e it returns,
    so there each key must be a valid NF-e or NFC-e key (check digit, UF, month, model, issuer);
    other purposes keep the keys as written (older files carry stale references)."""
    keys = []
    for position, reference in enumerate(getattr(ide, "NFref", None) or [], start=1):
        text = _value(reference, "refNFe")
        if text is None:
            continue  # refNF, refNFP, refCTe, refECF: paper notes and other documents
        if purpose is NfePurpose.RETURN:
            try:
                keys.append(parse_nfe_key(str(text)).key)
            except FiscalError as error:
                raise FiscalError(
                    FiscalErrorCode.NFE_XML_REFERENCED_KEY_INVALID,
                    f"ide/NFref[{position}]/refNFe is not a valid NF-e key ({error.code}): {error.detail}",
                ) from error
        else:
            keys.append(compact_nfe_key(str(text)))
    return tuple(keys)
