"""Reading the templates: the operator's row, or the shipped default when there is none."""

from __future__ import annotations

from malote.core import fastsql
from malote.notify.defaults import EmailText, default_for
from malote.notify.models import EmailTemplate


def template_for(status: str) -> EmailText:
    """The text to send for ``status``: the ``EmailTemplate`` row, else the default (enabled)."""
    row = EmailTemplate.objects.filter(status=status).values_list("subject", "body", "enabled").first()
    if row is None:
        return default_for(status)
    subject, body, enabled = row
    return EmailText(subject, body, enabled)


def is_enabled(status: str) -> bool:
    """Whether ``status`` is mailed; a missing row means the default, which is enabled.

    Runs on the transition hot path, hence pre-built SQL rather than a queryset.
    """
    found = fastsql.rows("SELECT enabled FROM notify_emailtemplate WHERE status = %s", [status])
    return bool(found[0][0]) if found else True
