"""How the inbox and the issue page show what needs a person, in the user's language.

Issues store their ``detail`` already rendered in Portuguese and their ``evidence`` as the detectors'
raw JSON (codes, ISO times in UTC, canonical statuses). Nothing here changes what is stored: every
helper turns it into words at display time —

- ``evidence_table``: per field, what Malote shows | what the other system shows, local times
  (``dd/mm/aaaa hh:mm``), pt-BR money, status labels;
- ``remote_status_label``: a system's status with the system's own name ("Bling ERP: 9 — Atendido"):
  the connector's known situação names first, else the canonical meaning through the channel's
  status map;
- ``issue_text``: the issue's text from its kind and evidence through gettext (the stored
  Portuguese ``detail`` is the fallback);
- ``ACTION_LABELS`` / ``outcome_text`` / ``history_text``: one label per action everywhere, and
  the history and results of actions in words.

Codes stay for machines: templates show them small or in a tooltip, never as the text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from malote.channels.models import Channel, ChannelRole, LinkState
from malote.channels.status_maps import StatusMap
from malote.connectors.registry import provider
from malote.connectors.tiny.mapping import SITUACOES as TINY_SITUACOES
from malote.orders.statuses import OrderStatus
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.models import IntegrationIssue, IssueAction, IssueEvent, IssueKind, IssueState
from malote.reconcile.stuck import STAGES

DASH = "—"

# Bling's stock situações (ids of a new account; an account's own situações have other ids and
# then show with their canonical meaning instead).
BLING_SITUACOES: dict[str, str] = {
    "6": "Em aberto",
    "9": "Atendido",
    "12": "Cancelado",
    "15": "Em andamento",
    "18": "Venda agenciada",
    "21": "Em digitação",
    "24": "Verificado",
}
# The vendor's own names of its statuses, by ``Channel.kind``.
KNOWN_STATUS_NAMES: dict[str, Mapping[str, str]] = {"bling": BLING_SITUACOES, "tiny": TINY_SITUACOES}

# One label per action, wherever it is offered (inbox, issue page, order page).
ACTION_LABELS: dict[str, Any] = {
    **dict(IssueAction.choices),
    # The order page's divergent-link resolutions say the same as the issue actions.
    "accept_remote": IssueAction.ACCEPT.label,
    "retry": gettext_lazy("Tentar o envio de novo"),
    "resume_stock": gettext_lazy("Tentar reservar o estoque de novo"),
    "attach_xml": gettext_lazy("Anexar o XML da NF-e"),
    "ship": gettext_lazy("Registrar o envio"),
    "open_order": gettext_lazy("Abrir o pedido"),
}

# What ``repair.act`` answers when the action happened.
OUTCOMES: dict[str, Any] = {
    "dismissed": gettext_lazy("Problema descartado."),
    "accepted": gettext_lazy("Status do outro sistema aceito."),
    "pushed": gettext_lazy("Status reenviado."),
    "canceled": gettext_lazy("Pedido cancelado em todos os sistemas."),
    "imported": gettext_lazy("Pedido importado."),
    "ticket_requested": gettext_lazy("Chamado solicitado ao help desk."),
    "reintegrated": gettext_lazy("Pedido reenviado ao ERP."),
    "already_canceled": gettext_lazy("O pedido já estava cancelado: nada a integrar."),
}

# The steps of an issue's history (``IssueEvent.action``) that are not operator actions.
HISTORY_STEPS: dict[str, Any] = {
    "opened": gettext_lazy("Problema encontrado"),
    "resolved": gettext_lazy("Resolvido"),
    "cleared": gettext_lazy("Resolvido sozinho"),
    "dismissed": gettext_lazy("Descartado"),
    "ticket_done": gettext_lazy("Chamado encerrado no help desk"),
    ReconcileErrorCode.REPAIR_FAILED: gettext_lazy("Correção falhou"),
    ReconcileErrorCode.RECHECK_FAILED: gettext_lazy("Nova verificação falhou"),
    ReconcileErrorCode.IMPORT_FAILED: gettext_lazy("Importação falhou"),
    ReconcileErrorCode.REFRESH_FAILED: gettext_lazy("Atualização falhou"),
    ReconcileErrorCode.ERP_DOES_NOT_WANT: gettext_lazy("Não reenviado: o ERP não recebe este status"),
    ReconcileErrorCode.PAYMENT_NOT_CONFIRMED: gettext_lazy("Não reenviado: pagamento não confirmado"),
}
FAILED_STEPS = frozenset(
    {
        ReconcileErrorCode.REPAIR_FAILED,
        ReconcileErrorCode.RECHECK_FAILED,
        ReconcileErrorCode.IMPORT_FAILED,
        ReconcileErrorCode.REFRESH_FAILED,
        ReconcileErrorCode.ERP_DOES_NOT_WANT,
        ReconcileErrorCode.PAYMENT_NOT_CONFIRMED,
    }
)

# What an outbox message carries (``OutboxMessage.kind``), in words.
MESSAGE_KINDS: dict[str, Any] = {
    "order.order": gettext_lazy("Envio do pedido"),
    "order.status": gettext_lazy("Envio do status"),
    "order.invoice": gettext_lazy("Envio da NF-e"),
    "order.shipment": gettext_lazy("Envio do rastreio"),
    "order.cancellation": gettext_lazy("Envio do cancelamento"),
    "order.delivery": gettext_lazy("Envio da entrega"),
    "stock.available": gettext_lazy("Envio do estoque"),
    "email.status": gettext_lazy("E-mail ao cliente"),
    "helpdesk.ticket": gettext_lazy("Chamado no help desk"),
}

STALL_CAUSES: dict[str, Any] = {
    "auth": gettext_lazy("Autenticação recusada"),
    "schedule": gettext_lazy("Rotina atrasada"),
    "silent": gettext_lazy("Canal sem pedidos novos"),
}


def fold(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.casefold().replace("_", " ").split())


def local_time(value: Any) -> str:
    """An ISO 8601 text or a datetime → ``dd/mm/aaaa hh:mm`` in the site's zone; ``—`` when none."""
    if not value:
        return DASH
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(moment, datetime):
        return str(value)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def money(value: Any) -> str:
    """``R$ 1.234,56`` in pt-BR (``R$ 1,234.56`` in English); the text unchanged when not a number."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return "R$ " + number_format(amount, 2, use_l10n=True, force_grouping=True)


def status_label(status: Any) -> str:
    """A canonical order status's label; the text itself when it is not one."""
    if not status:
        return DASH
    return str(OrderStatus(status).label) if status in OrderStatus.values else str(status)


