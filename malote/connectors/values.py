"""Reading vendors' values: text, amounts, times and ids as the connectors need them.

The rules here are the ones several connectors share; where vendors really differ (which timezone a
naive time means, how many decimal places a currency has) the difference is a parameter. A helper that
refuses its input raises ``ValueError``: the webhook view answers 422 for it (a malformed hook).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# ISO 4217 minor units where they are not 2 (Adyen's currency table); everything else has 2.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"CVE", "DJF", "GNF", "IDR", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def text_of(value: Any) -> str:
    """``value`` as stripped text; ``None`` is ``""`` (``0`` stays ``"0"``)."""
    return "" if value is None else str(value).strip()


def header_value(headers: Mapping[str, str], name: str) -> str:
    """The stripped value of header ``name``, ``""`` when absent; the name's case does not matter even
    for a plain dict (Django's request headers already ignore it)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return text_of(value)


def money(value: Any) -> Decimal:
    """A vendor amount in reais (float, string or number) as a Decimal quantized to cents; ``str``
    first so that ``149.7`` becomes ``149.70``, not the binary float's expansion. ``None`` and ``""``
    are ``0.00``; anything else that is not a number raises ``ValueError("not an amount: …")``."""
    if value is None or value == "":
        return ZERO
    try:
        return Decimal(str(value)).quantize(CENT)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def decimal_or_zero(value: Any) -> Decimal:
    """A lenient Decimal for amounts and numbers read back from an ERP: an empty/false value or one
    that is not a number is ``Decimal("0")`` (never raises); the value's own places are kept."""
    try:
        return Decimal(str(value or "0"))
    except InvalidOperation:
        return Decimal("0")


def minor_to_decimal(value: Any, currency: str = "BRL") -> str | None:
    """Integer minor units → decimal string in the currency's precision (``11480`` BRL → ``"114.80"``,
    ``1000`` JPY → ``"1000"``); ``None`` when the value is missing, a bool or not an integer."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        units = int(str(value))
    except ValueError:
        return None
    code = currency.upper()
    places = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    return f"{Decimal(units).scaleb(-places):.{places}f}"


def parse_iso(value: Any, *, naive: tzinfo = UTC) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset) as an aware datetime; a naive one is in ``naive``.
    ``None`` when the value is empty or not ISO 8601 (vendors' optional times are read leniently)."""
    text = text_of(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=naive)


def iso_or_none(value: Any, *, naive: tzinfo = UTC) -> str | None:
    """:func:`parse_iso`'s time written back as ISO 8601 (offset kept), or ``None``."""
    moment = parse_iso(value, naive=naive)
    return moment.isoformat() if moment else None


def moment_in(value: str | None, zone: tzinfo) -> datetime:
    """A snapshot's ISO time (now when missing; naive means ``zone``) as seen in ``zone``, e.g. to
    write the local date an ERP wants. A value that is not ISO 8601 raises ``ValueError``."""
    moment = datetime.fromisoformat(value) if value else datetime.now(zone)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def id_text(value: Any, *, none: str = "0") -> str:
    """An ERP id (JSON number or string) as text without a float's ``.0``; absent, empty or all zeros
    (the ERP's "no such record", e.g. no nota) becomes ``none``."""
    text = str(value if value is not None else "").strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text if text and text.strip("0") else none


def balance_totals(
    lines_net: Decimal, shipping: Decimal, tax: Decimal, discount: Decimal, total: Decimal
) -> tuple[Decimal, Decimal]:
    """Return ``(tax, discount)`` such that ``lines_net + shipping + tax − discount == total``.

    Malote requires the order to add up to the cent, with the vendor's ``total`` (what the buyer was
    charged) as the authority. Vendors do not always say how their amounts combine: tax may already
    be inside the prices, and item discounts may be counted again in the order's discount. So the gap
    is closed by first undoing the add-on the gap points at, then by the opposite one:

    * total above our sum → the discount was over-counted: lower it (not below 0), then any rest is
      a surcharge Malote can only book as tax;
    * total below our sum → the tax was already inside the prices: lower it (not below 0), then any
      rest is a discount not itemized.

    Consistent input moves nothing.
    """
    gap = total - (lines_net + shipping + tax - discount)
    if gap > 0:
        undo = min(gap, discount)
        discount -= undo
        tax += gap - undo
    elif gap < 0:
        undo = min(-gap, tax)
        tax -= undo
        discount += -gap - undo
    return tax, discount
