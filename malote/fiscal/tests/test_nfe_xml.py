"""NF-e XML parsing, hardening and key ↔ XML cross-checks, on synthetic fixtures only."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from malote.fiscal.errors import FiscalError
from malote.fiscal.nfe_key import nfe_key_check_digit
from malote.fiscal.nfe_xml import (
    NfeAuthorization,
    NfeLine,
    check_nfe_xml_against_key,
    cross_check_key,
    parse_nfe_xml,
)
from malote_dev.testing.fiscal import (
    SAMPLE_EMITTER_CNPJ,
    SAMPLE_NFE_KEY,
    SAMPLE_RECIPIENT_CPF,
    build_nfe_xml,
    make_nfe_key,
)

NS = "http://www.portalfiscal.inf.br/nfe"
BRASILIA = timezone(timedelta(hours=-3))
OTHER_VALID_KEY = "42211275277525000178550030000276771368212013"


def expect_error(xml: str | bytes, code: str) -> FiscalError:
    with pytest.raises(FiscalError) as raised:
        parse_nfe_xml(xml)
    assert raised.value.code == code, raised.value.detail
    return raised.value


def test_sample_key_check_digit_verifies() -> None:
    # The synthetic skeleton key: its DV 3 is what the modulo-11 routine computes.
    assert nfe_key_check_digit(SAMPLE_NFE_KEY[:43]) == 3
    assert make_nfe_key() == SAMPLE_NFE_KEY


def test_skeleton_binds_with_nfelib() -> None:
    from nfelib.nfe.bindings.v4_0.nfe_v4_00 import Nfe
    from nfelib.nfe.bindings.v4_0.proc_nfe_v4_00 import NfeProc
    from xsdata.formats.dataclass.parsers.config import ParserConfig

    config = ParserConfig(fail_on_unknown_properties=False)
    proc = NfeProc.from_xml(build_nfe_xml(), config)
    assert isinstance(proc, NfeProc)
    assert proc.NFe.infNFe.Id == f"NFe{SAMPLE_NFE_KEY}"
    assert proc.protNFe.infProt.cStat == "100"
    # from_xml follows the root, not the class it is called on.
    assert isinstance(NfeProc.from_xml(build_nfe_xml(proc=False), config), Nfe)


def test_skeleton_nfe_proc_fields() -> None:
    doc = parse_nfe_xml(build_nfe_xml())
    assert doc.key == SAMPLE_NFE_KEY
    assert (doc.number, doc.series, doc.model, doc.environment) == (1234, 1, "55", "1")
    assert doc.issued_at == datetime(2025, 3, 15, 10, 30, tzinfo=BRASILIA)
    assert doc.issued_at.utcoffset() == timedelta(hours=-3)
    assert (doc.emission_type, doc.random_code, doc.check_digit, doc.cuf) == ("1", "12345678", 3, 35)
    assert (doc.emitter_document, doc.emitter_name) == (SAMPLE_EMITTER_CNPJ, "Loja de Teste Ltda")
    assert (doc.recipient_document, doc.recipient_name) == (SAMPLE_RECIPIENT_CPF, "Cliente de Teste")
    assert doc.total == Decimal("100.00")
    assert doc.lines == (
        NfeLine(
            code="SKU-001",
            description="Produto de teste",
            quantity=Decimal("2"),
            unit_price=Decimal("50"),
            total=Decimal("100.00"),
        ),
    )
    assert doc.authorization == NfeAuthorization(
        key=SAMPLE_NFE_KEY,
        status_code="100",
        message="Autorizado o uso da NF-e",
        protocol="135250000001234",
        received_at=datetime(2025, 3, 15, 10, 31, tzinfo=BRASILIA),
    )
    assert doc.authorization.is_authorized
    assert doc.is_authorized
    assert cross_check_key(doc) == []
    check_nfe_xml_against_key(doc, SAMPLE_NFE_KEY)
    check_nfe_xml_against_key(doc, "3525 0311 2223 3300 0181 5500 1000 0012 3411 2345 6783")


def test_skeleton_bare_nfe_is_not_proven_authorized() -> None:
    doc = parse_nfe_xml(build_nfe_xml(proc=False))
    assert doc.key == SAMPLE_NFE_KEY
    assert doc.authorization is None
    assert not doc.is_authorized
    assert doc.total == Decimal("100.00")
    assert cross_check_key(doc) == []


def test_bytes_and_encoding_declarations() -> None:
    xml = build_nfe_xml(emitter_name="Confecções São João Ltda")
    assert parse_nfe_xml(xml.encode("utf-8")).emitter_name == "Confecções São João Ltda"
    latin1 = xml.replace("encoding='UTF-8'", "encoding='ISO-8859-1'").encode("iso-8859-1")
    assert parse_nfe_xml(latin1).emitter_name == "Confecções São João Ltda"
    # A str keeps working even when its declaration names another encoding.
    assert parse_nfe_xml(latin1.decode("iso-8859-1")).emitter_name == "Confecções São João Ltda"
    assert parse_nfe_xml("\ufeff" + xml).key == SAMPLE_NFE_KEY


@pytest.mark.parametrize(
    ("c_stat", "authorized"), [("100", True), ("150", True), ("302", False), ("204", False)]
)
def test_authorization_status(c_stat: str, authorized: bool) -> None:
    doc = parse_nfe_xml(build_nfe_xml(c_stat=c_stat))
    assert doc.authorization is not None
    assert doc.authorization.status_code == c_stat
    assert doc.is_authorized is authorized


def test_rejection_without_protocol_number() -> None:
    doc = parse_nfe_xml(build_nfe_xml(c_stat="204", x_motivo="Rejeicao: Duplicidade de NF-e"))
    assert doc.authorization is not None
    assert (doc.authorization.protocol, doc.authorization.message) == ("", "Rejeicao: Duplicidade de NF-e")


def test_recipient_variants() -> None:
    with_cnpj = parse_nfe_xml(build_nfe_xml(recipient_cnpj="12ABC34501DE35", recipient_name="Empresa"))
    assert (with_cnpj.recipient_document, with_cnpj.recipient_name) == ("12ABC34501DE35", "Empresa")
    without = parse_nfe_xml(build_nfe_xml(recipient_cpf=None))
    assert (without.recipient_document, without.recipient_name) == (None, None)


def test_several_lines_and_total() -> None:
    doc = parse_nfe_xml(build_nfe_xml(lines=[("A", "Camiseta", 3, "19.90"), ("B", "Meia", "1.5", "10.00")]))
    assert [line.total for line in doc.lines] == [Decimal("59.70"), Decimal("15.00")]
    assert doc.total == Decimal("74.70")


@pytest.mark.parametrize(
    "key",
    [
        OTHER_VALID_KEY,
        "13181017921427000125650010000000309887251170",  # NFC-e, tpEmis 9
        "42221200050690671849559100000000811540256167",  # issuer CPF (series 910)
        make_nfe_key(1, emitter_document="12ABC34501DE35"),  # alphanumeric CNPJ
    ],
)
def test_builder_is_consistent_for_any_valid_key(key: str) -> None:
    doc = parse_nfe_xml(build_nfe_xml(key))
    assert doc.key == key
    assert cross_check_key(doc) == []
    check_nfe_xml_against_key(doc, key.lower())


def test_issue_month_is_read_in_the_issuers_offset() -> None:
    # 23:30 at -03:00 on March 31st is already April in UTC; the key says 2503.
    doc = parse_nfe_xml(build_nfe_xml(issued_at=datetime(2025, 3, 31, 23, 30, tzinfo=BRASILIA)))
    assert cross_check_key(doc) == []


# --- key ↔ XML inconsistencies ------------------------------------------------------------------


def test_inconsistent_emission_type() -> None:
    doc = parse_nfe_xml(build_nfe_xml(ide_overrides={"tpEmis": "2"}))
    assert cross_check_key(doc) == ["tpEmis"]
    with pytest.raises(FiscalError) as raised:
        check_nfe_xml_against_key(doc, SAMPLE_NFE_KEY)
    assert raised.value.code == "nfe_xml_inconsistent"
    assert "tpEmis" in raised.value.detail


def test_key_says_tpemis_2_dv_5_but_ide_says_1_and_7() -> None:
    # Shape of nfelib's 4117… sample: the key was edited after the XML was written.
    key = "41170706117473000150550010000463202612756525"
    doc = parse_nfe_xml(build_nfe_xml(key, ide_overrides={"tpEmis": "1", "cDV": "7"}))
    assert cross_check_key(doc) == ["tpEmis", "cDV"]


def test_edited_month_and_issuer() -> None:
    # Shape of nfelib's nfe_reforma_tributaria.xml: dhEmi and emit/CNPJ differ from the key.
    doc = parse_nfe_xml(
        build_nfe_xml(
            issued_at=datetime(2025, 4, 2, 9, 0, tzinfo=BRASILIA),
            emitter_document="59594315000157",
        )
    )
    assert cross_check_key(doc) == ["dhEmi", "emit"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cUF": "41"}, "cUF"),
        ({"mod": "65"}, "mod"),
        ({"serie": "2"}, "serie"),
        ({"nNF": "1235"}, "nNF"),
        ({"cNF": "87654321"}, "cNF"),
        ({"cDV": "4"}, "cDV"),
    ],
)
def test_each_ide_field_is_cross_checked(overrides: dict[str, str], field: str) -> None:
    assert cross_check_key(parse_nfe_xml(build_nfe_xml(ide_overrides=overrides))) == [field]


def test_xml_of_another_invoice() -> None:
    doc = parse_nfe_xml(build_nfe_xml())
    with pytest.raises(FiscalError) as raised:
        check_nfe_xml_against_key(doc, OTHER_VALID_KEY)
    assert raised.value.code == "nfe_xml_key_mismatch"


def test_edited_key_in_protocol() -> None:
    error = expect_error(build_nfe_xml(protocol_key=OTHER_VALID_KEY), "nfe_xml_protocol_key_mismatch")
    assert OTHER_VALID_KEY in error.detail


# --- malformed, hostile and incomplete documents -----------------------------------------------


@pytest.mark.parametrize("xml", ["", "   \n", b"", b"  "])
def test_empty(xml: str | bytes) -> None:
    expect_error(xml, "nfe_xml_empty")


@pytest.mark.parametrize(
    "xml",
    [
        build_nfe_xml()[:-20],  # truncated
        build_nfe_xml().replace("</dest>", ""),  # unbalanced
        "not xml at all",
        "<nfeProc xmlns='http://www.portalfiscal.inf.br/nfe'><NFe>&undefined;</NFe></nfeProc>",
        build_nfe_xml().encode("utf-8") + b"\xff\xfe garbage",
    ],
)
def test_malformed(xml: str | bytes) -> None:
    expect_error(xml, "nfe_xml_malformed")


def test_value_outside_the_layout_is_malformed() -> None:
    # tpEmis 8 does not exist in the XSD enumeration: nfelib cannot bind it.
    expect_error(build_nfe_xml(ide_overrides={"tpEmis": "8"}), "nfe_xml_malformed")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe"><NFe>&lol4;</NFe></nfeProc>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE nfeProc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nfeProc xmlns="http://www.portalfiscal.inf.br/nfe"><NFe>&xxe;</NFe></nfeProc>"""