class ChannelNames:
    """Channel names and status maps by code, read once per page."""

    def __init__(self, channels: Iterable[Channel] = ()) -> None:
        self._by_code: dict[str, Channel | None] = {c.code: c for c in channels}
        self._maps: dict[str, StatusMap] = {}

    def get(self, code: str) -> Channel | None:
        if code not in self._by_code:
            self._by_code[code] = Channel.objects.filter(code=code).first()
        return self._by_code[code]

    def name(self, code: str) -> str:
        """The channel's name for ``code`` (also ``channel:<code>`` destinations); the code if unknown."""
        code = code.removeprefix("channel:")
        channel = self.get(code) if code else None
        return channel.name if channel is not None else code or DASH

    def status_map(self, channel: Channel) -> StatusMap:
        if channel.code not in self._maps:
            cls = provider(channel.kind)
            self._maps[channel.code] = (
                cls.status_map_of(channel)
                if cls is not None
                else StatusMap.of(channel.status_map, default_out={}, default_in={})
            )
        return self._maps[channel.code]


def status_word(channel: Channel | None, word: Any, names: ChannelNames | None = None) -> str:
    """A system's status word with its name there: ``9 — Atendido`` (see ``remote_status_label``)."""
    text = str(word or "")
    if not text:
        return DASH
    if channel is None:
        return text
    names = names or ChannelNames([channel])
    name = str(KNOWN_STATUS_NAMES.get(channel.kind, {}).get(text, ""))
    if not name:
        meaning = names.status_map(channel).meaning_of(text)
        name = status_label(meaning) if meaning else ""
    return f"{text} — {name}" if name and fold(name) != fold(text) else text


def remote_status_label(channel: Channel | None, word: Any, names: ChannelNames | None = None) -> str:
    """A status as a system shows it, with the system's name: ``Bling ERP: 9 — Atendido``.

    The vendor's own name for the word when known (Bling's and Tiny's situações), else the
    canonical meaning of the word through the channel's status map, else the word alone."""
    if not word or channel is None:
        return str(word or DASH)
    return f"{channel.name}: {status_word(channel, word, names)}"


