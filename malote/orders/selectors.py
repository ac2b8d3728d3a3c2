"""Read queries over orders: filters, search, and the facts a transition guard needs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from malote.core import fastsql
from malote.core.errors import InvalidInput
from malote.orders import search
from malote.orders.errors import OrdersErrorCode
from malote.orders.models import Invoice, Order, Shipment
from malote.orders.statuses import OrderStatus
from malote.stock import actions as stock_actions

FTS_TABLE = "orders_order_fts"


def order_stock_lines(order: Order) -> list[stock_actions.StockLine]:
    rows = fastsql.rows("SELECT sku, quantity FROM orders_orderline WHERE order_id = %s", [order.pk])
    return [stock_actions.StockLine(sku, qty) for sku, qty in rows]


def channel_policy(order: Order) -> tuple[str, bool]:
    """(code, invoice_needs_xml) of the order's channel, read without building the Channel."""
    code, needs_xml = fastsql.rows(
        "SELECT code, invoice_needs_xml FROM channels_channel WHERE id = %s", [order.channel_id]
    )[0]
    return str(code), bool(needs_xml)


# --- "invoice needs XML" -------------------------------------------------------------------------

_ORDER_CHANNELS = (
    "SELECT c.code, c.kind, c.invoice_needs_xml, c.options FROM channels_channel c"
    " WHERE c.id = %s OR c.id IN (SELECT l.channel_id FROM channels_orderlink l WHERE l.order_id = %s)"
    " ORDER BY c.code"
)


def channels_needing_invoice_xml(order: Order) -> list[str]:
    """Codes of the order's channels (its own and those it is linked to) that take its NF-e only
    as the authorized XML: the channel's ``invoice_needs_xml``, or the order's sub-channel listed
    in its ``invoice_needs_xml_marketplaces`` policy (SkyHub's Mercado Livre orders)."""
    from malote.channels.models import Channel

    found = []
    for code, kind, needs_xml, raw_options in fastsql.rows(_ORDER_CHANNELS, [order.channel_id, order.pk]):
        if needs_xml:
            found.append(str(code))
        elif order.marketplace:
            options = json.loads(raw_options) if isinstance(raw_options, str) else raw_options
            channel = Channel(code=code, kind=kind, options=options or {})
            if channel.invoice_needs_xml_for(order.marketplace):
                found.append(str(code))
    return found


def awaiting_invoice_xml(order: Order) -> bool:
    """Whether the order is "waiting for the NF-e XML": invoiced without the XML while a channel
    of the order takes the NF-e only as XML, so that channel has not been told about the invoice
    yet (``malote.orders.actions.attach_invoice_xml`` ends the wait). A canceled order waits for
    nothing. Uses the prefetched invoices when there are some."""
    if order.status == OrderStatus.CANCELED:
        return False
    invoices = list(order.invoices.all())
    if not invoices or invoices[-1].xml:
        return False
    return bool(channels_needing_invoice_xml(order))


