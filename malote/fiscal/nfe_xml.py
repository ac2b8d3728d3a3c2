"""NF-e XML (layout 4.00): safe parsing into plain dataclasses, and key ↔ XML cross-checks.

Parsing happens in two steps:

1. lxml with a hardened parser (no DTD loading, no entity expansion, no network, comments and
   processing instructions dropped) proves the document is well-formed, has no DOCTYPE (which
   rules out XXE and entity bombs) and has an NF-e root (``nfeProc`` or ``NFe`` in the
   ``http://www.portalfiscal.inf.br/nfe`` namespace);
2. nfelib's xsdata bindings map the checked tree to objects, which are read through the small
   typed helpers below and copied into :class:`NfeDocument`.

Nothing from lxml, xsdata or nfelib escapes: every failure is a :class:`FiscalError`.
Parsing checks structure and the key's own validity, not the XSD: the skeletons used in tests
are deliberately not schema-complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lxml import etree

from malote.fiscal.errors import FiscalError, FiscalErrorCode
from malote.fiscal.nfe_key import compact_nfe_key, parse_nfe_key
from malote.fiscal.nfe_tax_reform import (
    NfeDirection,
    NfePurpose,
    NfeTaxReformItem,
    NfeTaxReformTotals,
    read_direction,
    read_purpose,
    read_referenced_keys,
    read_tax_reform_items,
    read_tax_reform_totals,
)

NFE_NAMESPACE = "http://www.portalfiscal.inf.br/nfe"
_ROOT_PROC = f"{{{NFE_NAMESPACE}}}nfeProc"
_ROOT_NFE = f"{{{NFE_NAMESPACE}}}NFe"
AUTHORIZED_STATUS_CODES = frozenset({"100", "150"})

_XML_DECLARATION = re.compile(r"<\?xml\s[^>]*\?>")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_UNSIGNED = re.compile(r"[0-9]+")
# Cheap pre-scan; the parsed tree is checked again because other encodings (UTF-16) hide it.
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


@dataclass(frozen=True)
class NfeLine:
    """One item (``det``): commercial code, description, quantity, unit price, gross value."""

    code: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal


@dataclass(frozen=True)
class NfeAuthorization:
    """The SEFAZ answer in ``protNFe/infProt``.

    ``protocol`` is empty when the answer carries no protocol number (rejections).
    """

    key: str
    status_code: str
    message: str
    protocol: str
    received_at: datetime | None

    @property
    def is_authorized(self) -> bool:
        """cStat 100 (authorized) or 150 (authorized out of deadline)."""
        return self.status_code in AUTHORIZED_STATUS_CODES


@dataclass(frozen=True)
class NfeDocument:
    """The fields of an NF-e that an order hub uses.

    ``authorization`` is ``None`` for a bare ``NFe`` (not yet proven authorized).
    ``purpose`` (``finNFe``), ``direction`` (``tpNF``), ``referenced_keys`` (``NFref/refNFe``)
    and the IBS/CBS groups of the 2026 NF-e are described in :mod:`malote.fiscal.nfe_tax_reform`;
    an NF-e without those groups has no ``tax_reform_items`` and ``tax_reform_totals`` ``None``.
    ``emitter_document`` / ``recipient_document`` hold a CNPJ (14) or CPF (11) as written in the
    XML; a foreign recipient (``idEstrangeiro``) or an NFC-e without recipient gives ``None``.
    """

    key: str
    number: int
    series: int
    issued_at: datetime
    model: str
    environment: str
    emission_type: str
    random_code: str
    check_digit: int
    cuf: int
    emitter_document: str
    emitter_name: str
    recipient_document: str | None
    recipient_name: str | None
    total: Decimal
    lines: tuple[NfeLine, ...]
    authorization: NfeAuthorization | None
    purpose: NfePurpose = NfePurpose.NORMAL
    direction: NfeDirection = NfeDirection.OUTBOUND
    referenced_keys: tuple[str, ...] = ()
    tax_reform_items: tuple[NfeTaxReformItem, ...] = ()
    tax_reform_totals: NfeTaxReformTotals | None = None

    @property
    def returned_key(self) -> str | None:
        """The NF-e a return (``finNFe`` 4) gives back: its first referenced NF-e key, checked."""
        if self.purpose is NfePurpose.RETURN and self.referenced_keys:
            return self.referenced_keys[0]
        return None

    @property
    def is_authorized(self) -> bool:
        """Wrapped in ``nfeProc`` with an authorizing ``protNFe``."""
        return self.authorization is not None and self.authorization.is_authorized


# --- step 1: safe, strict lxml parse -----------------------------------------------------------


def _to_bytes(xml: str | bytes) -> bytes:
    if isinstance(xml, bytes):
        return xml
    # A str is already decoded: its declaration's encoding no longer applies, and lxml refuses
    # str input that has one. Drop it and hand lxml UTF-8.
    text = xml.lstrip("\ufeff")
    declaration = _XML_DECLARATION.match(text)
    if declaration is not None:
        text = text[declaration.end() :]
    return text.encode("utf-8")


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def hardened_root(xml: str | bytes, what: str = "the NF-e XML") -> etree._Element:
    """The root of a fiscal XML document read with no DTD, entity, network or huge tree (``what``
    names the document in the errors): ``nfe_xml_empty``, ``nfe_xml_doctype``, ``nfe_xml_malformed``."""
    if not xml or not xml.strip():
        raise FiscalError(FiscalErrorCode.NFE_XML_EMPTY, f"{what} is empty")
    data = _to_bytes(xml)
    if any(marker in data for marker in _DTD_MARKERS):
        raise FiscalError(
            FiscalErrorCode.NFE_XML_DOCTYPE, f"{what} must not contain a DOCTYPE or entity declarations"
        )
    try:
        root = etree.fromstring(data, parser=_safe_parser())
    except (etree.LxmlError, ValueError) as error:
        raise FiscalError(FiscalErrorCode.NFE_XML_MALFORMED, f"{what} is not well-formed: {error}") from error
    # lxml-stubs lack DocInfo.doctype, which also catches a bare "<!DOCTYPE x>".
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_DOCTYPE, f"{what} must not contain a DOCTYPE or entity declarations"
        )
    return root


def _parse_root(xml: str | bytes) -> etree._Element:
    root = hardened_root(xml)
    if root.tag not in (_ROOT_PROC, _ROOT_NFE):
        raise FiscalError(
            FiscalErrorCode.NFE_XML_ROOT,
            f"root element is {root.tag!r}, expected nfeProc or NFe in namespace {NFE_NAMESPACE}",
        )
    return root


# --- step 2: nfelib binding, read through typed helpers ----------------------------------------


def _bind(root: etree._Element) -> Any:
    """Map the checked tree to nfelib objects (``NfeProc`` or ``Nfe``, decided by the root)."""
    # Imported here: loading the generated bindings is slow and only XML parsing needs them.
    from nfelib.nfe.bindings.v4_0.nfe_v4_00 import Nfe
    from nfelib.nfe.bindings.v4_0.proc_nfe_v4_00 import NfeProc
    from xsdata.formats.dataclass.parsers.config import ParserConfig

    # Unknown elements (newer layouts, extensions) are skipped; values that do not fit the
    # binding's types (e.g. an unknown tpEmis) become errors instead of silent warnings.
    config = ParserConfig(fail_on_unknown_properties=False, fail_on_converter_warnings=True)
    binding_class: Any = NfeProc if root.tag == _ROOT_PROC else Nfe
    try:
        bound = binding_class.from_xml(etree.tostring(root, encoding="unicode"), config)
    except Exception as error:  # xsdata raises several unrelated types (ParserError, ConverterError, ...)
        raise FiscalError(
            FiscalErrorCode.NFE_XML_MALFORMED, f"the XML does not fit NF-e layout 4.00: {error}"
        ) from error
    if not isinstance(bound, binding_class):
        raise FiscalError(
            FiscalErrorCode.NFE_XML_ROOT, f"expected {binding_class.__name__}, got {type(bound).__name__}"
        )
    return bound


def _optional(node: Any, path: str) -> Any:
    """Follow a dotted attribute path; ``None`` if any step is missing or empty."""
    current = node
    for name in path.split("."):
        current = getattr(current, name, None)
        if current is None:
            return None
    # Enum values (mod, tpAmb, cUF, ...) are read as their XML text.
    current = getattr(current, "value", current)
    if isinstance(current, str):
        current = current.strip()
        return current or None
    return current


def _required(node: Any, path: str, label: str) -> Any:
    value = _optional(node, path)
    if value is None:
        raise FiscalError(FiscalErrorCode.NFE_XML_MISSING_FIELD, f"the NF-e XML has no {label}")
    return value


def _required_text(node: Any, path: str, label: str) -> str:
    return str(_required(node, path, label))


def _decimal(node: Any, path: str, label: str) -> Decimal:
    text = _required_text(node, path, label)
    if not _DECIMAL.fullmatch(text):
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_FIELD, f"{label} must be a decimal number, got {text!r}"
        )
    return Decimal(text)


def _unsigned(node: Any, path: str, label: str) -> int:
    text = _required_text(node, path, label)
    if not _UNSIGNED.fullmatch(text):
        raise FiscalError(FiscalErrorCode.NFE_XML_INVALID_FIELD, f"{label} must be digits, got {text!r}")
    return int(text)


def _issued_at(ide: Any) -> datetime:
    text = _required_text(ide, "dhEmi", "ide/dhEmi")
    try:
        issued_at = datetime.fromisoformat(text)
    except ValueError as error:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_FIELD, f"ide/dhEmi is not a date-time: {text!r}"
        ) from error
    if issued_at.tzinfo is None:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_FIELD, f"ide/dhEmi must carry a UTC offset, got {text!r}"
        )
    return issued_at


def _received_at(inf_prot: Any) -> datetime | None:
    value = _optional(inf_prot, "dhRecbto")
    if value is None:
        return None
    # nfelib types dhRecbto as xsdata's XmlDateTime; tolerate a plain string too.
    try:
        received_at = (
            value.to_datetime() if hasattr(value, "to_datetime") else datetime.fromisoformat(str(value))
        )
    except (ValueError, TypeError, OverflowError) as error:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_FIELD, f"protNFe/infProt/dhRecbto is not a date-time: {value}"
        ) from error
    if not isinstance(received_at, datetime) or received_at.tzinfo is None:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_FIELD, "protNFe/infProt/dhRecbto must carry a UTC offset"
        )
    return received_at


def _lines(inf_nfe: Any) -> tuple[NfeLine, ...]:
    items = getattr(inf_nfe, "det", None) or []
    if not items:
        raise FiscalError(FiscalErrorCode.NFE_XML_MISSING_FIELD, "the NF-e XML has no det (items)")
    lines = []
    for position, item in enumerate(items, start=1):
        where = f"det[{position}]/prod"
        lines.append(
            NfeLine(
                code=_required_text(item, "prod.cProd", f"{where}/cProd"),
                description=_required_text(item, "prod.xProd", f"{where}/xProd"),
                quantity=_decimal(item, "prod.qCom", f"{where}/qCom"),
                unit_price=_decimal(item, "prod.vUnCom", f"{where}/vUnCom"),
                total=_decimal(item, "prod.vProd", f"{where}/vProd"),
            )
        )
    return tuple(lines)


def _document_key(inf_nfe: Any) -> str:
    identifier = _required_text(inf_nfe, "Id", "infNFe/@Id")
    if not identifier.startswith("NFe"):
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_KEY,
            f"infNFe/@Id must be 'NFe' followed by the access key, got {identifier!r}",
        )
    try:
        return parse_nfe_key(identifier[3:]).key
    except FiscalError as error:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INVALID_KEY, f"infNFe/@Id holds an invalid key: {error.detail}"
        ) from error


def _authorization(prot_nfe: Any, key: str) -> NfeAuthorization:
    inf_prot = _required(prot_nfe, "infProt", "protNFe/infProt")
    protocol_key = _required_text(inf_prot, "chNFe", "protNFe/infProt/chNFe")
    if compact_nfe_key(protocol_key) != key:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_PROTOCOL_KEY_MISMATCH,
            f"protNFe authorizes key {protocol_key}, but the invoice's key is {key}",
        )
    return NfeAuthorization(
        key=key,
        status_code=_required_text(inf_prot, "cStat", "protNFe/infProt/cStat"),
        message=_optional(inf_prot, "xMotivo") or "",
        protocol=_optional(inf_prot, "nProt") or "",
        received_at=_received_at(inf_prot),
    )


def parse_nfe_xml(xml: str | bytes) -> NfeDocument:
    """Parse an ``nfeProc`` or bare ``NFe`` document (layout 4.00).

    Error codes: ``nfe_xml_empty``, ``nfe_xml_doctype``, ``nfe_xml_malformed``, ``nfe_xml_root``,
    ``nfe_xml_missing_field`` (the detail names the field), ``nfe_xml_invalid_field`` (a number
    or date that cannot be read), ``nfe_xml_invalid_key`` (``infNFe/@Id`` is not ``NFe`` + a
    valid NF-e/NFC-e key), ``nfe_xml_protocol_key_mismatch``, ``nfe_xml_ibscbs_invalid`` (an
    IBS/CBS group that cannot be read), ``nfe_xml_referenced_key_invalid`` (a return whose
    ``refNFe`` is no valid key).
    """
    root = _parse_root(xml)
    bound = _bind(root)
    is_proc = root.tag == _ROOT_PROC
    nfe = _required(bound, "NFe", "NFe") if is_proc else bound
    inf_nfe = _required(nfe, "infNFe", "infNFe")
    key = _document_key(inf_nfe)
    ide = _required(inf_nfe, "ide", "ide")
    emit = _required(inf_nfe, "emit", "emit")
    dest = _optional(inf_nfe, "dest")
    emitter_document = _optional(emit, "CNPJ") or _optional(emit, "CPF")
    if emitter_document is None:
        raise FiscalError(FiscalErrorCode.NFE_XML_MISSING_FIELD, "the NF-e XML has no emit/CNPJ or emit/CPF")
    authorization = None
    if is_proc:
        authorization = _authorization(_required(bound, "protNFe", "protNFe"), key)
    purpose = read_purpose(ide)
    return NfeDocument(
        key=key,
        number=_unsigned(ide, "nNF", "ide/nNF"),
        series=_unsigned(ide, "serie", "ide/serie"),
        issued_at=_issued_at(ide),
        model=_required_text(ide, "mod", "ide/mod"),
        environment=_required_text(ide, "tpAmb", "ide/tpAmb"),
        emission_type=_required_text(ide, "tpEmis", "ide/tpEmis"),
        random_code=_required_text(ide, "cNF", "ide/cNF"),
        check_digit=_unsigned(ide, "cDV", "ide/cDV"),
        cuf=_unsigned(ide, "cUF", "ide/cUF"),
        emitter_document=str(emitter_document),
        emitter_name=_required_text(emit, "xNome", "emit/xNome"),
        recipient_document=_optional(dest, "CNPJ") or _optional(dest, "CPF"),
        recipient_name=_optional(dest, "xNome"),
        total=_decimal(inf_nfe, "total.ICMSTot.vNF", "total/ICMSTot/vNF"),
        lines=_lines(inf_nfe),
        authorization=authorization,
        purpose=purpose,
        direction=read_direction(ide),
        referenced_keys=read_referenced_keys(ide, purpose),
        tax_reform_items=read_tax_reform_items(inf_nfe),
        tax_reform_totals=read_tax_reform_totals(inf_nfe),
    )


# --- key ↔ XML consistency -----------------------------------------------------------------------


def cross_check_key(doc: NfeDocument) -> list[str]:
    """Compare the key's fields with the ``ide``/``emit`` values; return the mismatching XML fields.

    The names returned are ``cUF``, ``dhEmi`` (year/month), ``emit`` (CNPJ/CPF), ``mod``,
    ``serie``, ``nNF``, ``tpEmis``, ``cNF`` and ``cDV``; an empty list means consistent. A
    mismatch means the file was edited or generated by faulty software.
    """
    key = doc.key
    emitter = doc.emitter_document.zfill(14) if len(doc.emitter_document) == 11 else doc.emitter_document
    # The key's YYMM is the issue date as written in dhEmi, i.e. in the issuer's own UTC offset.
    expected = {
        "cUF": f"{doc.cuf:02d}",
        "dhEmi": doc.issued_at.strftime("%y%m"),
        "emit": emitter,
        "mod": doc.model,
        "serie": f"{doc.series:03d}",
        "nNF": f"{doc.number:09d}",
        "tpEmis": doc.emission_type,
        "cNF": doc.random_code,
        "cDV": str(doc.check_digit),
    }
    in_key = {
        "cUF": key[0:2],
        "dhEmi": key[2:6],
        "emit": key[6:20],
        "mod": key[20:22],
        "serie": key[22:25],
        "nNF": key[25:34],
        "tpEmis": key[34],
        "cNF": key[35:43],
        "cDV": key[43],
    }
    return [name for name, value in expected.items() if in_key[name] != value]


def check_nfe_xml_against_key(doc: NfeDocument, key: str) -> None:
    """Ensure ``doc`` is the invoice of ``key`` and is internally consistent.

    ``key`` may contain spaces or lower-case letters. Error codes: ``nfe_xml_key_mismatch``
    (the XML is another invoice), ``nfe_xml_inconsistent`` (the detail lists the fields).
    """
    expected_key = compact_nfe_key(key)
    if doc.key != expected_key:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_KEY_MISMATCH, f"the XML is invoice {doc.key}, expected {expected_key}"
        )
    mismatches = cross_check_key(doc)
    if mismatches:
        raise FiscalError(
            FiscalErrorCode.NFE_XML_INCONSISTENT,
            f"the XML's {', '.join(mismatches)} do not match its access key {doc.key}",
        )
