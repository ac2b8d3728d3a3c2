"""The order page's timeline ("Histórico") in words, in the user's language.

``OrderEvent`` rows store codes: the event type, the transition, channel codes in ``data`` and the
actor as a code (``tiny`` for a channel, ``reconcile:divergent`` for a schedule). Nothing here
changes what is stored; ``entries`` turns each row into what a person reads:

- the label: the transition's label, or one sentence per event type naming the channel
  ("Pedido criado (canal Loja Jumpseller)"); an unknown type reads "Evento do sistema" and keeps its
  code for the template to show small;
- the actor: a user's name, a channel's name, a schedule's job in words
  ("Verificação de divergências"), "Malote" for the system itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from malote.backoffice import evidence as ev
from malote.backoffice.invoice_panel import event_words
from malote.orders.lifecycle import TRANSITIONS
from malote.orders.models import Order, OrderEvent
from malote.reconcile.models import IssueKind

# Schedules of fixed name (``malote.reconcile.jobs.GLOBAL_SCHEDULES``, ``malote.api.jobs``).
SCHEDULES: dict[str, Any] = {
    "reconcile:stuck": gettext_lazy("Verificação de pedidos parados"),
    "reconcile:unpaid": gettext_lazy("Verificação de pagamentos"),
    "reconcile:divergent": gettext_lazy("Verificação de divergências"),
    "reconcile:tickets": gettext_lazy("Acompanhamento de chamados"),
    "reconcile:stalled": gettext_lazy("Verificação de canais parados"),
    "relay:awaiting": gettext_lazy("Pagamentos à espera do pedido"),
    "api:prune_idempotency": gettext_lazy("Limpeza de chaves de idempotência"),
}

# How the names of the other schedules begin (per-channel checks and polls).
SCHEDULE_PREFIXES = ("reconcile:", "poll:", "relay:", "api:")


@dataclass(frozen=True)
class Entry:
    """One line of the timeline; ``code`` (transition or event type) is for machines and tests."""

    when: datetime
    label: str
    code: str
    from_label: str = ""
    to_label: str = ""
    detail: str = ""
    actor: str = ""
    known: bool = True


def schedule_name(name: str, names: ev.ChannelNames) -> str:
    """A schedule's job in words; per-channel schedules name their channel."""
    if name in SCHEDULES:
        return str(SCHEDULES[name])
    if name.startswith("reconcile:integration:"):
        channel = names.name(name.removeprefix("reconcile:integration:"))
        return _("Verificação da integração com %(channel)s") % {"channel": channel}
    if name.startswith("poll:"):
        return _("Consulta periódica de %(channel)s") % {"channel": names.name(name.removeprefix("poll:"))}
    return _("Rotina automática")


def actor_text(kind: str, label: str, names: ev.ChannelNames) -> str:
    """Who acted, as people know them (a user keeps the name they log in with)."""
    if kind == "channel":
        return names.name(label)
    if kind == "schedule":
        return schedule_name(label, names)
    if kind == "system":
        return _("Malote")
    return label


def stored_actor_text(label: str, names: ev.ChannelNames, channel_codes: Collection[str]) -> str:
    """Who acted, from a bare actor label (stock movements keep no actor kind): a channel's code
    reads as the channel's name, a schedule's name as its job in words, the system as "Malote";
    anything else (a user's login name) is shown as it is."""
    if not label:
        return ev.DASH
    if label in channel_codes:
        return actor_text("channel", label, names)
    if label in SCHEDULES or label.startswith(SCHEDULE_PREFIXES):
        return actor_text("schedule", label, names)
    if label == "malote" or label.startswith("malote "):
        return actor_text("system", label, names)
    return label


def _status(code: str) -> str:
    return ev.status_label(code) if code else ""


def _channels(codes: Iterable[Any], names: ev.ChannelNames) -> str:
    return ", ".join(names.name(str(code)) for code in codes) or ev.DASH


def _issue_step(data: Mapping[str, Any]) -> str:
    action = str(data.get("action", ""))
    step = ev.ACTION_LABELS.get(action) or ev.HISTORY_STEPS.get(action)
    return str(step) if step else _("Atualizado")


