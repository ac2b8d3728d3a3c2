"""Read queries of the channels, stock, dashboard and users pages: a fixed number of aggregate queries
per page, whatever the number of channels, SKUs, orders or users.

Channel health comes from three sources: the outbox (``channel:<code>`` destination), the order
links and the channel's schedules. The outbox keeps no per-attempt log, so "failed in the last hour"
counts messages whose last attempt failed (pending with an error, or dead) with ``next_attempt_at``
in the window: exact for dead letters (their ``next_attempt_at`` is the moment they died), a little
generous for pending ones (their ``next_attempt_at`` is the failure time plus the backoff).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from malote.accounts.models import ApiToken
from malote.accounts.roles import ROLES
from malote.channels import option_specs
from malote.channels.models import Channel, LinkState, OrderLink
from malote.channels.option_specs import OptionSpec, OptionType
from malote.connectors.registry import provider
from malote.orders.models import Order
from malote.orders.statuses import OrderStatus
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueKind
from malote.stock.models import StockItem, StockMovement
from malote.sync.models import MessageState, OutboxMessage, Schedule, ScheduleRun

# A channel whose oldest undelivered message is older than this is shown as lagging.
LAG_WARNING = timedelta(minutes=10)
FAILURE_WINDOW = timedelta(hours=1)
RATE_WINDOW = timedelta(hours=24)
LINK_PROBLEMS = (LinkState.ERROR, LinkState.DIVERGENT)
UNDELIVERED = (MessageState.PENDING, MessageState.IN_FLIGHT)

HEALTH_LABELS = {
    "disabled": _("Desativado"),
    "failing": _("Com falhas"),
    "lagging": _("Atrasado"),
    "attention": _("Atenção"),
    "ok": _("OK"),
}


def duration_text(delta: timedelta) -> str:
    """``1 d 2 h``, ``3 h 5 min``, ``4 min 10 s``, ``12 s``: the two largest units."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n} {unit}" for n, unit in parts[:2] if n or unit == parts[0][1])


def destination_of(channel: Channel) -> str:
    return f"channel:{channel.code}"


# What each stall cause is called and what to do about it (docs/reconciliation.md, "Channel
# stalled"); the issue's evidence carries the measured text (dates, intervals) in pt-BR.
STALL_CAUSES = {
    "auth": _("Credenciais recusadas"),
    "schedule": _("Rotina parada"),
    "silent": _("Sem pedidos novos"),
}
STALL_ACTIONS = {
    "auth": _("Renovar as credenciais do canal (autorizar o aplicativo de novo) e salvar o canal."),
    "schedule": _("Verificar se o worker está rodando e se a rotina do canal está ativa."),
    "silent": _(
        "Conferir no painel do canal se há pedidos novos e se a integração (webhooks, fila) está ativa."
    ),
}


@dataclass(frozen=True)
class StallCause:
    cause: str
    label: str
    text: str
    recommendation: str


@dataclass(frozen=True)
class ChannelStall:
    """A channel's active ``channel_stalled`` issue, as the channels pages show it."""

    issue_id: int
    first_seen: datetime
    last_seen: datetime
    causes: list[StallCause]


def _stall_of(issue: IntegrationIssue) -> ChannelStall:
    causes = []
    for entry in (issue.evidence or {}).get("causes", []):
        if not isinstance(entry, dict):
            continue
        code = str(entry.get("cause", ""))
        causes.append(
            StallCause(
                cause=code,
                label=str(STALL_CAUSES.get(code, code)),
                text=str(entry.get("text", "")),
                recommendation=str(STALL_ACTIONS.get(code, entry.get("recommendation", ""))),
            )
        )
    return ChannelStall(issue.pk, issue.first_seen, issue.last_seen, causes)


