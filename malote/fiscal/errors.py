"""The single error type of :mod:`malote.fiscal`.

Every validator in this package raises :class:`FiscalError` and nothing else for bad input, so
callers (API, back office, connectors) can catch one type and map ``code`` to a message or an
HTTP answer. ``code`` is stable snake_case and part of the public contract; ``detail`` is a
readable English sentence that may change.
"""

from __future__ import annotations

from enum import StrEnum


class FiscalErrorCode(StrEnum):
    """The rules a fiscal or logistics identifier can break (``FiscalError.code``)."""

    # CPF / CNPJ (documents.py)
    CPF_LENGTH = "cpf_length"
    CPF_INVALID_CHARACTERS = "cpf_invalid_characters"
    CPF_REPEATED_DIGITS = "cpf_repeated_digits"
    CPF_CHECK_DIGIT = "cpf_check_digit"
    CNPJ_FORMAT = "cnpj_format"
    CNPJ_LENGTH = "cnpj_length"
    CNPJ_INVALID_CHARACTERS = "cnpj_invalid_characters"
    CNPJ_FORBIDDEN_LETTER = "cnpj_forbidden_letter"
    CNPJ_REPEATED_DIGITS = "cnpj_repeated_digits"
    CNPJ_CHECK_DIGIT = "cnpj_check_digit"
    DOCUMENT_LENGTH = "document_length"
    # UF / CEP (address.py)
    UF_INVALID = "uf_invalid"
    CEP_FORMAT = "cep_format"
    CEP_ZERO = "cep_zero"
    # NF-e access key (nfe_key.py)
    NFE_KEY_LENGTH = "nfe_key_length"
    NFE_KEY_FORMAT = "nfe_key_format"
    NFE_KEY_CHECK_DIGIT = "nfe_key_check_digit"
    NFE_KEY_UF = "nfe_key_uf"
    NFE_KEY_MONTH = "nfe_key_month"
    NFE_KEY_MODEL = "nfe_key_model"
    NFE_KEY_EMISSION_TYPE = "nfe_key_emission_type"
    NFE_KEY_NUMBER = "nfe_key_number"
    NFE_KEY_EMITTER = "nfe_key_emitter"
    # NF-e XML (nfe_xml.py)
    NFE_XML_EMPTY = "nfe_xml_empty"
    NFE_XML_DOCTYPE = "nfe_xml_doctype"
    NFE_XML_MALFORMED = "nfe_xml_malformed"
    NFE_XML_ROOT = "nfe_xml_root"
    NFE_XML_MISSING_FIELD = "nfe_xml_missing_field"
    NFE_XML_INVALID_FIELD = "nfe_xml_invalid_field"
    NFE_XML_INVALID_KEY = "nfe_xml_invalid_key"
    NFE_XML_PROTOCOL_KEY_MISMATCH = "nfe_xml_protocol_key_mismatch"
    NFE_XML_KEY_MISMATCH = "nfe_xml_key_mismatch"
    NFE_XML_INCONSISTENT = "nfe_xml_inconsistent"
    # The 2026 NF-e (nfe_tax_reform.py)
    NFE_XML_IBSCBS_INVALID = "nfe_xml_ibscbs_invalid"
    NFE_XML_REFERENCED_KEY_INVALID = "nfe_xml_referenced_key_invalid"
    # NF-e events: cancellation and carta de correção (nfe_event.py)
    NFE_EVENT_TYPE = "nfe_event_type"
    NFE_EVENT_SEQUENCE = "nfe_event_sequence"
    NFE_EVENT_PROTOCOL = "nfe_event_protocol"
    NFE_EVENT_REGISTERED_AT = "nfe_event_registered_at"
    NFE_EVENT_JUSTIFICATION_LENGTH = "nfe_event_justification_length"
    NFE_EVENT_CORRECTION_LENGTH = "nfe_event_correction_length"
    NFE_EVENT_TEXT_CHARACTERS = "nfe_event_text_characters"
    NFE_EVENT_BEFORE_AUTHORIZATION = "nfe_event_before_authorization"
    NFE_EVENT_CANCELLATION_WINDOW = "nfe_event_cancellation_window"
    NFE_EVENT_XML_ROOT = "nfe_event_xml_root"
    NFE_EVENT_XML_MISSING_FIELD = "nfe_event_xml_missing_field"
    NFE_EVENT_XML_INCONSISTENT = "nfe_event_xml_inconsistent"
    NFE_EVENT_NOT_REGISTERED = "nfe_event_not_registered"
    # Tracking codes (tracking.py)
    TRACKING_CODE_EMPTY = "tracking_code_empty"
    TRACKING_CODE_FORMAT = "tracking_code_format"
    TRACKING_CODE_CHECK_DIGIT = "tracking_code_check_digit"
    TRACKING_PATTERN_INVALID = "tracking_pattern_invalid"


class FiscalError(ValueError):
    """A fiscal or logistics identifier broke a rule.

    ``code`` names the rule (e.g. ``cpf_check_digit``); ``detail`` explains the failure, including
    the expected value where there is one.
    """

    def __init__(self, code: FiscalErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def __reduce__(self) -> tuple[type[FiscalError], tuple[FiscalErrorCode, str]]:
        # Keeps the two-argument constructor working through pickle (e.g. task queues).
        return (type(self), (self.code, self.detail))
