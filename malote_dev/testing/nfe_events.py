"""NF-e event files (``procEventoNFe``) shaped like SEFAZ's, built in the tests.

:func:`build_nfe_event_xml` writes a cancellation (110111) or carta de correção (110110) for a valid
key: the signed request ``evento/infEvento`` (the signature itself is a placeholder) and SEFAZ's
answer ``retEvento/infEvento`` with cStat 135, its protocol and ``dhRegEvento``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from lxml import etree

from malote.fiscal.nfe_event import EVENT_CODES, NfeEventType
from malote.fiscal.nfe_key import parse_nfe_key
from malote.fiscal.nfe_xml import NFE_NAMESPACE
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY

BRASILIA = timezone(timedelta(hours=-3))
JUSTIFICATION = "Pedido cancelado pelo cliente antes do envio"
CORRECTION = "Corrige o complemento do endereco do destinatario: apto 42"
_DESCRIPTIONS = {"110111": "Cancelamento", "110110": "Carta de Correcao"}
_CONDITIONS = (
    "A Carta de Correcao e disciplinada pelo paragrafo 1o-A do art. 7o do Convenio S/N, de 15 de"
    " dezembro de 1970 e pode ser utilizada para regularizacao de erro ocorrido na emissao de"
    " documento fiscal, desde que o erro nao esteja relacionado com: I - as variaveis que"
    " determinam o valor do imposto"
)


def event_protocol(key: str, sequence: int = 1, kind: str = "cancellation") -> str:
    """A 15-digit protocol in the shape SEFAZ writes (1 + cUF + YY + a 10-digit number)."""
    parsed = parse_nfe_key(key)
    serial = parsed.number * 100 + sequence * 2 + (kind == "correction")
    return f"1{parsed.cuf:02d}{parsed.year % 100:02d}{serial:010d}"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NFE_NAMESPACE}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def build_nfe_event_xml(
    key: str = SAMPLE_NFE_KEY,
    *,
    kind: str = "cancellation",
    sequence: int = 1,
    text: str | None = None,
    registered_at: datetime | None = None,
    protocol: str | None = None,
    c_stat: str = "135",
    authorization_protocol: str = "",
    answer_overrides: Mapping[str, str] | None = None,
) -> str:
    """A ``procEventoNFe`` for ``key``. ``registered_at`` defaults to the 15th of the key's month,
    12:00 at -03:00 (an hour and a half after ``build_nfe_xml``'s authorization);
    ``answer_overrides`` replaces ``retEvento/infEvento`` children by tag."""
    parsed = parse_nfe_key(key)
    code = EVENT_CODES[NfeEventType(kind)]
    when = registered_at or datetime(parsed.year, parsed.month, 15, 12, 0, tzinfo=BRASILIA)
    body = text if text is not None else (JUSTIFICATION if kind == "cancellation" else CORRECTION)
    default_namespace: Any = {None: NFE_NAMESPACE}
    root = etree.Element(f"{{{NFE_NAMESPACE}}}procEventoNFe", nsmap=default_namespace)
    root.set("versao", "1.00")
    evento = _sub(root, "evento", versao="1.00")
    request = _sub(evento, "infEvento", Id=f"ID{code}{parsed.key}{sequence:02d}")
    _sub(request, "cOrgao", f"{parsed.cuf:02d}")
    _sub(request, "tpAmb", "1")
    _sub(request, "CNPJ", parsed.emitter_document)
    _sub(request, "chNFe", parsed.key)
    _sub(request, "dhEvento", (when - timedelta(seconds=5)).isoformat(timespec="seconds"))
    _sub(request, "tpEvento", code)
    _sub(request, "nSeqEvento", str(sequence))
    _sub(request, "verEvento", "1.00")
    detail = _sub(request, "detEvento", versao="1.00")
    _sub(detail, "descEvento", _DESCRIPTIONS[code])
    if kind == "cancellation":
        _sub(
            detail,
            "nProt",
            authorization_protocol or f"1{parsed.cuf:02d}{parsed.year % 100:02d}{parsed.number:010d}",
        )
        _sub(detail, "xJust", body)
    else:
        _sub(detail, "xCorrecao", body)
        _sub(detail, "xCondUso", _CONDITIONS)
    signature = etree.SubElement(evento, "{http://www.w3.org/2000/09/xmldsig#}Signature")
    signature.text = "placeholder"
    answer = _sub(_sub(root, "retEvento", versao="1.00"), "infEvento")
    fields = {
        "tpAmb": "1",
        "verAplic": "SP_EVENTOS_PL_100",
        "cOrgao": f"{parsed.cuf:02d}",
        "cStat": c_stat,
        "xMotivo": "Evento registrado e vinculado a NF-e" if c_stat == "135" else "Rejeicao",
        "chNFe": parsed.key,
        "tpEvento": code,
        "xEvento": _DESCRIPTIONS[code] + " registrado",
        "nSeqEvento": str(sequence),
        "dhRegEvento": when.isoformat(timespec="seconds"),
        "nProt": protocol or event_protocol(parsed.key, sequence, kind),
    }
    fields.update(answer_overrides or {})
    for tag, value in fields.items():
        _sub(answer, tag, value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")
