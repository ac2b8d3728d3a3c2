"""Matching a remote order to Malote's by the sale's references, as people type them.

A remote system refers to a sale by Malote's number, by the sale's id in its sales channel or by
the store's own order number, with or without dashes, a store prefix or a shipment suffix:
``02-704319102``, ``02704319102``, ``704319102`` and ``704319102-1`` are one sale. The normalisation
is the order search's (``malote.orders.search``: lower-case letters and digits, a trailing shipment
suffix also tried without it); a short store prefix (``02-``) is also tried without it. Keys shorter
than ``MIN_KEY`` characters are ignored: too short to name one sale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db.models import QuerySet

from malote.orders import search
from malote.orders.models import Order

MIN_KEY = 5
_STORE_PREFIX = re.compile(r"^\s*[0-9A-Za-z]{1,3}\s*[-/_.]\s*(?P<rest>.+)$")


def reference_keys(text: str) -> list[str]:
    """The normalised forms of one reference, most literal first."""
    if not text or not text.strip():
        return []
    keys = search.query_variants(text)
    match = _STORE_PREFIX.match(text)
    if match:
        keys += search.query_variants(match.group("rest"))
    unique: list[str] = []
    for key in keys:
        if len(key) >= MIN_KEY and key not in unique:
            unique.append(key)
    return unique


def order_keys(number: str | None, external_id: str) -> list[str]:
    """Every key a Malote order answers to: its number and its id in the sales channel."""
    keys = reference_keys(number or "")
    keys += [key for key in reference_keys(external_id) if key not in keys]
    return keys


# PostgreSQL reads a long IN list by scanning the whole table (at 1,000,000 orders it judged 8,201
# index probes dearer than a parallel scan); 500 at a time it probes the index (docs/performance.md).
REFERENCES_PER_QUERY = 500


def _indexed_lookups(refs: list[str], since: datetime) -> list[QuerySet[Order]]:
    """The orders placed since ``since`` or spelled like a reference, as one query per index.

    One query with ``placed_at >= … OR number IN … OR external_id IN …`` is answered by reading
    every order (the planner finds no single index for the ``OR``): its cost grows with the years
    of history. Apart, each is an index search: ``order_placed``, the unique number and
    ``order_external_id``.
    """
    lookups = [Order.objects.filter(placed_at__gte=since)]
    for start in range(0, len(refs), REFERENCES_PER_QUERY):
        chunk = refs[start : start + REFERENCES_PER_QUERY]
        lookups.append(Order.objects.filter(number__in=chunk))
        lookups.append(Order.objects.filter(external_id__in=chunk))
    return lookups


def _orders(refs: list[str], since: datetime) -> Iterator[tuple[int, str | None, str]]:
    """(id, number, external id) of each order the lookups find, once."""
    seen: set[int] = set()
    for lookup in _indexed_lookups(refs, since):
        rows = lookup.order_by().values_list("pk", "number", "external_id")
        for pk, number, external_id in rows.iterator(chunk_size=5000):
            if pk not in seen:
                seen.add(pk)
                yield pk, number, external_id


class OrderIndex:
    """Malote's orders by reference key: those placed since ``since`` (every reference of the
    listing compared against them) and any older one whose number or external id is spelled exactly
    like a listed reference."""

    def __init__(self, references: Iterable[str], since: datetime) -> None:
        refs = [ref for ref in set(references) if ref]
        self.by_key: dict[str, list[int]] = {}
        self.numbers: dict[int, str] = {}
        for pk, number, external_id in _orders(refs, since):
            self.numbers[pk] = number or ""
            for key in order_keys(number, external_id):
                self.by_key.setdefault(key, []).append(pk)

    def find(self, reference: str) -> int | None:
        """The one order the reference names (the most literal key that names exactly one wins)."""
        for key in reference_keys(reference):
            found = self.by_key.get(key, [])
            if len(set(found)) == 1:
                return found[0]
        return None