@pytest.mark.parametrize(
    "xml",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        EXTERNAL_ENTITY.encode("utf-8"),
        # UTF-16 hides the DOCTYPE from a byte scan; the parsed tree is checked too.
        EXTERNAL_ENTITY.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),
        build_nfe_xml().replace("?>", '?>\n<!DOCTYPE nfeProc SYSTEM "http://example.invalid/nfe.dtd">', 1),
    ],
)
def test_doctype_and_entities_are_refused(xml: str | bytes) -> None:
    expect_error(xml, "nfe_xml_doctype")


@pytest.mark.parametrize(
    "xml",
    [
        build_nfe_xml().replace("nfeProc", "cteProc"),
        f"<inutNFe xmlns='{NS}' versao='4.00'/>",
        build_nfe_xml().replace(NS, "http://example.com/nfe"),  # wrong namespace
        build_nfe_xml().replace(f' xmlns="{NS}"', ""),  # no namespace
        "<html><body>NF-e</body></html>",
    ],
)
def test_wrong_root(xml: str) -> None:
    expect_error(xml, "nfe_xml_root")


@pytest.mark.parametrize(
    ("xml", "field"),
    [
        (re.sub(r"<total>.*</total>", "", build_nfe_xml()), "total/ICMSTot/vNF"),
        (re.sub(r"<vNF>.*</vNF>", "", build_nfe_xml()), "total/ICMSTot/vNF"),
        (re.sub(r"<det .*</det>", "", build_nfe_xml()), "det"),
        (re.sub(r"<nNF>.*</nNF>", "", build_nfe_xml()), "ide/nNF"),
        (re.sub(r"<dhEmi>.*</dhEmi>", "", build_nfe_xml()), "ide/dhEmi"),
        (re.sub(r"<CNPJ>11222333000181</CNPJ>", "", build_nfe_xml()), "emit/CNPJ"),
        (re.sub(r"<xNome>Loja de Teste Ltda</xNome>", "", build_nfe_xml()), "emit/xNome"),
        (re.sub(r"<protNFe .*</protNFe>", "", build_nfe_xml()), "protNFe"),
        (re.sub(r"<cStat>.*</cStat>", "", build_nfe_xml()), "protNFe/infProt/cStat"),
        (re.sub(r" Id=\"[^\"]*\"", "", build_nfe_xml()), "infNFe/@Id"),
        (re.sub(r"<ide>.*</ide>", "", build_nfe_xml()), "ide"),
        (f"<nfeProc xmlns='{NS}' versao='4.00'/>", "NFe"),
    ],
)
def test_missing_field_is_named(xml: str, field: str) -> None:
    error = expect_error(xml, "nfe_xml_missing_field")
    assert field in error.detail


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<vNF>100.00</vNF>", "<vNF>1OO.00</vNF>"),
        ("<vNF>100.00</vNF>", "<vNF>NaN</vNF>"),
        ("<qCom>2.0000</qCom>", "<qCom>2,0000</qCom>"),
        ("2025-03-15T10:30:00-03:00</dhEmi>", "2025-03-15T10:30:00</dhEmi>"),
        ("2025-03-15T10:30:00-03:00</dhEmi>", "15/03/2025</dhEmi>"),
        ("<nNF>1234</nNF>", "<nNF>12a4</nNF>"),
    ],
)
def test_unreadable_values(old: str, new: str) -> None:
    xml = build_nfe_xml()
    assert old in xml
    expect_error(xml.replace(old, new), "nfe_xml_invalid_field")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (f'Id="NFe{SAMPLE_NFE_KEY}"', f'Id="{SAMPLE_NFE_KEY}"'),  # no NFe prefix
        (f'Id="NFe{SAMPLE_NFE_KEY}"', f'Id="NFe{SAMPLE_NFE_KEY[:43]}4"'),  # bad DV
        (f'Id="NFe{SAMPLE_NFE_KEY}"', 'Id="NFe32171232438772000104570010001990751153183825"'),  # CT-e
    ],
)
def test_invalid_key_in_id(old: str, new: str) -> None:
    expect_error(build_nfe_xml().replace(old, new), "nfe_xml_invalid_key")


