"""The codes of the return commands' errors (see docs/error-codes.md)."""

from __future__ import annotations

from enum import StrEnum


class ReturnsErrorCode(StrEnum):
    # Lookups and the table (actions.py)
    RETURN_NOT_FOUND = "return_not_found"
    UNKNOWN_RETURN_TRANSITION = "unknown_return_transition"
    RETURN_TRANSITION_NOT_ALLOWED = "return_transition_not_allowed"
    # Opening a return
    ORDER_NOT_SHIPPED = "order_not_shipped"
    RETURN_CHANNEL_UNKNOWN = "return_channel_unknown"
    RETURN_LINE_UNKNOWN = "return_line_unknown"
    RETURN_LINE_REPEATED = "return_line_repeated"
    RETURN_QUANTITY_EXCEEDS_ORDERED = "return_quantity_exceeds_ordered"
    # Receiving and refunding
    RECEIVED_EXCEEDS_REQUESTED = "received_exceeds_requested"
    RECEIVED_CONDITION_MISSING = "received_condition_missing"
    REFUND_NOT_POSITIVE = "refund_not_positive"
    REFUND_EXCEEDS_PAID = "refund_exceeds_paid"
    REFUND_AMOUNT_MISMATCH = "refund_amount_mismatch"
    # The return NF-e
    RETURN_NFE_NOT_A_RETURN = "return_nfe_not_a_return"
    RETURN_NFE_WRONG_REFERENCE = "return_nfe_wrong_reference"
    RETURN_NFE_ORDER_WITHOUT_INVOICE = "return_nfe_order_without_invoice"
    RETURN_NFE_KEY_IS_ORDERS = "return_nfe_key_is_orders"
    RETURN_NFE_CONFLICT = "return_nfe_conflict"
    RETURN_NFE_XML_TOO_LARGE = "return_nfe_xml_too_large"
