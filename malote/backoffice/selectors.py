"""Read queries of the back office, built on the API's filters (one search, one filter set)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from malote.backoffice.evidence import ChannelNames
from malote.backoffice.forms import DEFAULT_SORT, SORTS
from malote.channels.models import Channel, LinkState, OrderLink
from malote.orders.models import Order
from malote.orders.selectors import (
    OrderHold,
    counts_by_status,
    filtered_orders,
    order_holds,
    orders_awaiting_invoice_xml,
    orders_invoice_held_for_shipment,
)
from malote.orders.selectors import search_has_more as orders_search_has_more
from malote.orders.statuses import OrderStatus
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue
from malote.stock.models import StockMovement
from malote.sync.models import MessageState, OutboxMessage


def channel_choices() -> list[tuple[str, str]]:
    return [(code, name) for code, name in Channel.objects.order_by("name").values_list("code", "name")]


# A text search without dates looks at this many of its matches, the most recent; the list says so
# when there are more, and dates reach the older ones (docs/performance.md).
SEARCH_LIMIT = 10_000


def search_limit(cleaned: dict[str, Any]) -> int | None:
    """``SEARCH_LIMIT`` for a text search without dates; None (every match) otherwise."""
    dated = cleaned.get("placed_from") or cleaned.get("placed_to")
    return SEARCH_LIMIT if cleaned.get("q") and not dated else None


def search_has_more(cleaned: dict[str, Any]) -> bool:
    """Whether the list's text search stopped at ``SEARCH_LIMIT`` matches."""
    limit = search_limit(cleaned)
    return limit is not None and orders_search_has_more(cleaned["q"], limit)


def orders_for(
    cleaned: dict[str, Any], *, with_status: bool = True, every_match: bool = False
) -> QuerySet[Order]:
    """Orders matching the list's filter form (``with_status=False`` ignores the status filter;
    ``every_match`` lifts ``SEARCH_LIMIT``, for the exports)."""
    placed_from = cleaned.get("placed_from")
    placed_to = cleaned.get("placed_to")
    statuses = [OrderStatus(s) for s in cleaned.get("status") or []] if with_status else None
    qs = filtered_orders(
        statuses or None,
        [cleaned["channel"]] if cleaned.get("channel") else None,
        placed_from.isoformat() if placed_from else None,
        placed_to.isoformat() if placed_to else None,
        cleaned.get("q") or None,
        newest=None if every_match else search_limit(cleaned),
    )
    if cleaned.get("payment_method"):
        qs = qs.filter(payment_method=cleaned["payment_method"])
    if cleaned.get("problem"):
        qs = qs.filter(integration_problem())
    if cleaned.get("xml_pending"):
        qs = orders_awaiting_invoice_xml(qs)
    if cleaned.get("invoice_held"):
        qs = orders_invoice_held_for_shipment(qs)
    return qs


# Counts are exact up to this many orders and read "10.000+" beyond: a count reads every order it
# counts, so an exact one would cost what the shop's whole history costs (docs/performance.md).
COUNT_LIMIT = 10_000


