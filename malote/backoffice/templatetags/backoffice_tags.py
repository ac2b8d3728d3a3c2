"""Template helpers of the back-office pages: Brazilian forms of phone numbers, codes in words
(statuses, outbox message kinds, remote statuses, schedule-run summaries) and what the order waits
for or has wrong."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from malote.backoffice import carriers, timeline
from malote.backoffice import evidence as ev
from malote.channels.models import Channel
from malote.orders.models import Order
from malote.orders.selectors import awaiting_invoice_xml, channels_needing_invoice_xml
from malote.reconcile import selectors as issue_selectors

register = template.Library()
CHANNELS_KEY = "backoffice_channels"

# What ``malote.relay.polling.poll_channel`` returns (stored as the schedule's ``last_result``).
POLL_SUMMARY = re.compile(r"(?P<changes>\d+) change\(s\) in (?P<pages>\d+) page\(s\); cursor .*", re.S)
POLL_OUTCOMES: dict[str, Any] = {
    "channel missing or disabled": gettext_lazy("Canal ausente ou desativado: nada consultado."),
    "this connector does not poll": gettext_lazy("O conector deste canal não faz consultas."),
}


@register.filter
def br_phone(value: Any) -> str:
    """A Brazilian phone number as people write it: ``(11) 99999-0001`` (mobile), ``(11) 3333-4444``
    (landline); the country code 55 is dropped. Anything else is shown as it was given."""
    text = str(value or "")
    digits = re.sub(r"\D", "", text)
    if text.strip().startswith("+") and not digits.startswith("55"):
        return text  # another country's number
    if len(digits) in (12, 13) and digits.startswith("55"):
        digits = digits[2:]
    if len(digits) == 11 and digits[2] == "9":
        return f"({digits[:2]}) {digits[2:7]}-{digits[7:]}"
    if len(digits) == 10:
        return f"({digits[:2]}) {digits[2:6]}-{digits[6:]}"
    return text


@register.filter
def bounded_count(count: Any) -> str:
    """A count of ``status_counts`` in the language's digits: ``1.234`` in pt-BR, ``10.000+`` when
    it stopped at the limit (``{"count": …, "more": …}``)."""
    shown = intdigits(count["count"])
    return f"{shown}+" if count["more"] else shown


@register.filter
def intdigits(value: Any) -> str:
    """An integer grouped as the language writes it (``10.000`` in pt-BR, ``10,000`` in English)."""
    return number_format(int(value), force_grouping=True)


@register.filter
def status_label(code: Any) -> str:
    """A canonical order status's label (``invoiced`` → "Faturado"); "—" when none."""
    return ev.status_label(code)


@register.filter
def message_kind(kind: Any) -> str:
    """What an outbox message carries, in words (``order.invoice`` → "Envio da NF-e")."""
    label = ev.MESSAGE_KINDS.get(str(kind))
    return str(label) if label is not None else _("Mensagem")


@register.filter
def carrier_name(value: Any) -> str:
    """A shipment's carrier as people know it (``correios`` → "Correios"); a carrier not in the
    list (typed by hand) is shown as it was typed."""
    text = str(value or "")
    carrier = carriers.known_carrier(text) if text else None
    return carrier.name if carrier is not None else text or ev.DASH


def _channels(context: template.Context) -> tuple[ev.ChannelNames, frozenset[str]]:
    """Every channel's name and the set of codes, read once per template render (one query,
    however many rows use them)."""
    cached = context.render_context.get(CHANNELS_KEY)
    if cached is None:
        channels = list(Channel.objects.only("code", "name", "kind"))
        cached = (ev.ChannelNames(channels), frozenset(c.code for c in channels))
        context.render_context[CHANNELS_KEY] = cached
    return cached


@register.simple_tag(takes_context=True)
def channel_name(context: template.Context, code: Any) -> str:
    """A connected system's name for its code (a payment's gateway ``pagarme`` → "Pagar.me");
    a code no channel has is shown as it is."""
    text = str(code or "")
    names, codes = _channels(context)
    return names.name(text) if text in codes else text or ev.DASH


@register.simple_tag(takes_context=True)
def actor_name(context: template.Context, label: Any) -> str:
    """Who made a stock movement, as people know them (``timeline.stored_actor_text``)."""
    names, codes = _channels(context)
    return timeline.stored_actor_text(str(label or ""), names, codes)


@register.simple_tag
def remote_status(link: Any) -> str:
    """The status an order link last saw in its system, with the system's name for it."""
    return ev.remote_status_label(link.channel, link.remote_status)


@register.filter
def run_summary(text: Any) -> str:
    """A schedule run's summary in words ("22 mudanças recebidas em 1 página"), without internals
    such as the cursor; a summary of another form is returned unchanged."""
    summary = str(text or "").strip()
    match = POLL_SUMMARY.fullmatch(summary)
    if match:
        changes, pages = int(match["changes"]), int(match["pages"])
        received = ngettext("%(count)s mudança recebida", "%(count)s mudanças recebidas", changes) % {
            "count": changes
        }
        read = ngettext("em %(count)s página", "em %(count)s páginas", pages) % {"count": pages}
        return f"{received} {read}"
    outcome = POLL_OUTCOMES.get(summary)
    return str(outcome) if outcome is not None else summary


@register.simple_tag
def order_attention(order: Order) -> dict[str, Any]:
    """What the order waits for (the NF-e XML, and for which channels) and its active integration issues."""
    waiting = awaiting_invoice_xml(order)
    return {
        "awaiting_xml": waiting,
        "xml_channels": channels_needing_invoice_xml(order) if waiting else [],
        "issues": list(issue_selectors.filtered(order_id=order.pk)),
    }
