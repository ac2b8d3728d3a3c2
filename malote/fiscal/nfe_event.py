"""NF-e events registered at SEFAZ after the authorization: cancellation and carta de correção.

Two events change an authorized NF-e:

* **cancellation** (``tpEvento`` 110111): sequence 1, a justification (``xJust``, 15–255
  characters), within 24 hours of the authorization; a canceled NF-e takes no further event;
* **carta de correção, CC-e** (110110): sequence 1–20, the correction text (``xCorrecao``,
  15–1000 characters); each one replaces the previous, the highest sequence holds.

An event arrives as fields (:func:`validate_nfe_event`) or as the processed event file
``procEventoNFe`` (:func:`parse_nfe_event_xml`, read with the same hardened lxml parser as the
NF-e: no DTD, no entities, no network). Both give an :class:`NfeEvent`; every failure is a
:class:`FiscalError` with a stable code. Whether the event fits the invoice it names (the window,
the order of events) is :func:`check_cancellation_window` here and the orders command's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from lxml import etree

from malote.fiscal.errors import FiscalError, FiscalErrorCode
from malote.fiscal.nfe_key import parse_nfe_key
from malote.fiscal.nfe_xml import NFE_NAMESPACE, hardened_root


class NfeEventType(StrEnum):
    """The events Malote records, by Malote's name; ``code`` is the ``tpEvento``."""

    CANCELLATION = "cancellation"
    CORRECTION = "correction"

    @property
    def code(self) -> str:
        return EVENT_CODES[self]


EVENT_CODES = {NfeEventType.CANCELLATION: "110111", NfeEventType.CORRECTION: "110110"}
TYPE_BY_CODE = {code: event_type for event_type, code in EVENT_CODES.items()}

CANCELLATION_WINDOW = timedelta(hours=24)
JUSTIFICATION_LENGTH = (15, 255)
CORRECTION_LENGTH = (15, 1000)
MAX_CORRECTIONS = 20
# retEvento cStat: 135 registered and linked to the NF-e, 136 registered but not linked.
REGISTERED_STATUS_CODES = frozenset({"135", "136"})

_PROTOCOL = re.compile(r"[0-9]{15}|[0-9]{17}")  # TProt
# TString of the layout: printable Latin-1, no line breaks, no blanks at either end.
_TEXT = re.compile(r"[!-ÿ](?:[ -ÿ]*[!-ÿ])?")
_ROOT = f"{{{NFE_NAMESPACE}}}procEventoNFe"
_NS = {"n": NFE_NAMESPACE}


@dataclass(frozen=True)
class NfeEvent:
    """One registered event. ``text`` is the justification (cancellation) or the correction;
    ``protocol`` the event's own SEFAZ protocol (``retEvento/infEvento/nProt``).
    ``authorization_protocol`` is the NF-e's protocol a cancellation names (``detEvento/nProt``),
    when known; ``status_code`` the ``retEvento`` cStat when read from XML."""

    key: str
    type: NfeEventType
    sequence: int
    protocol: str
    registered_at: datetime
    text: str
    authorization_protocol: str = ""
    status_code: str = ""


def _fail(code: FiscalErrorCode, detail: str) -> FiscalError:
    return FiscalError(code, detail)


def event_type_of(value: str) -> NfeEventType:
    """``cancellation``/``correction`` or the ``tpEvento`` code; else ``nfe_event_type``."""
    text = str(value).strip().lower()
    if text in TYPE_BY_CODE:
        return TYPE_BY_CODE[text]
    try:
        return NfeEventType(text)
    except ValueError:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_TYPE,
            f"event type must be cancellation (110111) or correction (110110), got {value!r}",
        ) from None


def _check_sequence(event_type: NfeEventType, sequence: int) -> None:
    highest = 1 if event_type is NfeEventType.CANCELLATION else MAX_CORRECTIONS
    if not 1 <= sequence <= highest:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_SEQUENCE,
            f"a {event_type} takes sequence 1"
            + ("" if highest == 1 else f" to {highest}")
            + f", got {sequence}",
        )


