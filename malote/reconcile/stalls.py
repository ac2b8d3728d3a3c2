"""Silent stalls: a channel that stopped talking without failing loudly (docs/reconciliation.md,
"Channel stalled").

One ``channel_stalled`` issue per channel (subject and external reference ``channel:<code>``), opened or
refreshed when any of these causes holds, for every enabled channel driven by a connector:

* ``auth`` — the channel's latest calls were refused: an outbox message to ``channel:<code>`` whose
  last answer was 401/403 (or a refused token refresh), or a schedule run of the channel that
  failed so, in the last ``stall_auth_window_hours`` (24), with no successful call since;
* ``schedule`` — an enabled schedule of the channel that has run before has not run for more than
  ``stall_schedule_factor`` (3) × its interval (and at least 15 minutes);
* ``silent`` — a sales channel live for at least a day whose last order arrived longer ago than
  max(``stall_min_silence_hours`` (6 h), ``stall_gap_factor`` (4) × the longest gap between two
  consecutive orders of the ``stall_history_days`` (14) days up to that last order), once those
  days hold at least ``stall_min_orders`` (10) orders. Orders count by arrival (``created_at``).

The issue clears only on positive evidence for every cause it recorded: a successful call after the
refusal (a delivered message or a successful schedule run), the schedule ran again, a new order
arrived. A cause that merely stops being measurable (history too short, the refusal older than the
window) keeps the issue open.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.models import Order
from malote.reconcile import actions
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue, IssueAction, IssueKind
from malote.sync.models import MessageState, OutboxMessage, Schedule, ScheduleRun

DEFAULTS: dict[str, Any] = {
    "stall_check": True,
    "stall_auth_window_hours": 24,
    "stall_schedule_factor": 3,
    "stall_min_silence_hours": 6,
    "stall_gap_factor": 4,
    "stall_history_days": 14,
    "stall_min_orders": 10,
}
AUTH_STATUSES = (401, 403)
# How a refused credential reads in an error text (schedule runs keep no status code): an HTTP
# 401/403, or the connectors' refused-token messages (Mercado Livre, Bling).
AUTH_PHRASES = (
    "HTTP 401",
    "HTTP 403",
    "refused the access token",
    "refused the refresh token",
    "refresh token was refused",
    "token refused",
    "authorize the app again",
)
MIN_SCHEDULE_LATENESS = timedelta(minutes=15)
MIN_LIVE = timedelta(days=1)

RENEW = "Renovar as credenciais do canal (autorizar o aplicativo de novo) e salvar o canal."
CHECK_WORKER = "Verificar se o worker está rodando e se a rotina do canal está ativa."
CHECK_PANEL = "Conferir no painel do canal se há pedidos novos e se a integração (webhooks, fila) está ativa."


def _opt(channel: Channel, name: str) -> Any:
    return channel.option(name, DEFAULTS[name])


def _fmt(moment: datetime) -> str:
    return f"{timezone.localtime(moment):%d/%m/%Y %H:%M}"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}".replace(".", ",")


# --- evidence of each cause --------------------------------------------------------------------


def _auth_q(field: str) -> Q:
    condition = Q()
    for phrase in AUTH_PHRASES:
        condition |= Q(**{f"{field}__icontains": phrase})
    return condition


def _last_success(channel: Channel, schedules: list[Schedule]) -> datetime | None:
    delivered = OutboxMessage.objects.filter(
        destination=f"channel:{channel.code}", state=MessageState.DONE
    ).aggregate(at=Max("delivered_at"))["at"]
    ran = ScheduleRun.objects.filter(schedule__in=schedules, ok=True).aggregate(at=Max("finished_at"))["at"]
    moments = [m for m in (delivered, ran) if m is not None]
    return max(moments) if moments else None


def _auth_failure(channel: Channel, schedules: list[Schedule], now: datetime) -> dict[str, Any] | None:
    """The latest refused call of the channel in the window, unless a call succeeded since."""
    since = now - timedelta(hours=float(_opt(channel, "stall_auth_window_hours")))
    refused = (
        OutboxMessage.objects.filter(destination=f"channel:{channel.code}")
        .filter(state__in=[MessageState.PENDING, MessageState.DEAD])
        .filter(Q(last_status__in=AUTH_STATUSES) | _auth_q("last_error"))
        .filter(next_attempt_at__gte=since)
    )
    latest: tuple[datetime, str] | None = None
    message = refused.order_by("-next_attempt_at").first()
    if message is not None:
        # A retried message's next attempt is after its failure: the failure is no later than this.
        latest = (min(message.next_attempt_at, now), message.last_error[:300])
    run = (
        ScheduleRun.objects.filter(schedule__in=schedules, ok=False, finished_at__gte=since)
        .filter(_auth_q("detail"))
        .order_by("-finished_at")
        .first()
    )
    if run is not None and run.finished_at is not None and (latest is None or run.finished_at > latest[0]):
        latest = (run.finished_at, run.detail[:300])
    if latest is None:
        return None
    success = _last_success(channel, schedules)
    if success is not None and success > latest[0]:
        return None
    return {
        "cause": "auth",
        "failed_at": latest[0].isoformat(),
        "error": latest[1],
        "text": f"O canal recusou a autenticação em {_fmt(latest[0])} (HTTP 401/403 ou renovação do token"
        " recusada) e nenhuma chamada deu certo desde então.",
        "recommendation": RENEW,
    }


def _late_schedules(channel: Channel, schedules: list[Schedule], now: datetime) -> list[dict[str, Any]]:
    factor = float(_opt(channel, "stall_schedule_factor"))
    late = []
    for schedule in schedules:
        if not schedule.enabled or schedule.last_run_at is None:
            continue  # never ran: nothing to compare with yet
        allowed = max(timedelta(seconds=schedule.interval_seconds * factor), MIN_SCHEDULE_LATENESS)
        if now - schedule.last_run_at > allowed:
            minutes = max(1, round(schedule.interval_seconds / 60))
            late.append(
                {
                    "cause": "schedule",
                    "schedule": schedule.name,
                    "last_run_at": schedule.last_run_at.isoformat(),
                    "interval_seconds": schedule.interval_seconds,
                    "text": f"A rotina {schedule.name} não roda desde {_fmt(schedule.last_run_at)}"
                    f" (intervalo de {minutes} min).",
                    "recommendation": CHECK_WORKER,
                }
            )
    return late


def _silence(channel: Channel, now: datetime) -> dict[str, Any] | None:
    if not channel.is_sales:
        return None
    if now - max(channel.created_at, channel.go_live_at) < MIN_LIVE:
        return None  # a new channel: its rhythm is not known yet
    mine = Order.objects.filter(channel=channel, created_at__lte=now)
    last = mine.aggregate(at=Max("created_at"))["at"]
    if last is None:
        return None
    days = float(_opt(channel, "stall_history_days"))
    # The rhythm of the days up to the last order: a silence longer than the window keeps its history.
    arrivals = list(
        mine.filter(created_at__gte=last - timedelta(days=days))
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if len(arrivals) < int(_opt(channel, "stall_min_orders")):
        return None
    longest = max(later - earlier for earlier, later in pairwise(arrivals))
    threshold = max(
        timedelta(hours=float(_opt(channel, "stall_min_silence_hours"))),
        longest * float(_opt(channel, "stall_gap_factor")),
    )
    if now - last <= threshold:
        return None
    return {
        "cause": "silent",
        "last_order_at": last.isoformat(),
        "threshold_hours": round(threshold.total_seconds() / 3600, 2),
        "text": f"Nenhum pedido novo desde {_fmt(last)} (há {_hours(now - last)} h); o maior intervalo"
        f" entre pedidos nos últimos {days:g} dias foi de {_hours(longest)} h.",
        "recommendation": CHECK_PANEL,
    }


def _released(channel: Channel, cause: dict[str, Any], schedules: list[Schedule]) -> bool:
    """Positive evidence that a recorded cause is over."""
    kind = cause.get("cause")
    if kind == "auth":
        failed = parse_datetime(str(cause.get("failed_at", "")))
        success = _last_success(channel, schedules)
        return failed is not None and success is not None and success > failed
    if kind == "schedule":
        before = parse_datetime(str(cause.get("last_run_at", "")))
        schedule = next((s for s in schedules if s.name == cause.get("schedule")), None)
        if schedule is None:
            return True  # the schedule is gone: nothing is late any more
        return before is not None and schedule.last_run_at is not None and schedule.last_run_at > before
    if kind == "silent":
        before = parse_datetime(str(cause.get("last_order_at", "")))
        return before is not None and Order.objects.filter(channel=channel, created_at__gt=before).exists()
    return True


# --- the check ---------------------------------------------------------------------------------


def find_causes(channel: Channel, now: datetime | None = None) -> list[dict[str, Any]]:
    """The stall causes holding now for one channel (empty: nothing seen)."""
    now = now or timezone.now()
    schedules = list(Schedule.objects.filter(channel=channel))
    causes: list[dict[str, Any]] = []
    auth = _auth_failure(channel, schedules, now)
    if auth is not None:
        causes.append(auth)
    causes.extend(_late_schedules(channel, schedules, now))
    silent = _silence(channel, now)
    if silent is not None:
        causes.append(silent)
    return causes


def subject_ref(channel: Channel) -> str:
    """The subject (and external reference) of a channel's ``channel_stalled`` issue."""
    return f"channel:{channel.code}"