def test_unknown_elements_are_ignored() -> None:
    xml = build_nfe_xml().replace("</ide>", "<campoFuturo>1</campoFuturo></ide>")
    assert parse_nfe_xml(xml).key == SAMPLE_NFE_KEY


# --- properties ---------------------------------------------------------------------------------


@given(st.text(max_size=300) | st.binary(max_size=300))
def test_parse_nfe_xml_raises_only_fiscal_error(xml: str | bytes) -> None:
    with contextlib.suppress(FiscalError):
        parse_nfe_xml(xml)


@st.composite
def mangled_skeletons(draw: st.DrawFn) -> str:
    xml = build_nfe_xml()
    start = draw(st.integers(0, len(xml) - 1))
    length = draw(st.integers(0, 40))
    insert = draw(st.text(alphabet="<>/&;=\"' abcNFe0123456789.-:", max_size=10))
    return xml[:start] + insert + xml[start + length :]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_skeletons())
def test_mangled_documents_raise_only_fiscal_error(xml: str) -> None:
    try:
        doc = parse_nfe_xml(xml)
    except FiscalError:
        return
    cross_check_key(doc)


@settings(max_examples=40, deadline=None)
@given(
    number=st.integers(1, 999_999_999),
    series=st.integers(0, 889),
    model=st.sampled_from(["55", "65"]),
    emission_type=st.sampled_from("12345679"),
    month=st.integers(1, 12),
    cents=st.integers(1, 10**9),
)
def test_builder_round_trips_for_generated_keys(
    number: int, series: int, model: str, emission_type: str, month: int, cents: int
) -> None:
    key = make_nfe_key(number, series=series, model=model, emission_type=emission_type, month=month)
    total = Decimal(cents) / 100
    doc = parse_nfe_xml(build_nfe_xml(key, total=total))
    assert (doc.key, doc.number, doc.series, doc.total) == (key, number, series, total)
    assert cross_check_key(doc) == []