def _check_text(event_type: NfeEventType, text: str) -> str:
    cancellation = event_type is NfeEventType.CANCELLATION
    shortest, longest = JUSTIFICATION_LENGTH if cancellation else CORRECTION_LENGTH
    what = "justification (xJust)" if cancellation else "correction (xCorrecao)"
    text = text.strip()
    if not shortest <= len(text) <= longest:
        code = (
            FiscalErrorCode.NFE_EVENT_JUSTIFICATION_LENGTH
            if cancellation
            else FiscalErrorCode.NFE_EVENT_CORRECTION_LENGTH
        )
        raise _fail(code, f"the {what} takes {shortest} to {longest} characters, got {len(text)}")
    if not _TEXT.fullmatch(text):
        raise _fail(
            FiscalErrorCode.NFE_EVENT_TEXT_CHARACTERS,
            f"the {what} may hold only printable Latin-1 characters on one line",
        )
    return text


def validate_nfe_event(
    *,
    key: str,
    event_type: str,
    sequence: int,
    protocol: str,
    registered_at: datetime,
    text: str,
    authorization_protocol: str = "",
    status_code: str = "",
) -> NfeEvent:
    """Check an event's own fields and return it normalized (key compacted, text stripped).

    Codes, in this order: the key's (``nfe_key_*``), ``nfe_event_type``, ``nfe_event_sequence``
    (cancellation 1; CC-e 1–20), ``nfe_event_protocol`` (15 or 17 digits),
    ``nfe_event_registered_at`` (must carry a UTC offset), ``nfe_event_justification_length``
    (15–255) or ``nfe_event_correction_length`` (15–1000), ``nfe_event_text_characters``.
    """
    parsed_key = parse_nfe_key(key).key
    kind = event_type_of(event_type)
    _check_sequence(kind, sequence)
    protocol = str(protocol).strip()
    if not _PROTOCOL.fullmatch(protocol):
        raise _fail(
            FiscalErrorCode.NFE_EVENT_PROTOCOL, f"the event protocol takes 15 or 17 digits, got {protocol!r}"
        )
    if registered_at.tzinfo is None:
        raise _fail(FiscalErrorCode.NFE_EVENT_REGISTERED_AT, "the registration time must carry a UTC offset")
    return NfeEvent(
        key=parsed_key,
        type=kind,
        sequence=sequence,
        protocol=protocol,
        registered_at=registered_at,
        text=_check_text(kind, text),
        authorization_protocol=authorization_protocol,
        status_code=status_code,
    )


def check_after_authorization(authorized_at: datetime, registered_at: datetime) -> None:
    """Every event follows the NF-e's authorization (``nfe_event_before_authorization``)."""
    if registered_at < authorized_at:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_BEFORE_AUTHORIZATION,
            f"the event ({registered_at.isoformat()}) precedes the NF-e's authorization"
            f" ({authorized_at.isoformat()})",
        )


def check_cancellation_window(authorized_at: datetime, registered_at: datetime) -> None:
    """A cancellation is registered after the authorization and at most 24 hours later.

    Codes: ``nfe_event_before_authorization``, ``nfe_event_cancellation_window``."""
    check_after_authorization(authorized_at, registered_at)
    if registered_at - authorized_at > CANCELLATION_WINDOW:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_CANCELLATION_WINDOW,
            f"an NF-e is canceled within 24 hours of its authorization ({authorized_at.isoformat()});"
            f" this cancellation is from {registered_at.isoformat()}",
        )


# --- the event file (procEventoNFe) ----------------------------------------------------------------


def _parse_root(xml: str | bytes) -> etree._Element:
    root = hardened_root(xml, "the event XML")
    if root.tag != _ROOT:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_XML_ROOT,
            f"root element is {root.tag!r}, expected procEventoNFe in namespace {NFE_NAMESPACE}"
            " (a bare evento is not proven registered)",
        )
    return root


def _text(node: etree._Element, path: str, *, required: bool = True) -> str:
    found = node.find(path, _NS)
    value = (found.text or "").strip() if found is not None else ""
    if required and not value:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_XML_MISSING_FIELD, f"the event XML has no {path.replace('n:', '')}"
        )
    return value