def detect(now: datetime | None = None, *, actor: Actor, channel: Channel | None = None) -> dict[str, int]:
    """Open or refresh a ``channel_stalled`` issue per stalled channel; clear an issue once every
    cause it recorded has positive evidence of being over. Returns counts."""
    now = now or timezone.now()
    channels = [channel] if channel is not None else list(Channel.objects.filter(enabled=True))
    counts = {"stalled": 0, "opened": 0, "cleared": 0}
    for ch in channels:
        if ch.kind == "manual" or not ch.enabled or not _opt(ch, "stall_check"):
            continue
        ref = subject_ref(ch)
        active = IntegrationIssue.objects.filter(
            kind=IssueKind.CHANNEL_STALLED, channel=ch, subject=ref, state__in=ACTIVE_STATES
        ).first()
        schedules = list(Schedule.objects.filter(channel=ch))
        causes = find_causes(ch, now)
        if active is not None:
            # A cause recorded before and not seen now stays until something proves it over.
            seen = {(c["cause"], c.get("schedule", "")) for c in causes}
            for cause in (active.evidence or {}).get("causes", []):
                key = (cause.get("cause"), cause.get("schedule", ""))
                if key not in seen and not _released(ch, cause, schedules):
                    causes.append(cause)
        if not causes:
            if active is not None:
                note = "O canal voltou a responder: chamada bem-sucedida, rotina executada ou pedido novo."
                counts["cleared"] += actions.clear(active, actor=actor, note=note)
            continue
        counts["stalled"] += 1
        result = actions.report(
            IssueKind.CHANNEL_STALLED,
            channel=ch,
            actor=actor,
            external_ref=ref,
            subject=ref,
            evidence={"causes": causes, "checked_at": now.isoformat()},
            detail=" ".join(f"{c['text']} {c['recommendation']}" for c in causes),
            recommended_action=IssueAction.INVESTIGATE,
        )
        counts["opened"] += result.created
    return counts


def stalled_job(schedule: Schedule, slot: datetime) -> str:
    """The ``reconcile.stalled`` job (schedule ``reconcile:stalled``)."""
    counts = detect(actor=Actor.schedule(schedule.name))
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()) if value) or "nothing to do"
