"""Operator-editable e-mail templates and the log of e-mails sent.

``SentEmail`` is unique per (order, status) for an order's e-mails and per (return, step) for a
return's: the sender checks it before sending and writes it right after, so a redelivered outbox
message sends nothing more, and an order's second return is mailed like its first.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from malote.notify.statuses import TEMPLATE_CHOICES, label_for


class EmailTemplate(models.Model):
    """The subject and body (Django template text, sent as plain text) of one status's e-mail (an
    order status, or a return step: ``return_requested``…)."""

    status = models.CharField(max_length=20, choices=TEMPLATE_CHOICES, unique=True)
    subject = models.CharField(max_length=255)
    body = models.TextField(help_text=_("Template do Django, enviado como texto simples."))
    enabled = models.BooleanField(
        default=True, help_text=_("Desativado: nenhum e-mail é enviado neste status.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("modelo de e-mail")

    def __str__(self) -> str:
        return label_for(self.status)


class SentEmail(models.Model):
    """One e-mail accepted by the SMTP server; written after the send, in its own transaction."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="sent_emails")
    # The return a return step's e-mail is about; empty for an order status's e-mail.
    ret = models.ForeignKey(
        "returns.Return", on_delete=models.CASCADE, null=True, blank=True, related_name="sent_emails"
    )
    status = models.CharField(max_length=20, choices=TEMPLATE_CHOICES)
    message_id = models.CharField(max_length=255, unique=True)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)
    sent_at = models.DateTimeField(default=timezone.now)
    # A plain id, not a foreign key: the sent log outlives outbox clean-ups.
    outbox_message_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("e-mail enviado")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "status"], condition=Q(ret__isnull=True), name="sent_email_once_per_status"
            ),
            models.UniqueConstraint(
                fields=["ret", "status"],
                condition=Q(ret__isnull=False),
                name="sent_email_once_per_return_step",
            ),
        ]

    def __str__(self) -> str:
        return self.message_id