def status_counts(cleaned: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-status counts of the filtered orders (status filter aside), each exact up to
    ``COUNT_LIMIT``; ``more`` marks a count that stopped there (at least that many).

    With no filter but the status, each status is counted apart through the status index, up to
    the limit: an index range each, no order read. With other filters, one query reads the
    statuses of the newest ``COUNT_LIMIT + 1`` matching orders: when the filter matches no more,
    those are the exact counts; otherwise they are those of the newest matching orders, every one
    marked ``more``, since exact counts would read every order of the history the filters look at."""
    if not any(cleaned.get(name) for name in cleaned if name not in ("status", "sort")):
        counted = counts_by_status(COUNT_LIMIT + 1)
        return [_count(status, counted[status.value]) for status in OrderStatus]
    matching = orders_for(cleaned, with_status=False).order_by("-placed_at", "-id")
    sample = Counter(matching.values_list("status", flat=True)[: COUNT_LIMIT + 1])
    more = sample.total() > COUNT_LIMIT
    return [_count(status, sample[status.value], more=more) for status in OrderStatus]


def _count(status: OrderStatus, found: int, *, more: bool = False) -> dict[str, Any]:
    more = more or found > COUNT_LIMIT
    return {
        "code": status.value,
        "label": str(status.label),
        "count": min(found, COUNT_LIMIT),
        "more": more,
    }


def counts_total(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """Every status together: their sum, ``more`` when one of them stopped at the limit."""
    return {"count": sum(c["count"] for c in counts), "more": any(c["more"] for c in counts)}


def sorted_orders(qs: QuerySet[Order], sort: str) -> QuerySet[Order]:
    name = (sort or DEFAULT_SORT).lstrip("-")
    if name not in SORTS:
        return qs.order_by("-placed_at", "-id")
    fields = SORTS[name]
    if (sort or DEFAULT_SORT).startswith("-"):
        return qs.order_by(*(f[1:] if f.startswith("-") else f"-{f}" for f in fields))
    return qs.order_by(*fields)


def order_page_data(order_id: int) -> Order | None:
    return (
        Order.objects.select_related("channel")
        .prefetch_related("lines", "payments", "invoices__events", "shipments", "events")
        .filter(pk=order_id)
        .first()
    )


def hold_notes(order: Order) -> list[dict[str, str]]:
    """What a channel holds back on this order, which rule holds it and what releases it (pt-BR),
    one entry per hold of ``malote.orders.selectors.order_holds`` (docs/channel-rules.md)."""
    return [_hold_note(hold) for hold in order_holds(order)]


def _hold_note(hold: OrderHold) -> dict[str, str]:
    names = {"channel": hold.channel_name, "value": hold.value}
    if hold.kind == "invoice_xml":
        title = _("NF-e retida: falta o XML autorizado")
        rule = (
            _("%(channel)s só aceita a NF-e como XML (nfeProc), em todos os pedidos do canal.")
            if hold.scope == "channel"
            else _("%(channel)s só aceita a NF-e como XML (nfeProc) nos pedidos do sub-canal %(value)s.")
        )
        releases = _("Libera: anexar o XML autorizado da NF-e; a nota segue para o canal logo em seguida.")
    elif hold.kind == "invoice_shipment":
        title = _("NF-e retida até o envio")
        rule = (
            _("%(channel)s só recebe a NF-e depois que o envio existe, para todos os pedidos do canal.")
            if hold.scope == "channel"
            else _(
                "%(channel)s só recebe a NF-e depois que o envio existe para pedidos do sub-canal %(value)s."
            )
        )
        releases = _("Libera: registrar o envio do pedido; a NF-e é enviada ao canal logo depois do envio.")
    else:
        title = _("Entrega informada pelo canal")
        rule = (
            _("%(channel)s informa a entrega de todos os pedidos; o Malote não envia “entregue” ao canal.")
            if hold.scope == "channel"
            else _(
                "%(channel)s informa a entrega dos pedidos enviados por %(value)s; "
                "o Malote não envia “entregue” ao canal."
            )
        )
        releases = _(
            "Libera: o canal informar a entrega; ela é repassada ao ERP, aos outros canais e ao cliente."
        )
    return {
        "kind": hold.kind,
        "channel": hold.channel_code,
        "title": title,
        "rule": rule % names,
        "releases": releases,
    }


PROBLEM_LINK_STATES = (LinkState.ERROR, LinkState.DIVERGENT)
PANEL_MESSAGES = 100


def _problems() -> tuple[Exists, Exists, Exists]:
    bad_link = OrderLink.objects.filter(order=OuterRef("pk"), state__in=PROBLEM_LINK_STATES)
    dead = OutboxMessage.objects.filter(order=OuterRef("pk"), state=MessageState.DEAD)
    issue = IntegrationIssue.objects.filter(order=OuterRef("pk"), state__in=ACTIVE_STATES)
    return Exists(bad_link), Exists(dead), Exists(issue)


def integration_problem() -> Q:
    """Orders with a link in error or divergent, a dead outbox message or an active integration issue.

    Written as ``id IN`` the few problem rows (each read through an index on its state) rather
    than as one correlated ``EXISTS`` per order: the filter and its counts then cost what the
    problems cost, not three look-ups for every order in the shop."""
    bad_link = OrderLink.objects.filter(state__in=PROBLEM_LINK_STATES).values("order_id")
    dead = OutboxMessage.objects.filter(state=MessageState.DEAD, order_id__isnull=False)
    issue = IntegrationIssue.objects.filter(state__in=ACTIVE_STATES, order_id__isnull=False)
    return Q(pk__in=bad_link) | Q(pk__in=dead.values("order_id")) | Q(pk__in=issue.values("order_id"))


def with_problem_flag(qs: QuerySet[Order]) -> QuerySet[Order]:
    """Annotate ``has_problem`` (for the list's badge) in the same query."""
    bad_link, dead, issue = _problems()
    return qs.annotate(has_problem=bad_link | dead | issue)


def list_page_orders(ids: list[int]) -> list[Order]:
    """The orders of one list page, in the order of ``ids``, with their channel and problem badge.

    The page's ids are found first (ordering and paging over the bare rows, which an index can
    serve); the whole rows and the badge's look-ups are then read for those ids only, never for
    every order the filter matches before the sort and the page cut."""
    found = with_problem_flag(Order.objects.select_related("channel").filter(pk__in=ids)).order_by()
    by_id = {order.pk: order for order in found}
    return [by_id[pk] for pk in ids if pk in by_id]


def filtered_count(counts: list[dict[str, Any]], statuses: list[str] | None) -> dict[str, Any]:
    """The list's count, from the per-status counts already made (``status_counts``): they cover
    the same filter but the status, so one more count over the same orders would add nothing."""
    wanted = set(statuses or [])
    return counts_total([c for c in counts if not wanted or c["code"] in wanted])


def integration_panel(order: Order, names: ChannelNames | None = None) -> list[dict[str, Any]]:
    """Per connected system: the order's link there and its outbox messages (newest first).

    Messages to a system the order has no link with (e-mail, a channel not linked yet) get a group
    of their own, titled with the system's name, so nothing waiting or failed is hidden.
    """
    names = names or ChannelNames([order.channel])
    links = list(OrderLink.objects.filter(order=order).select_related("channel"))
    messages = list(
        OutboxMessage.objects.filter(order=order)
        .order_by("-id")
        .only("id", "destination", "kind", "state", "attempts", "last_error", "last_status",
              "next_attempt_at", "created_at", "delivered_at")[:PANEL_MESSAGES]
    )  # fmt: skip
    groups: dict[str, dict[str, Any]] = {}
    for link in links:
        groups[f"channel:{link.channel.code}"] = {"title": link.channel.name, "link": link, "messages": []}
    for message in messages:
        group = groups.setdefault(
            message.destination,
            {"title": _destination_title(message.destination, names), "link": None, "messages": []},
        )
        group["messages"].append(message)
    return list(groups.values())


def panel_has_problem(panel: list[dict[str, Any]]) -> bool:
    return any(
        (g["link"] is not None and g["link"].state in PROBLEM_LINK_STATES)
        or any(m.state == MessageState.DEAD for m in g["messages"])
        for g in panel
    )


def _destination_title(destination: str, names: ChannelNames) -> str:
    """A message's destination as people know it: "E-mail ao cliente" or the channel's name."""
    if destination.startswith("email:"):
        return _("E-mail ao cliente")
    prefix, _sep, code = destination.partition(":")
    return names.name(code) if prefix in ("channel", "helpdesk") and code else _("Outro destino")


def order_stock_movements(order: Order) -> list[StockMovement]:
    return list(StockMovement.objects.filter(order=order).order_by("created_at", "id"))
