"""NF-e events: the field rules of a cancellation and a CC-e, and reading ``procEventoNFe``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from malote.fiscal import FiscalError
from malote.fiscal.nfe_event import (
    NfeEventType,
    check_cancellation_window,
    parse_nfe_event_xml,
    validate_nfe_event,
)
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY, make_nfe_key
from malote_dev.testing.nfe_events import BRASILIA, CORRECTION, JUSTIFICATION, build_nfe_event_xml

REGISTERED = datetime(2025, 3, 15, 12, 0, tzinfo=BRASILIA)
PROTOCOL = "135250000123401"


def _fields(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "key": SAMPLE_NFE_KEY,
        "event_type": "cancellation",
        "sequence": 1,
        "protocol": PROTOCOL,
        "registered_at": REGISTERED,
        "text": JUSTIFICATION,
    }
    return fields | overrides


def _code(**overrides: object) -> str:
    with pytest.raises(FiscalError) as caught:
        validate_nfe_event(**_fields(**overrides))  # type: ignore[arg-type]
    return str(caught.value.code)


def test_a_cancellation_with_its_fields_is_read_normalized() -> None:
    spaced = " ".join(SAMPLE_NFE_KEY[i : i + 4] for i in range(0, 44, 4))
    event = validate_nfe_event(**_fields(key=spaced, event_type="110111", text=f"  {JUSTIFICATION} "))  # type: ignore[arg-type]
    assert (event.key, event.type, event.sequence, event.text) == (
        SAMPLE_NFE_KEY,
        NfeEventType.CANCELLATION,
        1,
        JUSTIFICATION,
    )
    assert event.type.code == "110111"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"key": SAMPLE_NFE_KEY[:-1] + "4"}, "nfe_key_check_digit"),
        ({"event_type": "110112"}, "nfe_event_type"),
        ({"event_type": "return"}, "nfe_event_type"),
        ({"sequence": 2}, "nfe_event_sequence"),  # a cancellation is sequence 1
        ({"sequence": 0}, "nfe_event_sequence"),
        ({"protocol": "13525000012340"}, "nfe_event_protocol"),  # 14 digits
        ({"protocol": "13525000012340A"}, "nfe_event_protocol"),
        ({"registered_at": REGISTERED.replace(tzinfo=None)}, "nfe_event_registered_at"),
        ({"text": "Cancelado."}, "nfe_event_justification_length"),  # 10 characters
        ({"text": "x" * 256}, "nfe_event_justification_length"),
        ({"text": "Cliente desistiu\nda compra"}, "nfe_event_text_characters"),
        ({"text": "Cliente desistiu – sem estoque"}, "nfe_event_text_characters"),  # en dash: not Latin-1
    ],
)
def test_cancellation_fields_break_their_rules(overrides: dict[str, object], code: str) -> None:
    assert _code(**overrides) == code


def test_a_justification_of_15_and_of_255_characters_passes() -> None:
    assert validate_nfe_event(**_fields(text="a" * 15)).text == "a" * 15  # type: ignore[arg-type]
    assert len(validate_nfe_event(**_fields(text="ção " * 63 + "fim")).text) == 255  # type: ignore[arg-type]


def test_a_correction_takes_sequences_1_to_20_and_15_to_1000_characters() -> None:
    event = validate_nfe_event(**_fields(event_type="correction", sequence=20, text=CORRECTION))  # type: ignore[arg-type]
    assert (event.type, event.sequence) == (NfeEventType.CORRECTION, 20)
    assert _code(event_type="correction", sequence=21, text=CORRECTION) == "nfe_event_sequence"
    assert _code(event_type="correction", text="x" * 1001) == "nfe_event_correction_length"
    assert _code(event_type="correction", text="Corrige CEP") == "nfe_event_correction_length"


def test_cancellation_window_is_24_hours_from_the_authorization() -> None:
    authorized = datetime(2025, 3, 15, 10, 31, tzinfo=BRASILIA)
    check_cancellation_window(authorized, authorized + timedelta(hours=24))
    with pytest.raises(FiscalError) as late:
        check_cancellation_window(authorized, authorized + timedelta(hours=24, seconds=1))
    assert late.value.code == "nfe_event_cancellation_window"
    with pytest.raises(FiscalError) as early:
        check_cancellation_window(authorized, authorized - timedelta(minutes=1))
    assert early.value.code == "nfe_event_before_authorization"


def test_the_event_file_of_a_cancellation_is_read() -> None:
    key = make_nfe_key(4321)
    event = parse_nfe_event_xml(build_nfe_event_xml(key, authorization_protocol="135250000432100"))
    assert (event.key, event.type, event.sequence, event.text) == (
        key,
        NfeEventType.CANCELLATION,
        1,
        JUSTIFICATION,
    )
    assert (event.status_code, event.authorization_protocol) == ("135", "135250000432100")
    assert event.registered_at == REGISTERED
    assert len(event.protocol) == 15


def test_the_event_file_of_a_correction_is_read_as_bytes_too() -> None:
    xml = build_nfe_event_xml(kind="correction", sequence=2, c_stat="136")
    event = parse_nfe_event_xml(xml.encode("utf-8"))
    assert (event.type, event.sequence, event.text, event.status_code) == (
        NfeEventType.CORRECTION,
        2,
        CORRECTION,
        "136",
    )


def _xml_code(xml: str) -> str:
    with pytest.raises(FiscalError) as caught:
        parse_nfe_event_xml(xml)
    return str(caught.value.code)


def test_unsafe_or_foreign_event_files_are_refused() -> None:
    assert _xml_code("  ") == "nfe_xml_empty"
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><procEventoNFe>&a;</procEventoNFe>'
    assert _xml_code(bomb) == "nfe_xml_doctype"
    assert _xml_code("<procEventoNFe><evento></procEventoNFe>") == "nfe_xml_malformed"
    assert _xml_code("<procEventoNFe/>") == "nfe_event_xml_root"  # no namespace
    bare = build_nfe_event_xml().replace("procEventoNFe", "envEvento")
    assert _xml_code(bare) == "nfe_event_xml_root"


def test_an_event_sefaz_did_not_register_is_refused() -> None:
    assert _xml_code(build_nfe_event_xml(c_stat="573")) == "nfe_event_not_registered"  # duplicate event


def test_request_and_answer_must_agree() -> None:
    other_key = make_nfe_key(999)
    assert (
        _xml_code(build_nfe_event_xml(answer_overrides={"chNFe": other_key})) == "nfe_event_xml_inconsistent"
    )
    assert (
        _xml_code(build_nfe_event_xml(answer_overrides={"tpEvento": "110110"}))
        == "nfe_event_xml_inconsistent"
    )
    two = build_nfe_event_xml(kind="correction", sequence=2, answer_overrides={"nSeqEvento": "02"})
    assert parse_nfe_event_xml(two).sequence == 2  # zero-padded is the same sequence
    bad_id = build_nfe_event_xml().replace('Id="ID110111', 'Id="ID110110')
    assert _xml_code(bad_id) == "nfe_event_xml_inconsistent"


def test_missing_parts_of_the_event_file_are_named() -> None:
    without_answer = build_nfe_event_xml().split("<retEvento")[0] + "</procEventoNFe>"
    assert _xml_code(without_answer) == "nfe_event_xml_missing_field"
    without_protocol = build_nfe_event_xml(answer_overrides={"nProt": ""})
    with pytest.raises(FiscalError) as caught:
        parse_nfe_event_xml(without_protocol)
    assert caught.value.code == "nfe_event_xml_missing_field"
    assert "nProt" in caught.value.detail


def test_the_field_rules_apply_to_the_file_too() -> None:
    assert _xml_code(build_nfe_event_xml(text="Desistiu")) == "nfe_event_justification_length"
    late = build_nfe_event_xml(answer_overrides={"dhRegEvento": "2025-03-15T12:00:00"})
    assert _xml_code(late) == "nfe_event_registered_at"
    assert _xml_code(build_nfe_event_xml(kind="correction", sequence=21)) == "nfe_event_sequence"
