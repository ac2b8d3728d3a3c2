"""The codes of the order commands' errors (see docs/error-codes.md).

Field rules of the input schemas answer with these codes too, and with the fiscal validators'
``FiscalErrorCode`` (``cpf_check_digit``…) for documents, addresses and NF-e keys.
"""

from __future__ import annotations

from enum import StrEnum


class OrdersErrorCode(StrEnum):
    # Input schemas (schemas.py) and the create command (actions.py)
    NUL_CHARACTER = "nul_character"
    DATETIME_OUT_OF_RANGE = "datetime_out_of_range"
    EMAIL_INVALID = "email_invalid"
    QUANTITY_NOT_POSITIVE = "quantity_not_positive"
    QUANTITY_TOO_LARGE = "quantity_too_large"
    INVOICE_NUMBER_ZERO = "invoice_number_zero"
    LINE_DISCOUNT_EXCEEDS_VALUE = "line_discount_exceeds_value"
    TOTALS_MISMATCH = "totals_mismatch"
    UNKNOWN_CHANNEL = "unknown_channel"
    # Lookups and transitions (actions.py)
    ORDER_NOT_FOUND = "order_not_found"
    UNKNOWN_TRANSITION = "unknown_transition"
    TRANSITION_NOT_ALLOWED = "transition_not_allowed"
    TRANSITION_CONFLICT = "transition_conflict"
    # Effects of transitions (effects.py)
    INSUFFICIENT_STOCK = "insufficient_stock"
    DELIVERED_BEFORE_SHIPPED = "delivered_before_shipped"
    # The invoice and its NF-e XML (actions.py, effects.py)
    INVOICE_MISSING = "invoice_missing"
    INVOICE_KEY_IN_USE = "invoice_key_in_use"
    INVOICE_NUMBER_MISMATCH = "invoice_number_mismatch"
    INVOICE_SERIES_MISMATCH = "invoice_series_mismatch"
    INVOICE_ISSUED_AT_MISMATCH = "invoice_issued_at_mismatch"
    INVOICE_XML_MISSING = "invoice_xml_missing"
    INVOICE_XML_TOO_LARGE = "invoice_xml_too_large"
    INVOICE_XML_CONFLICT = "invoice_xml_conflict"
    INVOICE_XML_NOT_ALLOWED = "invoice_xml_not_allowed"
    NFE_XML_TOTAL_MISMATCH = "nfe_xml_total_mismatch"
    NFE_XML_RECIPIENT_MISMATCH = "nfe_xml_recipient_mismatch"
    NFE_XML_NOT_AUTHORIZED = "nfe_xml_not_authorized"
    # NF-e events: cancellation and carta de correção (invoice_events.py)
    INVOICE_EVENT_KEY_NOT_OF_ORDER = "invoice_event_key_not_of_order"
    INVOICE_EVENT_CONFLICT = "invoice_event_conflict"
    INVOICE_EVENT_XML_AND_FIELDS = "invoice_event_xml_and_fields"
    INVOICE_CANCELED = "invoice_canceled"
    INVOICE_CORRECTION_SEQUENCE = "invoice_correction_sequence"
    INVOICE_EVENT_PROTOCOL_MISMATCH = "invoice_event_protocol_mismatch"
    NFE_ACTION_REQUIRED = "nfe_action_required"
    # Partial shipments and further NF-e (effects.py, shipments.py)
    SHIPMENT_LINE_UNKNOWN = "shipment_line_unknown"
    SHIPMENT_LINE_AMBIGUOUS = "shipment_line_ambiguous"
    SHIPMENT_LINE_REPEATED = "shipment_line_repeated"
    SHIPMENT_QUANTITY_EXCEEDS_REMAINING = "shipment_quantity_exceeds_remaining"
    SHIPMENT_PART_NOT_ALLOWED = "shipment_part_not_allowed"
    SHIPMENT_PART_CONFLICT = "shipment_part_conflict"
    SHIPMENT_UNKNOWN = "shipment_unknown"
    ORDER_FULLY_SHIPPED = "order_fully_shipped"
    ORDER_NOT_FULLY_SHIPPED = "order_not_fully_shipped"
    INVOICE_NOT_ALLOWED = "invoice_not_allowed"
    # Searching and listing (selectors.py)
    INVALID_DATETIME = "invalid_datetime"
    QUERY_TOO_LONG = "query_too_long"