def orders_awaiting_invoice_xml(qs: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """The orders ``awaiting_invoice_xml`` holds for, as a queryset (back-office list, API and counts).

    Not canceled, latest invoice without the XML, and a channel of the order (its own or a linked
    one) that takes the NF-e only as XML: the whole-channel ``invoice_needs_xml`` flag, or the
    order's sub-channel in the channel's ``invoice_needs_xml_marketplaces`` policy (SkyHub's Mercado
    Livre orders). Sub-channel names compare as ``normalized_name`` (in Python, over the few distinct
    names of the candidate orders), exactly as ``Channel.invoice_needs_xml_for`` does."""
    from malote.channels.models import Channel

    qs = Order.objects.all() if qs is None else qs
    last_xml = Invoice.objects.filter(order=OuterRef("pk")).order_by("-id").values("xml")[:1]
    candidates = qs.exclude(status=OrderStatus.CANCELED).filter(Exact(Subquery(last_xml), ""))
    return candidates.filter(
        _held_by(
            candidates,
            Channel.objects.all(),
            lambda channel, marketplace, _method: channel.invoice_needs_xml_for(marketplace),
        )
    )


def orders_invoice_held_for_shipment(qs: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """Invoiced orders not yet shipped whose NF-e a sales channel of theirs takes only once the
    shipment exists (``Channel.invoice_waits_for_shipment_of``): the invoice goes there at ``ship``."""
    from malote.channels.models import SALES_ROLES, Channel

    qs = Order.objects.all() if qs is None else qs
    candidates = qs.filter(
        Exists(Invoice.objects.filter(order=OuterRef("pk"))),
        status__in=[OrderStatus.INVOICED, OrderStatus.READY_TO_SHIP],
    )
    return candidates.filter(
        _held_by(
            candidates,
            Channel.objects.filter(role__in=SALES_ROLES),
            lambda channel, marketplace, method: channel.invoice_waits_for_shipment_of(marketplace, method),
        )
    )


def _held_by(
    candidates: QuerySet[Order], channels: QuerySet[Any], rule: Callable[[Any, str, str], bool]
) -> Q:
    """A condition matching the candidate orders one of ``channels`` (the order's own or a linked
    one) holds under ``rule(channel, marketplace, shipping_method)``. The rule is evaluated in
    Python once per channel and distinct (marketplace, shipping method) pair of the candidates."""
    from malote.channels.models import OrderLink

    pairs = set(candidates.order_by().values_list("marketplace", "shipping_method").distinct())
    condition = Q(pk__in=[])
    for channel in channels:
        held = [pair for pair in pairs if rule(channel, *pair)]
        if not held:
            continue
        of_channel = Q(channel_id=channel.pk) | Exists(
            OrderLink.objects.filter(order=OuterRef("pk"), channel_id=channel.pk)
        )
        which = Q(pk__in=[])
        for marketplace, method in held:
            which |= Q(marketplace=marketplace, shipping_method=method)
        condition |= of_channel & which
    return condition


@dataclass(frozen=True)
class OrderHold:
    """Something a channel of the order holds back, and why (docs/channel-rules.md).

    ``kind``: ``invoice_xml`` (the channel takes the NF-e only as XML and the XML is missing),
    ``invoice_shipment`` (the channel gets the NF-e only once the shipment exists) or
    ``delivery_from_channel`` (the channel reports the delivery; Malote never pushes it).
    ``scope``: ``channel`` (the whole-channel flag), ``marketplace`` or ``shipping_method`` (the
    per-order policy that matched), with the matched ``value``."""

    kind: str
    channel_code: str
    channel_name: str
    scope: str
    value: str = ""


def order_holds(order: Order) -> list[OrderHold]:
    """What the order's channels (its own and the linked ones) hold back right now."""
    from malote.channels.models import Channel

    of_order = Q(pk=order.channel_id) | Q(links__order_id=order.pk)
    channels = list(Channel.objects.filter(of_order).distinct().order_by("code"))
    holds: list[OrderHold] = []
    waiting_xml = awaiting_invoice_xml(order)
    invoiced_not_shipped = order.status in (OrderStatus.INVOICED, OrderStatus.READY_TO_SHIP) and bool(
        order.invoices.all()
    )
    open_delivery = order.status not in (OrderStatus.DELIVERED, OrderStatus.CANCELED)
    for channel in channels:
        if waiting_xml and channel.invoice_needs_xml_for(order.marketplace):
            scope = "channel" if channel.invoice_needs_xml else "marketplace"
            holds.append(_hold("invoice_xml", channel, scope, order.marketplace))
        if not channel.is_sales:
            continue
        waits = channel.invoice_waits_for_shipment_of(order.marketplace, order.shipping_method)
        if invoiced_not_shipped and waits:
            scope = "channel" if channel.invoice_waits_for_shipment else "marketplace"
            holds.append(_hold("invoice_shipment", channel, scope, order.marketplace))
        if open_delivery and channel.reports_delivery_of(order.shipping_method):
            scope = "channel" if channel.delivery_from_channel else "shipping_method"
            holds.append(_hold("delivery_from_channel", channel, scope, order.shipping_method))
    return holds


def _hold(kind: str, channel: Any, scope: str, value: str) -> OrderHold:
    return OrderHold(kind, channel.code, channel.name, scope, "" if scope == "channel" else value)


def stock_shortages(order: Order) -> list[str]:
    lines = order_stock_lines(order)
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return stock_actions.shortages(sorted(totals.items()))


def search_orders(qs: QuerySet[Order], query: str, *, newest: int | None = None) -> QuerySet[Order]:
    """Contains-search (see ``malote.orders.search``), plus the order of the NF-e whose whole
    access key, or of the shipment whose tracking code, the query spells; an empty query returns
    ``qs`` unchanged. ``newest`` keeps only that many of the text's matches, the most recent (by
    id): a search then costs what ``newest`` costs, not what the years of history cost."""
    variants = search.query_variants(query)
    if not variants:
        return qs
    condition = _text_matches(variants, newest)
    found = _orders_of_documents(query)
    if found:
        condition |= Q(id__in=found)
    return qs.filter(condition)


def counts_by_status(limit: int) -> dict[str, int]:
    """Every status's number of orders, each counted up to ``limit`` (a status with more reads
    ``limit``), in one statement: one range of the status index per status, never the whole table."""
    statuses = [status.value for status in OrderStatus]
    table = connection.ops.quote_name(Order._meta.db_table)
    one = f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE status = %s LIMIT %s) AS found)"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join([one] * len(statuses)), [v for s in statuses for v in (s, limit)]
        )
        row = cursor.fetchone()
    return dict(zip(statuses, row, strict=True))


def search_has_more(query: str, newest: int) -> bool:
    """Whether the text matches more orders than the ``newest`` that ``search_orders`` keeps."""
    variants = search.query_variants(query)
    if not variants:
        return False
    return Order.objects.filter(_text_matches(variants, newest + 1)).count() > newest