def divergence_reason(reason: str, system: str) -> str:
    """The intake's divergence reason (``canceled_after:shipped``, ``went_back:a->b``,
    ``unreachable:a->b``) in words."""
    code, _sep, rest = reason.partition(":")
    if code == "canceled_after" and rest:
        return _("Cancelado no %(system)s depois de %(status)s") % {
            "system": system,
            "status": status_label(rest).lower(),
        }
    if code in ("went_back", "unreachable") and "->" in rest:
        before, after = rest.split("->", 1)
        if code == "went_back":
            return _("O %(system)s voltou de %(before)s para %(after)s") % {
                "system": system,
                "before": status_label(before).lower(),
                "after": status_label(after).lower(),
            }
        return _("O %(system)s mostra %(after)s, que não segue de %(before)s no Malote") % {
            "system": system,
            "before": status_label(before).lower(),
            "after": status_label(after).lower(),
        }
    return reason


def link_error_text(link: Any, names: ChannelNames | None = None) -> str:
    """An order link's ``last_error`` in words: the divergence reason, or the system's own message."""
    error = str(getattr(link, "last_error", "") or "")
    if link.state == LinkState.DIVERGENT:
        reason = str((getattr(link, "divergence", None) or {}).get("reason", ""))
        if not reason and error.startswith("Divergent: "):
            reason = error.removeprefix("Divergent: ")
        if reason:
            return divergence_reason(reason, link.channel.name)
    return error


# --- the side-by-side evidence table ------------------------------------------------------------


@dataclass
class EvidenceRow:
    label: str
    malote: str = DASH
    other: str = DASH
    code: str = ""  # the stored field's name, for a tooltip


@dataclass
class EvidenceTable:
    other_name: str
    rows: list[EvidenceRow] = field(default_factory=list)

    def add(self, label: Any, malote: Any = DASH, other: Any = DASH, code: str = "") -> None:
        self.rows.append(EvidenceRow(str(label), str(malote or DASH), str(other or DASH), code))


def _yes_no(value: Any) -> str:
    return _("Sim") if value else _("Não")


ORDER_FIELDS: tuple[tuple[str, Any], ...] = (
    ("found", gettext_lazy("Tem o pedido")),
    ("number", gettext_lazy("Pedido no Malote")),
    ("external_id", gettext_lazy("Número do pedido")),
    ("reference", gettext_lazy("Referência da venda")),
    ("channel", gettext_lazy("Canal de venda")),
    ("status", gettext_lazy("Status")),
    ("placed_at", gettext_lazy("Feito em")),
    ("updated_at", gettext_lazy("Alterado em")),
    ("total", gettext_lazy("Total")),
    ("listed_since", gettext_lazy("Procurado na listagem desde")),
    ("remote_ids", gettext_lazy("Números do pedido lá")),
    ("linked_id", gettext_lazy("Número vinculado")),
    ("transaction_id", gettext_lazy("Transação")),
)
LINK_FIELDS: tuple[tuple[str, Any], ...] = (
    ("state", gettext_lazy("Integração")),
    ("external_id", gettext_lazy("Número no sistema")),
    ("last_error", gettext_lazy("Último erro")),
    ("created_at", gettext_lazy("Vinculado em")),
    ("last_synced_at", gettext_lazy("Última sincronização")),
)
TIME_FIELDS = frozenset({"placed_at", "updated_at", "listed_since", "created_at", "last_synced_at"})
SKIPPED = frozenset({"searched", "link", "others", "remote_status"})