def _describe(event: OrderEvent, order: Order, names: ev.ChannelNames) -> tuple[str, str, bool]:
    """(label, detail, known) of an event that is not a transition."""
    data: Mapping[str, Any] = event.data if isinstance(event.data, dict) else {}
    channel = names.name(str(data.get("channel") or ""))
    kind = event.type
    if kind == "created":
        return _("Pedido criado (canal %(channel)s)") % {"channel": names.name(order.channel.code)}, "", True
    if kind == "invoice_xml_pending":
        waiting = _channels(data.get("channels") or [], names)
        return _("Aguardando o XML da NF-e para %(channels)s") % {"channels": waiting}, "", True
    if kind == "invoice_xml_attached":
        sent = data.get("sent_to") or []
        detail = _("Enviado a %(channels)s") % {"channels": _channels(sent, names)} if sent else ""
        return _("XML da NF-e anexado"), detail, True
    if kind == "invoice_event" and data.get("registered_at"):
        words, detail = event_words(
            str(data.get("type", "")),
            int(data.get("sequence") or 0),
            str(data.get("protocol", "")),
            str(data["registered_at"]),
            str(data.get("text", "")),
        )
        sent = data.get("sent_to") or []
        if sent:
            detail += " · " + _("Enviado a %(channels)s") % {"channels": _channels(sent, names)}
        return _("NF-e: %(event)s") % {"event": words}, detail, True
    if kind == "shipment_part":
        label = _("Parte %(part)s enviada (rastreio %(tracking)s)")
        return label % {"part": data.get("part", ""), "tracking": data.get("tracking_code", "")}, "", True
    if kind == "shipment_delivered":
        label = _("Parte %(part)s entregue (rastreio %(tracking)s)")
        return label % {"part": data.get("part", ""), "tracking": data.get("tracking_code", "")}, "", True
    if kind == "invoice_added":
        label = _("NF-e nº %(number)s (série %(series)s) adicionada")
        return label % {"number": data.get("number", ""), "series": data.get("series", "")}, "", True
    if kind == "divergence_detected":
        return _("Divergência detectada em %(channel)s") % {"channel": channel}, "", True
    if kind == "divergence_resolved":
        action = ev.ACTION_LABELS.get(str(data.get("action", "")))
        label = _("Divergência em %(channel)s resolvida") % {"channel": channel}
        return (f"{label}: {action}" if action else label), str(data.get("reason") or ""), True
    if kind == "integration_issue":
        issue_kind = str(data.get("kind", ""))
        title = IssueKind(issue_kind).label if issue_kind in IssueKind.values else _("Problema de integração")
        label = _("%(issue)s em %(channel)s: %(step)s") % {
            "issue": title,
            "channel": channel,
            "step": _issue_step(data),
        }
        return label, "", True
    if kind == "integration_link":
        external_id = str(data.get("external_id") or "")
        if external_id:
            text = _("Pedido localizado em %(channel)s com o id %(id)s")
            return text % {"channel": channel, "id": external_id}, "", True
        return _("%(channel)s não tem o pedido: nada a cancelar lá") % {"channel": channel}, "", True
    return _("Evento do sistema"), "", False


def entries(order: Order, events: Iterable[OrderEvent], names: ev.ChannelNames | None = None) -> list[Entry]:
    """The order's events as timeline lines, in the order given."""
    names = names or ev.ChannelNames([order.channel])
    lines = []
    for event in events:
        known = True
        detail = ""
        if event.transition:
            transition = TRANSITIONS.get(event.transition)
            label = str(transition.label) if transition is not None else _("Mudança de status")
            known = transition is not None
        else:
            label, detail, known = _describe(event, order, names)
        lines.append(
            Entry(
                when=event.created_at,
                label=label,
                code=event.transition or event.type,
                from_label=_status(event.from_status),
                to_label=_status(event.to_status),
                detail=detail,
                actor=actor_text(event.actor_kind, event.actor_label, names),
                known=known,
            )
        )
    return lines
