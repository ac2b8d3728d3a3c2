"""The codes of the stock commands' errors (see docs/error-codes.md)."""

from __future__ import annotations

from enum import StrEnum


class StockErrorCode(StrEnum):
    INVALID_REASON = "invalid_reason"
    STOCK_NEGATIVE = "stock_negative"
    STOCK_BELOW_RESERVED = "stock_below_reserved"
