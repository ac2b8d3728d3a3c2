"""Synthetic NF-e fixtures for Malote's tests (no personal data, no real invoices).

:func:`build_nfe_xml` writes a small NF-e 4.00 document whose ``ide``/``emit`` fields are taken
from the access key, so :func:`malote.fiscal.nfe_xml.cross_check_key` passes for any valid key.
The document is *not* XSD-complete (no taxes or signature): it is meant for
:func:`malote.fiscal.nfe_xml.parse_nfe_xml`, not for a SEFAZ. Every argument that breaks the
consistency on purpose (``ide_overrides``, ``emitter_document``, ``issued_at``, ``protocol_key``)
exists to build negative fixtures.

Importable from any test (it lives outside ``tests/``); it has no test-framework dependency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from lxml import etree

from malote.fiscal.nfe_key import NfeKey, build_nfe_key, parse_nfe_key
from malote.fiscal.nfe_xml import NFE_NAMESPACE

#: A self-consistent key: SP, 2025-03, issuer CNPJ 11.222.333/0001-81, model 55, series 1,
#: number 1234, normal emission, code 12345678, check digit 3 (verified).
SAMPLE_NFE_KEY = "35250311222333000181550010000012341123456783"
SAMPLE_EMITTER_CNPJ = "11222333000181"
SAMPLE_RECIPIENT_CPF = "11144477735"

#: ``(code, description, quantity, unit_price)`` of one invoice item.
LineSpec = tuple[str, str, Decimal | str | int, Decimal | str | int]

_BRASILIA = timezone(timedelta(hours=-3))
_STATUS_MESSAGES = {
    "100": "Autorizado o uso da NF-e",
    "150": "Autorizado o uso da NF-e, autorizacao fora de prazo",
    "110": "Uso Denegado",
    "301": "Uso Denegado: Irregularidade fiscal do emitente",
    "302": "Uso Denegado: Irregularidade fiscal do destinatario",
}
_CENT = Decimal("0.01")


def make_nfe_key(
    number: int = 1234,
    *,
    cuf: int = 35,
    year: int = 2025,
    month: int = 3,
    emitter_document: str = SAMPLE_EMITTER_CNPJ,
    model: str = "55",
    series: int = 1,
    emission_type: str = "1",
    code: str = "12345678",
) -> str:
    """A valid access key with sensible defaults; vary ``number`` to get distinct invoices."""
    return build_nfe_key(
        cuf=cuf,
        year=year,
        month=month,
        emitter_document=emitter_document,
        model=model,
        series=series,
        number=number,
        emission_type=emission_type,
        code=code,
    )


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NFE_NAMESPACE}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _ide(inf_nfe: etree._Element, key: NfeKey, issued_at: datetime, environment: str) -> etree._Element:
    ide = _sub(inf_nfe, "ide")
    values = [
        ("cUF", f"{key.cuf:02d}"),
        ("cNF", key.code),
        ("natOp", "Venda de mercadoria"),
        ("mod", key.model),
        ("serie", str(key.series)),
        ("nNF", str(key.number)),
        ("dhEmi", issued_at.isoformat(timespec="seconds")),
        ("tpNF", "1"),
        ("idDest", "1"),
        ("cMunFG", f"{key.cuf:02d}00000"),  # shape only; not a real municipality code
        ("tpImp", "4" if key.model == "65" else "1"),
        ("tpEmis", key.emission_type),
        ("cDV", str(key.check_digit)),
        ("tpAmb", environment),
        ("finNFe", "1"),
        ("indFinal", "1"),
        ("indPres", "2"),
        ("procEmi", "0"),
        ("verProc", "malote-tests"),
    ]
    for tag, text in values:
        _sub(ide, tag, text)
    return ide


def _emit(inf_nfe: etree._Element, key: NfeKey, document: str, name: str) -> None:
    emit = _sub(inf_nfe, "emit")
    _sub(emit, "CNPJ" if len(document) == 14 else "CPF", document)
    _sub(emit, "xNome", name)
    address = _sub(emit, "enderEmit")
    for tag, text in [
        ("xLgr", "Rua de Teste"),
        ("nro", "100"),
        ("xBairro", "Centro"),
        ("cMun", f"{key.cuf:02d}00000"),
        ("xMun", "Cidade de Teste"),
        ("UF", key.uf),
        ("CEP", "01001000"),
    ]:
        _sub(address, tag, text)
    _sub(emit, "IE", "ISENTO")
    _sub(emit, "CRT", "3")


def _dest(inf_nfe: etree._Element, cpf: str | None, cnpj: str | None, name: str) -> None:
    if cpf is None and cnpj is None:
        return
    dest = _sub(inf_nfe, "dest")
    if cnpj is not None:
        _sub(dest, "CNPJ", cnpj)
    else:
        _sub(dest, "CPF", cpf)
    _sub(dest, "xNome", name)
    _sub(dest, "indIEDest", "9")


def _item(inf_nfe: etree._Element, position: int, line: LineSpec) -> Decimal:
    code, description, quantity, unit_price = line
    gross = (Decimal(quantity) * Decimal(unit_price)).quantize(_CENT)
    det = _sub(inf_nfe, "det", nItem=str(position))
    prod = _sub(det, "prod")
    for tag, text in [
        ("cProd", code),
        ("cEAN", "SEM GTIN"),
        ("xProd", description),
        ("NCM", "61091000"),
        ("CFOP", "5102"),
        ("uCom", "UN"),
        ("qCom", f"{Decimal(quantity):.4f}"),
        ("vUnCom", f"{Decimal(unit_price):.10f}"),
        ("vProd", f"{gross:.2f}"),
        ("cEANTrib", "SEM GTIN"),
        ("uTrib", "UN"),
        ("qTrib", f"{Decimal(quantity):.4f}"),
        ("vUnTrib", f"{Decimal(unit_price):.10f}"),
        ("indTot", "1"),
    ]:
        _sub(prod, tag, text)
    return gross


def _protocol(
    proc: etree._Element,
    key: NfeKey,
    protocol_key: str,
    c_stat: str,
    x_motivo: str,
    environment: str,
    received_at: datetime,
) -> None:
    prot = _sub(proc, "protNFe", versao="4.00")
    inf_prot = _sub(prot, "infProt")
    _sub(inf_prot, "tpAmb", environment)
    _sub(inf_prot, "verAplic", "SP_NFE_PL009_V4")
    _sub(inf_prot, "chNFe", protocol_key)
    _sub(inf_prot, "dhRecbto", received_at.isoformat(timespec="seconds"))
    if c_stat in _STATUS_MESSAGES:  # authorizations and denials carry a protocol number
        _sub(inf_prot, "nProt", f"1{key.cuf:02d}{key.year % 100:02d}{key.number:010d}")
    _sub(inf_prot, "digVal", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    _sub(inf_prot, "cStat", c_stat)
    _sub(inf_prot, "xMotivo", x_motivo)


def build_nfe_xml(
    key: str = SAMPLE_NFE_KEY,
    *,
    total: Decimal | str | None = None,
    lines: Sequence[LineSpec] | None = None,
    recipient_cpf: str | None = SAMPLE_RECIPIENT_CPF,
    recipient_cnpj: str | None = None,
    recipient_name: str = "Cliente de Teste",
    emitter_name: str = "Loja de Teste Ltda",
    emitter_document: str | None = None,
    environment: str = "1",
    issued_at: datetime | None = None,
    proc: bool = True,
    c_stat: str = "100",
    x_motivo: str | None = None,
    protocol_key: str | None = None,
    ide_overrides: Mapping[str, str] | None = None,
) -> str:
    """Return an NF-e 4.00 XML (``nfeProc`` when ``proc``, else bare ``NFe``) for a valid ``key``.

    * ``key``: any valid NF-e/NFC-e key; cUF, dhEmi's year/month, the issuer's CNPJ or CPF, mod,
      serie, nNF, tpEmis, cNF and cDV are copied from it. ``issued_at`` defaults to the 15th of
      the key's month, 10:30 at -03:00.
    * Items: ``lines`` as ``(code, description, quantity, unit_price)``; by default one item of
      2 × ``total``/2. ``total`` (vNF) defaults to the sum of the items, or 100.00 with no items
      given. Giving both allows a total that differs from the items.
    * Recipient: ``recipient_cnpj`` if given, else ``recipient_cpf``; both ``None`` → no ``dest``.
    * ``c_stat`` / ``x_motivo`` / ``protocol_key`` fill ``protNFe`` (``protocol_key`` defaults to
      ``key``). ``ide_overrides`` replaces ``ide`` children by tag, e.g. ``{"tpEmis": "2"}``.
    """
    parsed = parse_nfe_key(key, models=frozenset({"55", "65"}))
    when = issued_at or datetime(parsed.year, parsed.month, 15, 10, 30, tzinfo=_BRASILIA)
    if lines is None:
        vnf = Decimal(total if total is not None else "100.00")
        lines = [("SKU-001", "Produto de teste", 2, vnf / 2)]

    root_tag = "nfeProc" if proc else "NFe"
    # Default namespace, as in real files; lxml-stubs do not allow the None prefix.
    default_namespace: Any = {None: NFE_NAMESPACE}
    root = etree.Element(f"{{{NFE_NAMESPACE}}}{root_tag}", nsmap=default_namespace)
    if proc:
        root.set("versao", "4.00")
        nfe = _sub(root, "NFe")
    else:
        nfe = root
    inf_nfe = _sub(nfe, "infNFe", versao="4.00", Id=f"NFe{parsed.key}")
    ide = _ide(inf_nfe, parsed, when, environment)
    for tag, text in (ide_overrides or {}).items():
        element = ide.find(f"{{{NFE_NAMESPACE}}}{tag}")
        if element is None:
            raise ValueError(f"ide has no element {tag!r}")
        element.text = text
    _emit(inf_nfe, parsed, emitter_document or parsed.emitter_document, emitter_name)
    _dest(inf_nfe, recipient_cpf, recipient_cnpj, recipient_name)
    items_total = sum(
        (_item(inf_nfe, position, line) for position, line in enumerate(lines, start=1)), Decimal("0")
    )
    vnf = Decimal(total) if total is not None else items_total
    icms_tot = _sub(_sub(inf_nfe, "total"), "ICMSTot")
    _sub(icms_tot, "vProd", f"{items_total:.2f}")
    _sub(icms_tot, "vNF", f"{vnf:.2f}")
    # Transport and payment groups are mandatory in real files; DANFE renderers read them.
    _sub(_sub(inf_nfe, "transp"), "modFrete", "9")
    det_pag = _sub(_sub(inf_nfe, "pag"), "detPag")
    _sub(det_pag, "tPag", "17")
    _sub(det_pag, "vPag", f"{vnf:.2f}")
    if proc:
        _protocol(
            root,
            parsed,
            protocol_key if protocol_key is not None else parsed.key,
            c_stat,
            x_motivo if x_motivo is not None else _STATUS_MESSAGES.get(c_stat, "Rejeicao"),
            environment,
            when + timedelta(minutes=1),
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")