def channel_stalls(channels: list[Channel]) -> dict[int, ChannelStall]:
    """The active ``channel_stalled`` issue of each channel that has one, by channel id (one query)."""
    issues = (
        IntegrationIssue.objects.filter(
            kind=IssueKind.CHANNEL_STALLED, channel_id__in=[c.pk for c in channels], state__in=ACTIVE_STATES
        )
        .only("id", "channel_id", "evidence", "first_seen", "last_seen")
        .order_by("-last_seen", "-id")
    )
    stalls: dict[int, ChannelStall] = {}
    for issue in issues:
        stalls.setdefault(issue.channel_id, _stall_of(issue))
    return stalls


def with_stalls(health: list[ChannelHealth]) -> list[ChannelHealth]:
    """``health`` with each channel's stall filled in (one query)."""
    stalls = channel_stalls([h.channel for h in health])
    for entry in health:
        entry.stall = stalls.get(entry.channel.pk)
    return health


@dataclass
class ChannelHealth:
    channel: Channel
    last_sync_at: datetime | None = None
    oldest_undelivered_at: datetime | None = None
    undelivered: int = 0
    failed_last_hour: int = 0
    failed_in_window: int = 0
    delivered_in_window: int = 0
    dead: int = 0
    link_errors: int = 0
    poll_enabled: bool | None = None
    poll_last_result: str = ""
    now: datetime = field(default_factory=timezone.now)
    # The channel's active ``channel_stalled`` issue, when asked for (``with_stalls``).
    stall: ChannelStall | None = None

    @property
    def lag(self) -> timedelta | None:
        if self.oldest_undelivered_at is None:
            return None
        return max(self.now - self.oldest_undelivered_at, timedelta(0))

    @property
    def lag_seconds(self) -> int:
        lag = self.lag
        return int(lag.total_seconds()) if lag is not None else 0

    @property
    def lag_display(self) -> str:
        return duration_text(self.lag) if self.lag is not None else "—"

    @property
    def failure_rate(self) -> float:
        """Share of the last 24 hours' settled attempts that failed, 0..1."""
        total = self.failed_in_window + self.delivered_in_window
        return self.failed_in_window / total if total else 0.0

    @property
    def failure_percent(self) -> float:
        return round(self.failure_rate * 100, 1)

    @property
    def status(self) -> str:
        if not self.channel.enabled:
            return "disabled"
        if self.failed_last_hour or self.dead:
            return "failing"
        if self.lag is not None and self.lag > LAG_WARNING:
            return "lagging"
        if self.link_errors:
            return "attention"
        return "ok"

    @property
    def status_label(self) -> str:
        return str(HEALTH_LABELS[self.status])


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def channel_health(channels: list[Channel], *, now: datetime | None = None) -> list[ChannelHealth]:
    """Health of each channel in four aggregate queries (outbox, links, schedules, schedule runs)."""
    now = now or timezone.now()
    hour_ago, day_ago = now - FAILURE_WINDOW, now - RATE_WINDOW
    failed = Q(state=MessageState.DEAD) | (Q(state=MessageState.PENDING) & ~Q(last_error=""))
    destinations = [destination_of(c) for c in channels]
    # Two reads that never touch the delivered history (millions of rows after a year): the live
    # and dead messages (outbox_due), and the last day's deliveries (outbox_delivered). A channel
    # with nothing delivered in the window takes its last sync from its links and schedule runs.
    outbox: dict[str, dict[str, Any]] = {
        row["destination"]: dict(row)
        for row in OutboxMessage.objects.filter(
            destination__in=destinations, state__in=(*UNDELIVERED, MessageState.DEAD)
        )
        .order_by()
        .values("destination")
        .annotate(
            oldest_undelivered=Min("created_at", filter=Q(state__in=UNDELIVERED)),
            undelivered=Count("id", filter=Q(state__in=UNDELIVERED)),
            failed_hour=Count("id", filter=failed & Q(next_attempt_at__gte=hour_ago)),
            failed_day=Count("id", filter=failed & Q(next_attempt_at__gte=day_ago)),
            dead=Count("id", filter=Q(state=MessageState.DEAD)),
        )
    }
    for row in (
        OutboxMessage.objects.filter(
            destination__in=destinations, state=MessageState.DONE, delivered_at__gte=day_ago
        )
        .order_by()
        .values("destination")
        .annotate(last_done=Max("delivered_at"), done_day=Count("id"))
    ):
        outbox.setdefault(row["destination"], {}).update(row)
    ids = [c.pk for c in channels]
    links: dict[int, dict[str, Any]] = {
        row["channel_id"]: dict(row)
        for row in OrderLink.objects.filter(channel_id__in=ids)
        .order_by()
        .values("channel_id")
        .annotate(last_synced=Max("last_synced_at"), errors=Count("id", filter=Q(state__in=LINK_PROBLEMS)))
    }
    runs = dict(
        ScheduleRun.objects.filter(schedule__channel_id__in=ids, ok=True)
        .order_by()
        .values("schedule__channel_id")
        .annotate(last_ok=Max("finished_at"))
        .values_list("schedule__channel_id", "last_ok")
    )
    polls = {
        s.channel_id: s
        for s in Schedule.objects.filter(channel_id__in=ids, job="channel.poll").only(
            "channel_id", "enabled", "last_result"
        )
    }
    result = []
    for channel in channels:
        out = outbox.get(destination_of(channel), {})
        link = links.get(channel.pk, {})
        poll = polls.get(channel.pk)
        result.append(
            ChannelHealth(
                channel=channel,
                last_sync_at=_latest(out.get("last_done"), link.get("last_synced"), runs.get(channel.pk)),
                oldest_undelivered_at=out.get("oldest_undelivered"),
                undelivered=out.get("undelivered", 0),
                failed_last_hour=out.get("failed_hour", 0),
                failed_in_window=out.get("failed_day", 0),
                delivered_in_window=out.get("done_day", 0),
                dead=out.get("dead", 0),
                link_errors=link.get("errors", 0),
                poll_enabled=poll.enabled if poll else None,
                poll_last_result=poll.last_result if poll else "",
                now=now,
            )
        )
    return result