def _text_matches(variants: list[str], newest: int | None) -> Q:
    if connection.vendor == "sqlite" and all(len(v) >= search.MIN_INDEXED_LENGTH for v in variants):
        # FTS5 trigram index: a quoted phrase matches any substring; variants are [a-z0-9 ] only.
        # FTS5 walks its matches in rowid order, so the newest ones come first and LIMIT stops it.
        match = " OR ".join(f'"{v}"' for v in variants)
        sql = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
        if newest is None:
            return Q(id__in=RawSQL(sql, [match]))
        return Q(id__in=RawSQL(f"{sql} ORDER BY rowid DESC LIMIT %s", [match, newest]))
    text = Q()
    for variant in variants:
        text |= Q(search_key__contains=variant)
    if newest is None:
        return text
    return Q(id__in=Order.objects.filter(text).order_by("-id").values("id")[:newest])


def _orders_of_documents(query: str) -> list[int]:
    """Ids of the orders whose NF-e key or tracking code ``query`` spells: one query of exact
    lookups on indexed columns (none when the query looks like neither). Resolved to ids first: PostgreSQL
    cannot combine an ``IN (subquery)`` with the trigram index in one OR and would scan every
    order; ``id IN (1, 2)`` is one more index it can OR."""
    key = search.nfe_key(query)
    codes = search.tracking_codes(query)
    lookups: list[QuerySet[Any]] = []
    if codes:
        lookups.append(Shipment.objects.filter(tracking_code__in=codes).order_by().values_list("order_id"))
    if key is not None:
        lookups.append(Invoice.objects.filter(key=key).order_by().values_list("order_id"))
    if not lookups:
        return []
    ids = lookups[0].union(*lookups[1:]) if len(lookups) > 1 else lookups[0]
    return sorted({order_id for (order_id,) in ids})


def filter_orders(
    qs: QuerySet[Order],
    *,
    status: list[str] | None = None,
    channel: list[str] | None = None,
    placed_from: datetime | None = None,
    placed_to: datetime | None = None,
    q: str | None = None,
    newest: int | None = None,
) -> QuerySet[Order]:
    """``newest``: see ``search_orders``."""
    if status:
        qs = qs.filter(status__in=status)
    if channel:
        qs = qs.filter(channel__code__in=channel)
    if placed_from:
        qs = qs.filter(placed_at__gte=placed_from)
    if placed_to:
        qs = qs.filter(placed_at__lte=placed_to)
    if q:
        qs = search_orders(qs, q, newest=newest)
    return qs


def orders_with_divergent_links(qs: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """Orders a linked system shows differently, held until an operator resolves it
    (``malote.relay.divergence.resolve_divergence``)."""
    qs = Order.objects.all() if qs is None else qs
    return qs.filter(links__state="divergent").distinct()


# --- the list's filters as people type them (API and back office) ------------------------------


def in_range(moment: datetime) -> datetime:
    """Raise ``OverflowError`` unless the moment can be stored in UTC (as the database does)."""
    moment.astimezone(UTC)
    return moment


def parse_moment(value: str | None, field: str, *, end_of_day: bool) -> datetime | None:
    """A date (whole day) or an ISO 8601 date-time; naive values are in the shop's zone."""
    if not value:
        return None
    try:
        day = parse_date(value) if len(value) == 10 else None
        if day is not None:
            moment = timezone.make_aware(
                datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
            )
            return in_range(moment - (timedelta(microseconds=1) if end_of_day else timedelta(0)))
        parsed = parse_datetime(value)
        if parsed is not None:
            return in_range(timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed)
    except (ValueError, OverflowError):
        pass
    raise InvalidInput(
        f"{value!r} is not a date or ISO 8601 date-time.", code=OrdersErrorCode.INVALID_DATETIME, field=field
    )


def filtered_orders(
    status: list[OrderStatus] | None,
    channel: list[str] | None,
    placed_from: str | None,
    placed_to: str | None,
    q: str | None,
    newest: int | None = None,
) -> QuerySet[Order]:
    if q is not None and len(q) > 200:
        raise InvalidInput(
            "The search text is limited to 200 characters.", code=OrdersErrorCode.QUERY_TOO_LONG, field="q"
        )
    for field, values in (("q", [q or ""]), ("channel", channel or [])):
        if any("\x00" in value for value in values):
            raise InvalidInput(
                "Text may not contain NUL characters.", code=OrdersErrorCode.NUL_CHARACTER, field=field
            )
    return filter_orders(
        Order.objects.select_related("channel"),
        status=[str(s) for s in status] if status else None,
        channel=channel,
        placed_from=parse_moment(placed_from, "placed_from", end_of_day=False),
        placed_to=parse_moment(placed_to, "placed_to", end_of_day=True),
        q=q,
        newest=newest,
    )
