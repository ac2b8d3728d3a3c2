"""Contains-search over order numbers, external ids and customer keys.

Operators paste numbers as they see them: ``02-704319102``, ``02704319102``, ``704319102`` or
with a shipment suffix (``704319102-1``). Both the stored key and the query are reduced to
lower-case letters and digits, and a trailing one- or two-digit shipment suffix is also tried
without it, so all of these find the same order.
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
