"""Integration issues: what fell between two systems, found by the reconciliation schedules.

An ``IntegrationIssue`` names what is wrong (``kind``), the order (when Malote has one; ``None`` for
an order only another system knows, then ``external_ref`` is its id there), the system where the
problem shows (``channel``) and the other side (``other_channel``), what each side showed
(``evidence``), when it was first and last seen, what Malote recommends and where it stands.
At most one *open or resolving* issue exists per (kind, subject, channel) — a database constraint
— so every schedule run refreshes the same row instead of piling up copies. Every step is an
``IssueEvent`` (append-only) and an ``OrderEvent`` on the order's timeline.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IssueKind(models.TextChoices):
    NOT_INTEGRATED = "not_integrated", _("Pedido não integrado")
    DIVERGENT = "divergent", _("Status divergente")
    STUCK = "stuck", _("Pedido parado")
    UNPAID = "unpaid", _("Pagamento a verificar")
    DUPLICATE = "duplicate", _("Pedido duplicado")
    CHANNEL_STALLED = "channel_stalled", _("Canal parado")
    # Reported by a marketplace about one of its sales (malote.reconcile.channel_reports).
    CLAIM = "claim", _("Reclamação do comprador")
    PARTIAL_CANCEL = "partial_cancel", _("Cancelamento parcial no canal")


class IssueState(models.TextChoices):
    OPEN = "open", _("Aberto")
    RESOLVING = "resolving", _("Em correção")
    RESOLVED = "resolved", _("Resolvido")
    DISMISSED = "dismissed", _("Descartado")


# States in which an issue still needs attention (one per subject, see the constraint).
ACTIVE_STATES = (IssueState.OPEN, IssueState.RESOLVING)


class IssueAction(models.TextChoices):
    REINTEGRATE = "reintegrate", _("Reenviar o pedido")
    IMPORT = "import", _("Importar o pedido")
    CANCEL = "cancel", _("Cancelar o pedido")
    OPEN_TICKET = "open_ticket", _("Abrir chamado no help desk")
    PUSH_AGAIN = "push_again", _("Reenviar o status")
    ACCEPT = "accept", _("Aceitar o status do outro sistema")
    INVESTIGATE = "investigate", _("Verificar manualmente")
    DISMISS = "dismiss", _("Descartar")


class IntegrationIssue(models.Model):
    kind = models.CharField(max_length=20, choices=IssueKind.choices)
    state = models.CharField(max_length=10, choices=IssueState.choices, default=IssueState.OPEN)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="integration_issues"
    )
    # "order:<id>" or "ref:<external id>": what the uniqueness is about, with or without an order.
    subject = models.CharField(max_length=140)
    external_ref = models.CharField(max_length=100, blank=True)
    channel = models.ForeignKey("channels.Channel", on_delete=models.PROTECT, related_name="issues")
    other_channel = models.ForeignKey(
        "channels.Channel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    detail = models.CharField(max_length=500, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    recommended_action = models.CharField(max_length=20, choices=IssueAction.choices, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    ticket_id = models.CharField(max_length=60, blank=True)
    ticket_status = models.CharField(max_length=30, blank=True)
    ticket_url = models.URLField(max_length=500, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "channel"],
                condition=Q(state__in=["open", "resolving"]),
                name="issue_one_active_per_subject",
            )
        ]
        indexes = [
            models.Index(fields=["state", "kind", "channel"], name="issue_state_kind"),
            models.Index(fields=["order", "state"], name="issue_order_state"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject} @ {self.channel_id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


class IssueEvent(models.Model):
    """Append-only history of an issue: opened, seen again, actions, resolution, dismissal."""

    issue = models.ForeignKey(IntegrationIssue, on_delete=models.CASCADE, related_name="history")
    action = models.CharField(max_length=30)
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10, blank=True)
    actor_kind = models.CharField(max_length=10)
    actor_label = models.CharField(max_length=200)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["issue", "id"]

    def __str__(self) -> str:
        return f"{self.action} ({self.from_state}→{self.to_state})"