def _datetime(text: str, label: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_REGISTERED_AT, f"{label} is not a date-time: {text!r}"
        ) from None
    if value.tzinfo is None:
        raise _fail(FiscalErrorCode.NFE_EVENT_REGISTERED_AT, f"{label} must carry a UTC offset, got {text!r}")
    return value


def parse_nfe_event_xml(xml: str | bytes) -> NfeEvent:
    """Read a ``procEventoNFe`` (``evento`` + SEFAZ's ``retEvento``) into a checked :class:`NfeEvent`.

    The request (``evento/infEvento``) gives key, type, sequence and text; the answer
    (``retEvento/infEvento``) must name the same key, type and sequence
    (``nfe_event_xml_inconsistent``), be registered (cStat 135 or 136, else
    ``nfe_event_not_registered``) and give the protocol and ``dhRegEvento``. ``infEvento/@Id``,
    when present, must be ``ID`` + tpEvento + key + the sequence in two digits. Other codes:
    ``nfe_xml_empty``, ``nfe_xml_doctype``, ``nfe_xml_malformed``, ``nfe_event_xml_root``,
    ``nfe_event_xml_missing_field``, then those of :func:`validate_nfe_event`.
    """
    root = _parse_root(xml)
    request = root.find("n:evento/n:infEvento", _NS)
    answer = root.find("n:retEvento/n:infEvento", _NS)
    if request is None:
        raise _fail(FiscalErrorCode.NFE_EVENT_XML_MISSING_FIELD, "the event XML has no evento/infEvento")
    if answer is None:
        raise _fail(FiscalErrorCode.NFE_EVENT_XML_MISSING_FIELD, "the event XML has no retEvento/infEvento")
    key, code, sequence_text = (
        _text(request, "n:chNFe"),
        _text(request, "n:tpEvento"),
        _text(request, "n:nSeqEvento"),
    )
    kind = event_type_of(code)
    if not sequence_text.isdigit():
        raise _fail(FiscalErrorCode.NFE_EVENT_SEQUENCE, f"nSeqEvento must be digits, got {sequence_text!r}")
    sequence = int(sequence_text)
    answered_sequence = _text(answer, "n:nSeqEvento", required=False)
    if answered_sequence.isdigit():
        answered_sequence = str(int(answered_sequence))  # "01" and "1" are the same sequence
    differing = [
        name
        for name, ours, theirs in (
            ("chNFe", key, _text(answer, "n:chNFe", required=False)),
            ("tpEvento", code, _text(answer, "n:tpEvento", required=False)),
            ("nSeqEvento", str(sequence), answered_sequence),
        )
        if theirs and theirs != ours
    ]
    identifier = request.get("Id")
    if identifier and identifier != f"ID{code}{key}{sequence:02d}":
        differing.append("Id")
    if differing:
        raise _fail(
            FiscalErrorCode.NFE_EVENT_XML_INCONSISTENT,
            f"the event and SEFAZ's answer disagree on: {', '.join(differing)}",
        )
    status_code = _text(answer, "n:cStat")
    if status_code not in REGISTERED_STATUS_CODES:
        motive = _text(answer, "n:xMotivo", required=False)
        raise _fail(
            FiscalErrorCode.NFE_EVENT_NOT_REGISTERED,
            f"SEFAZ did not register the event (cStat {status_code}{': ' + motive if motive else ''})",
        )
    text_path = "n:detEvento/n:xJust" if kind is NfeEventType.CANCELLATION else "n:detEvento/n:xCorrecao"
    return validate_nfe_event(
        key=key,
        event_type=code,
        sequence=sequence,
        protocol=_text(answer, "n:nProt"),
        registered_at=_datetime(_text(answer, "n:dhRegEvento"), "retEvento/infEvento/dhRegEvento"),
        text=_text(request, text_path),
        authorization_protocol=_text(request, "n:detEvento/n:nProt", required=False),
        status_code=status_code,
    )
