"""Reading vendors' values: text, amounts, times and ids as the connectors need them.

The rules here are the ones several connectors share; where vendors really differ (which timezone a
naive time means, how many decimal places a currency has) the difference is a parameter. A helper that
refuses its input raises ``ValueError``: the webhook view answers 422 for it (a malformed hook).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from malote.orders.search import normalize, query_variants

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


# --- a sale's references ------------------------------------------------------------------------
# The store's own number for a sale is written in many ways: ``02-704319102``, ``02704319102``,
# ``704319102`` or with a shipment suffix ``704319102-1``. An ERP may already hold the sale under
# any of them (typed in by hand, or put there by the shop's previous integration), so before creating
# an order a connector searches for these spellings and compares what it finds with
# :func:`same_reference`. The normalisation is the order search's (``malote.orders.search``).

_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
# A short code or a brand word before the number: ``02-704319102``, ``Americanas-704319102``.
_SHORT_PREFIX = re.compile(r"^\s*(?:[0-9A-Za-z]{1,3}|[A-Za-z][A-Za-z ]*)\s*[-/_.]\s*(?P<rest>.+)$")
# A one- or two-digit shipment suffix after the number: ``704319102-1``.
_SHIPMENT_SUFFIX = re.compile(r"^(?P<base>.*[0-9A-Za-z])\s*[-/_.]\s*\d{1,2}$")
MIN_REFERENCE_LENGTH = 5


def _digit_prefix_stripped(compact: str) -> str | None:
    """``02704319102`` → ``704319102``: a leading zero-led two-digit brand prefix (B2W's ``01``/
    ``02``/``03``) written without its dash; ``None`` when the text does not look like that."""
    if compact.isdigit() and compact.startswith("0") and len(compact) - 2 >= 6:
        return compact[2:]
    return None


def reference_forms(reference: str) -> list[str]:
    """The exact spellings worth searching for ``reference``, most literal first: as given, without
    separators, without a short prefix (``02-``), without a shipment suffix (``-1``)."""
    text = text_of(reference)
    if not text:
        return []
    forms = [text, _SEPARATORS.sub("", text)]
    prefixed = _SHORT_PREFIX.match(text)
    if prefixed and len(_SEPARATORS.sub("", prefixed.group("rest"))) >= MIN_REFERENCE_LENGTH:
        forms += [prefixed.group("rest").strip(), _SEPARATORS.sub("", prefixed.group("rest"))]
    unprefixed = _digit_prefix_stripped(_SEPARATORS.sub("", text))
    if unprefixed:
        forms.append(unprefixed)
    suffixed = _SHIPMENT_SUFFIX.match(text)
    if suffixed and len(_SEPARATORS.sub("", suffixed.group("base"))) >= MIN_REFERENCE_LENGTH:
        forms += [suffixed.group("base").strip(), _SEPARATORS.sub("", suffixed.group("base"))]
    return list(dict.fromkeys(form for form in forms if len(form) >= 1))


def reference_keys(reference: str) -> set[str]:
    """The normalized keys under which two spellings of one sale meet (see :func:`same_reference`)."""
    keys: set[str] = set()
    for form in reference_forms(reference):
        key = normalize(form)
        if not key:
            continue
        keys.add(key)
        keys.update(query_variants(form))
        stripped = _digit_prefix_stripped(key)
        if stripped:
            keys.add(stripped)
    return {key for key in keys if len(key) >= MIN_REFERENCE_LENGTH} or {normalize(reference)} - {""}


def same_reference(one: Any, other: Any) -> bool:
    """Whether two spellings name the same sale: ``704319102``, ``02-704319102``, ``02704319102``
    and ``704319102-1`` all do; ``704319102`` and ``704319103`` do not; empty names nothing."""
    first, second = reference_keys(text_of(one)), reference_keys(text_of(other))
    return bool(first & second)


def sale_references(snapshot: Mapping[str, Any]) -> list[str]:
    """The sale's own references carried by an order snapshot: the sales channel's external id (the
    store's or marketplace's order number) and any ``references`` listed; Malote's number is not
    one of them (connectors look that up exactly)."""
    values = [snapshot.get("external_id"), *(snapshot.get("references") or [])]
    number = text_of(snapshot.get("number"))
    return [ref for ref in dict.fromkeys(text_of(value) for value in values) if ref and ref != number]