def all_channels() -> list[Channel]:
    return list(Channel.objects.order_by("name", "code"))


def recent_failures(channel: Channel, limit: int = 10) -> list[OutboxMessage]:
    """The channel's latest failing messages (dead or retrying), payload left out."""
    return list(
        OutboxMessage.objects.filter(destination=destination_of(channel))
        .filter(Q(state=MessageState.DEAD) | (Q(state=MessageState.PENDING) & ~Q(last_error="")))
        .select_related("order")
        .only(
            "kind",
            "state",
            "attempts",
            "last_error",
            "last_status",
            "next_attempt_at",
            "created_at",
            "order_id",
            "order__number",
        )
        .order_by("-next_attempt_at", "-id")[:limit]
    )


def option_specs_of(channel: Channel) -> list[OptionSpec]:
    """The options that apply to the channel (its role, kind and connector's capabilities)."""
    cls = provider(channel.kind)
    capabilities = [str(c) for c in cls.capabilities] if cls is not None else []
    return option_specs.applicable(channel.role, channel.kind, capabilities)


@dataclass(frozen=True)
class OptionRow:
    """One option as the channel page shows it read-only: its value, its default, whether set."""

    spec: OptionSpec
    value: Any
    default: Any
    overridden: bool

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def help_html(self) -> SafeString:
        return option_help_html(self.spec)

    @property
    def is_flag(self) -> bool:
        return self.spec.type == OptionType.BOOL

    @property
    def value_text(self) -> str:
        return option_text(self.value)

    @property
    def default_text(self) -> str:
        return option_text(self.default)


def option_help_html(spec: OptionSpec) -> SafeString:
    """The spec's help text with its `backticked` codes (fields, JSON, vendor words) as ``<code>``:
    codes are shown as codes, never as prose of either language."""
    parts = str(spec.help).split("`")
    # Safe to mark: every part is escaped.
    return mark_safe(
        "".join(
            escape(part) if i % 2 == 0 else f"<code>{escape(part)}</code>" for i, part in enumerate(parts)
        )
    )


