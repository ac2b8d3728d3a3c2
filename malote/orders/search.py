"""Contains-search over order numbers, external ids and customer keys.

Operators paste numbers as they see them: ``02-704319102``, ``02704319102``, ``704319102`` or
with a shipment suffix (``704319102-1``). Both the stored key and the query are reduced to
lower-case letters and digits, and a trailing one- or two-digit shipment suffix is also tried
without it, so all of these find the same order.

A query that spells a whole NF-e access key (``nfe_key``) or a tracking code (``tracking_codes``)
also finds the order of that invoice or shipment, by exact lookups on their indexed columns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_SHIPMENT_SUFFIX = re.compile(r"^(?P<base>.*[0-9A-Za-z])\s*[-/_.]\s*(?P<suffix>\d{1,2})$")
# Below this length a trigram index cannot help; the selector falls back to a plain scan.
MIN_INDEXED_LENGTH = 3


def normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALNUM.sub("", folded.lower())


def search_key(parts: Iterable[str]) -> str:
    """The stored key: each part normalized, separated by spaces so no match spans two parts."""
    return " ".join(p for p in (normalize(part) for part in parts) if p)[:600]


def query_variants(query: str) -> list[str]:
    """Normalized forms of a search query, most literal first; empty when nothing searchable."""
    text = query.strip()
    variants = [normalize(text)]
    match = _SHIPMENT_SUFFIX.match(text)
    if match:
        base = normalize(match.group("base"))
        if len(base) >= 5:
            variants.append(base)
    return [v for i, v in enumerate(variants) if v and v not in variants[:i]]


# --- documents people paste: NF-e access keys and tracking codes --------------------------------

# Whitespace and the punctuation keys and codes are printed or copied with (DANFE groups of 4,
# "3519.1234-…" from an ERP screen).
_KEY_PUNCTUATION = re.compile(r"[\s.\-/]+")
# The XML's ``Id`` attribute is the key with this prefix (``NFe3519…``).
_XML_ID_PREFIX = "NFE"
# Only letters and digits in its CNPJ part since 2026 (alphanumeric CNPJ); digits elsewhere.
_NFE_KEY = re.compile(r"[0-9]{6}[0-9A-Z]{12}[0-9]{26}")
# A tracking code is one token: Correios S10 has 13 characters, the shortest carriers' codes 8.
MIN_TRACKING_CODE_LENGTH = 8
MAX_TRACKING_CODE_LENGTH = 64
_TRACKING_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]*")


def nfe_key(query: str) -> str | None:
    """The 44-position NF-e access key ``query`` spells, as stored (``Invoice.key``), or ``None``.

    Accepted: the key alone, with any spacing (the DANFE's groups of 4), dots, hyphens or slashes,
    in either case, with or without the XML's ``NFe`` prefix. A part of a key is not a key: its
    digits would also match order numbers, CPFs and phone numbers, and only the whole key is an
    exact lookup on the invoice's unique index.
    """
    compact = _KEY_PUNCTUATION.sub("", query)
    if not compact.isascii():
        return None
    compact = compact.upper()
    if compact.startswith(_XML_ID_PREFIX):
        compact = compact[len(_XML_ID_PREFIX) :]
    return compact if _NFE_KEY.fullmatch(compact) else None


def tracking_codes(query: str) -> list[str]:
    """The forms a tracking code in ``query`` may be stored in (``Shipment.tracking_code``), or ``[]``.

    A tracking code is one token of 8 to 64 letters, digits and ``. _ / -`` with at least one digit.
    Spaces inside are ignored (``AA 123 456 785 BR``) and case does not matter: Correios codes are
    stored upper-case without spaces, other carriers' codes as the carrier sent them (one case), so
    the query as typed, upper-cased and lower-cased covers them with exact, indexed lookups.
    """
    text = query.strip()
    compact = "".join(text.split())
    if not (MIN_TRACKING_CODE_LENGTH <= len(compact) <= MAX_TRACKING_CODE_LENGTH):
        return []
    if not compact.isascii() or not _TRACKING_TOKEN.fullmatch(compact):
        return []
    if not any(char.isdigit() for char in compact):
        return []
    forms = [text, compact, compact.upper(), compact.lower()]
    return [form for index, form in enumerate(forms) if form not in forms[:index]]
