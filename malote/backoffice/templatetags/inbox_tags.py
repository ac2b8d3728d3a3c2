"""Template filters of the inbox's words, for pages that show an order link (``_link_resolve.html``)."""

from __future__ import annotations

from typing import Any

from django import template

from malote.backoffice import evidence

register = template.Library()


@register.filter
def remote_status(link: Any, word: str) -> str:
    """``word`` as the link's system shows it, with the system's name ("Bling ERP: 9 — Atendido")."""
    return evidence.remote_status_label(link.channel, word)


@register.filter
def link_problem(link: Any) -> str:
    """The link's divergence reason or last error, in words."""
    return evidence.link_error_text(link)


@register.filter
def status_name(status: str) -> str:
    """A canonical status's label ("Faturado", never ``invoiced``)."""
    return evidence.status_label(status)