def option_text(value: Any) -> str:
    """An option's value as the channel page shows it: sim/não, items joined, JSON for objects."""
    if value is True or value is False:
        return str(_("sim") if value else _("não"))
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def option_rows(channel: Channel) -> list[OptionRow]:
    own = channel.options or {}
    rows = []
    for spec in option_specs_of(channel):
        default = spec.default_for(channel.kind)
        rows.append(OptionRow(spec, own.get(spec.name, default), default, spec.name in own))
    return rows


def problem_links(channel: Channel, limit: int = 10) -> list[OrderLink]:
    return list(
        OrderLink.objects.filter(channel=channel, state__in=LINK_PROBLEMS)
        .select_related("order")
        .only("order__number", "order_id", "external_id", "state", "last_error", "last_synced_at")
        .order_by("-id")[:limit]
    )


# --- stock ---------------------------------------------------------------------------------------


def stock_items(query: str = "") -> QuerySet[StockItem]:
    qs = StockItem.objects.order_by("sku")
    query = query.strip()
    if query:
        qs = qs.filter(Q(sku__icontains=query) | Q(name__icontains=query))
    return qs


def movements_of(sku: str) -> QuerySet[StockMovement]:
    return (
        StockMovement.objects.filter(sku=sku)
        .select_related("order")
        .only(
            "reason",
            "physical_delta",
            "reserved_delta",
            "note",
            "actor",
            "created_at",
            "order_id",
            "order__number",
        )
    )


# --- dashboard -----------------------------------------------------------------------------------


def orders_per_status() -> list[dict[str, Any]]:
    counts = dict(
        Order.objects.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return [{"code": s.value, "label": str(s.label), "count": counts.get(s.value, 0)} for s in OrderStatus]


def orders_per_channel() -> list[dict[str, Any]]:
    rows = (
        Order.objects.order_by()
        .values("channel__code", "channel__name")
        .annotate(n=Count("id"))
        .order_by("-n", "channel__name")
    )
    return [{"code": r["channel__code"], "label": r["channel__name"], "count": r["n"]} for r in rows]


def orders_per_day(days: int = 30, *, today: date | None = None) -> list[dict[str, Any]]:
    """Orders placed per local calendar day over the last ``days`` days (today included), zeros kept."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    counts = dict(
        Order.objects.filter(placed_at__gte=start)
        .order_by()
        .annotate(day=TruncDate("placed_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [
        {"day": first + timedelta(days=i), "count": counts.get(first + timedelta(days=i), 0)}
        for i in range(days)
    ]


def attention_counts(per_status: list[dict[str, Any]]) -> dict[str, int]:
    """What needs an operator: out-of-stock orders (from ``orders_per_status``), dead letters,
    divergent or failed links."""
    return {
        "out_of_stock": next(r["count"] for r in per_status if r["code"] == OrderStatus.OUT_OF_STOCK),
        "dead_letters": OutboxMessage.objects.filter(state=MessageState.DEAD).count(),
        "link_problems": OrderLink.objects.filter(state__in=LINK_PROBLEMS).count(),
    }


# --- users ---------------------------------------------------------------------------------------


def role_of(user: Any) -> str:
    """The user's role: the first of its groups that is a role (groups must be prefetched)."""
    names = {g.name for g in user.groups.all()}
    return next((role for role in ROLES if role in names), "")


@dataclass
class UserRow:
    user: Any
    role: str
    active_tokens: int


def users_with_roles() -> list[UserRow]:
    """Every user with its role and count of active tokens (two queries)."""
    users = (
        get_user_model()
        .objects.prefetch_related("groups")
        .annotate(active_tokens=Count("api_tokens", filter=Q(api_tokens__revoked_at=None)))
        .order_by("username")
    )
    return [UserRow(user, role_of(user), user.active_tokens) for user in users]


def tokens_of(user: Any) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user).defer("key_hash").order_by("-created_at"))