def _value(key: str, value: Any, names: ChannelNames) -> str:
    if value is None or value == "":
        return DASH
    if key == "found":
        return _yes_no(value)
    if key in TIME_FIELDS:
        return local_time(value)
    if key == "total":
        return money(value)
    if key == "status":
        return status_label(value)
    if key == "channel":
        return names.name(str(value))
    if key == "state":
        return str(LinkState(value).label) if value in LinkState.values else str(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _two_sided(issue: IntegrationIssue, evidence: Mapping[str, Any], names: ChannelNames) -> EvidenceTable:
    other_key = next((key for key in evidence if key != "malote"), issue.channel.code)
    other_channel = names.get(other_key) or issue.channel
    table = EvidenceTable(other_channel.name)
    mine = evidence.get("malote") or {}
    theirs = evidence.get(other_key) or {}
    for key, label in ORDER_FIELDS:
        if key not in mine and key not in theirs:
            continue
        malote_value = _value(key, mine.get(key), names) if key in mine else DASH
        other_value = _value(key, theirs.get(key), names) if key in theirs else DASH
        if key == "status" and theirs.get("remote_status"):
            other_value = remote_status_label(other_channel, theirs["remote_status"], names)
        table.add(label, malote_value, other_value, code=key)
    if "status" not in theirs and theirs.get("remote_status"):
        table.add(
            _("Status"), DASH, remote_status_label(other_channel, theirs["remote_status"], names), "status"
        )
    link = mine.get("link") or {}
    for key, label in LINK_FIELDS:
        if link.get(key):
            table.add(label, _value(key, link[key], names), DASH, code=f"link.{key}")
    for key in sorted(set(mine) | set(theirs)):
        if key in SKIPPED or any(key == known for known, _label in ORDER_FIELDS):
            continue
        table.add(key, _value(key, mine.get(key), names), _value(key, theirs.get(key), names), code=key)
    return table


def _divergent(issue: IntegrationIssue, evidence: Mapping[str, Any], names: ChannelNames) -> EvidenceTable:
    channel = issue.channel
    table = EvidenceTable(channel.name)
    table.add(
        _("Status"),
        status_label(evidence.get("order_status")),
        remote_status_label(channel, evidence.get("remote_status"), names),
        "remote_status",
    )
    table.add(
        _("Status esperado lá"),
        status_label(evidence.get("expected_status")),
        remote_status_label(channel, evidence.get("expected_remote"), names),
        "expected_remote",
    )
    if evidence.get("remote_meaning"):
        table.add(
            _("O status de lá significa"), DASH, status_label(evidence["remote_meaning"]), "remote_meaning"
        )
    if evidence.get("reason"):
        table.add(_("Motivo"), DASH, divergence_reason(str(evidence["reason"]), channel.name), "reason")
    if evidence.get("since"):
        table.add(_("Divergente desde"), local_time(evidence["since"]), DASH, "since")
    return table


def _stuck(issue: IntegrationIssue, evidence: Mapping[str, Any], names: ChannelNames) -> EvidenceTable:
    table = EvidenceTable(issue.channel.name)
    stage = next((s for s in STAGES if s.code == evidence.get("stage")), None)
    if stage is not None:
        table.add(_("Etapa"), _(stage.label), DASH, "stage")
    table.add(_("Status"), status_label(evidence.get("status")), DASH, "status")
    table.add(_("Prazo"), local_time(evidence.get("deadline")), DASH, "deadline")
    return table


VERDICTS: dict[str, Any] = {
    "paid": gettext_lazy("Pago"),
    "unpaid": gettext_lazy("Não pago"),
    "refused": gettext_lazy("Recusado"),
    "pending": gettext_lazy("Pendente"),
    "unknown": gettext_lazy("Sem resposta clara"),
    "unchecked": gettext_lazy("Não consultado"),
}


def _payment(issue: IntegrationIssue, evidence: Mapping[str, Any], names: ChannelNames) -> EvidenceTable:
    payment = evidence.get("payment")
    if not isinstance(payment, Mapping):  # an older or hand-made issue: show what there is
        payment = {}
    gateway = names.get(str(payment.get("gateway") or "")) or issue.channel
    table = EvidenceTable(gateway.name)
    table.add(_("Status"), status_label(evidence.get("status")), remote_status_label(
        gateway, payment.get("remote_status"), names), "status")  # fmt: skip
    if payment.get("transaction_id"):
        table.add(_("Transação"), DASH, payment["transaction_id"], "transaction_id")
    if payment.get("verdict"):
        verdict = str(payment["verdict"])
        table.add(_("Pagamento"), DASH, VERDICTS.get(verdict, verdict), "verdict")
    if payment.get("detail"):
        table.add(_("Detalhe"), DASH, payment["detail"], "detail")
    return table


def _stalled(issue: IntegrationIssue, evidence: Mapping[str, Any], names: ChannelNames) -> EvidenceTable:
    table = EvidenceTable(issue.channel.name)
    for cause in evidence.get("causes") or []:
        label = STALL_CAUSES.get(str(cause.get("cause")), cause.get("cause", ""))
        table.add(label, cause.get("text", DASH), DASH, str(cause.get("cause", "")))
    if evidence.get("checked_at"):
        table.add(_("Verificado em"), local_time(evidence["checked_at"]), DASH, "checked_at")
    return table


CLAIM_STAGES: dict[str, Any] = {
    "claim": gettext_lazy("Reclamação"),
    "dispute": gettext_lazy("Mediação"),
}


def _claim(issue: IntegrationIssue, claim: Mapping[str, Any]) -> EvidenceTable:
    table = EvidenceTable(issue.channel.name)
    stage = str(claim.get("stage") or "")
    table.add(_("Reclamação"), DASH, claim.get("id"), "id")
    table.add(_("Etapa"), DASH, CLAIM_STAGES.get(stage, stage), "stage")
    table.add(
        _("Responder até"), DASH, local_time(claim["due_date"]) if claim.get("due_date") else DASH, "due_date"
    )
    table.add(_("Ação esperada"), DASH, claim.get("due_action"), "due_action")
    table.add(_("Motivo"), DASH, claim.get("reason_id"), "reason_id")
    table.add(_("Venda"), issue.order.number if issue.order else DASH, claim.get("order_ref"), "order_ref")
    table.add(_("Pedido no canal"), DASH, claim.get("ml_order_id"), "ml_order_id")
    if claim.get("date_created"):
        table.add(_("Aberta em"), DASH, local_time(claim["date_created"]), "date_created")
    return table


def _partial_cancel(issue: IntegrationIssue, pack: Mapping[str, Any]) -> EvidenceTable:
    table = EvidenceTable(issue.channel.name)
    table.add(_("Carrinho"), issue.order.number if issue.order else DASH, pack.get("pack_id"), "pack_id")
    cancelled = ", ".join(str(i) for i in pack.get("cancelled_orders") or [])
    table.add(_("Pedidos cancelados"), DASH, cancelled, "cancelled_orders")
    lines = ", ".join(f"{line.get('quantity')} × {line.get('sku')}" for line in pack.get("lines") or [])
    table.add(_("Itens cancelados"), DASH, lines, "lines")
    return table


def evidence_table(issue: IntegrationIssue, names: ChannelNames | None = None) -> EvidenceTable:
    """What each side showed, one row per field (see the module docstring)."""
    names = names or ChannelNames([issue.channel])
    evidence: Mapping[str, Any] = issue.evidence or {}
    if issue.kind == IssueKind.DIVERGENT and "remote_status" in evidence:
        return _divergent(issue, evidence, names)
    if issue.kind == IssueKind.STUCK:
        return _stuck(issue, evidence, names)
    if "payment" in evidence:
        return _payment(issue, evidence, names)
    if issue.kind == IssueKind.CHANNEL_STALLED:
        return _stalled(issue, evidence, names)
    if issue.kind == IssueKind.CLAIM and isinstance(evidence.get("claim"), Mapping):
        return _claim(issue, evidence["claim"])
    if issue.kind == IssueKind.PARTIAL_CANCEL and isinstance(evidence.get("pack"), Mapping):
        return _partial_cancel(issue, evidence["pack"])
    if "malote" in evidence:
        return _two_sided(issue, evidence, names)
    table = EvidenceTable(issue.channel.name)
    for key, value in evidence.items():
        if key not in SKIPPED:
            table.add(key, _value(key, value, names), DASH, code=key)
    return table


# --- texts ----------------------------------------------------------------------------------------


def issue_text(issue: IntegrationIssue, names: ChannelNames | None = None) -> str:
    """The issue's text in the active language, from its kind and evidence; the stored
    (Portuguese) ``detail`` when the evidence does not say enough."""
    names = names or ChannelNames([issue.channel])
    evidence: Mapping[str, Any] = issue.evidence or {}
    system = issue.channel.name
    number = issue.order.number if issue.order is not None else ""
    if issue.kind == IssueKind.DIVERGENT and "remote_status" in evidence:
        return _("%(system)s mostra %(remote)s; esperado %(expected)s") % {
            "system": system,
            "remote": status_word(issue.channel, evidence.get("remote_status"), names),
            "expected": status_word(issue.channel, evidence.get("expected_remote"), names),
        }
    if issue.kind == IssueKind.STUCK:
        stage = next((s for s in STAGES if s.code == evidence.get("stage")), None)
        if stage is not None and evidence.get("deadline"):
            return _("%(stage)s desde antes de %(deadline)s") % {
                "stage": _(stage.label),
                "deadline": local_time(evidence["deadline"]),
            }
    if issue.kind == IssueKind.NOT_INTEGRATED:
        theirs = evidence.get(issue.channel.code) or {}
        if number and theirs.get("found") is False and issue.channel.role == ChannelRole.ERP:
            return _("Pedido %(number)s não está no %(erp)s") % {"number": number, "erp": system}
        if number and theirs.get("found") is False and theirs.get("transaction_id"):
            return _("%(gateway)s não lista o pagamento %(id)s do pedido %(number)s") % {
                "gateway": system,
                "id": theirs["transaction_id"],
                "number": number,
            }
        if not number and issue.external_ref:
            ref = str(theirs.get("reference") or "")
            if issue.channel.role == ChannelRole.ERP:
                return _("O %(erp)s tem o pedido %(id)s (%(ref)s), que o Malote não conhece") % {
                    "erp": system,
                    "id": issue.external_ref,
                    "ref": ref or _("sem referência"),
                }
            if issue.channel.role == ChannelRole.GATEWAY:
                return _("Pagamento %(id)s (%(ref)s) sem pedido no Malote") % {
                    "id": issue.external_ref,
                    "ref": ref or _("sem referência"),
                }
            return _("O pedido %(id)s de %(channel)s não chegou ao Malote") % {
                "id": issue.external_ref,
                "channel": system,
            }
    if issue.kind == IssueKind.DUPLICATE and number:
        theirs = evidence.get(issue.channel.code) or {}
        ids = theirs.get("remote_ids") or []
        if ids:
            return _("O pedido %(number)s está mais de uma vez no %(erp)s: %(ids)s") % {
                "number": number,
                "erp": system,
                "ids": ", ".join(str(i) for i in ids),
            }
    if issue.kind == IssueKind.CLAIM and isinstance(evidence.get("claim"), Mapping):
        claim = evidence["claim"]
        words = {
            "stage": CLAIM_STAGES.get(str(claim.get("stage")), _("Reclamação")),
            "id": claim.get("id"),
            "system": system,
            "ref": claim.get("order_ref") or issue.external_ref,
        }
        if claim.get("due_date"):
            return _("%(stage)s %(id)s no %(system)s (venda %(ref)s): responder até %(due)s") % {
                **words,
                "due": local_time(claim["due_date"]),
            }
        return _("%(stage)s %(id)s no %(system)s (venda %(ref)s)") % words
    if issue.kind == IssueKind.PARTIAL_CANCEL and isinstance(evidence.get("pack"), Mapping) and number:
        pack = evidence["pack"]
        return _(
            "%(system)s: pedido(s) %(orders)s cancelado(s) no carrinho %(pack)s; o pedido %(number)s "
            "no Malote mantém todos os itens"
        ) % {
            "system": system,
            "orders": ", ".join(str(i) for i in pack.get("cancelled_orders") or []),
            "pack": pack.get("pack_id"),
            "number": number,
        }
    return issue.detail or str(issue.get_kind_display())


def outcome_text(outcome: str) -> str:
    """What an action that happened did, in words."""
    return str(OUTCOMES.get(outcome, _("Feito.")))


def state_label(state: str) -> str:
    return str(IssueState(state).label) if state in IssueState.values else state


def history_text(event: IssueEvent) -> dict[str, Any]:
    """One history line in words: ``Abrir chamado · Aberto → Em correção``, failed steps marked."""
    what = ACTION_LABELS.get(event.action) or HISTORY_STEPS.get(event.action) or event.action
    moved = ""
    if event.from_state and event.to_state and event.from_state != event.to_state:
        moved = f"{state_label(event.from_state)} → {state_label(event.to_state)}"
    elif event.to_state:
        moved = state_label(event.to_state)
    return {
        "what": str(what),
        "states": moved,
        "text": f"{what} · {moved}" if moved else str(what),
        "failed": event.action in FAILED_STEPS,
        "code": event.action,
    }
