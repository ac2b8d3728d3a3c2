"""The dashboard: orders per status, per channel and per day (last 30 days), sync lag and failure
rate per channel, and what needs attention. Each chart is inline SVG followed by a table with the
same numbers; everything comes from a handful of aggregate queries."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from malote.backoffice import charts, manage_selectors
from malote.backoffice.access import backoffice_view
from malote.reconcile import selectors as issue_selectors
from malote.reconcile import stuck
from malote.reconcile.models import IssueKind

DAYS = 30


def dashboard_data() -> dict[str, Any]:
    per_status = manage_selectors.orders_per_status()
    per_channel = manage_selectors.orders_per_channel()
    per_day = manage_selectors.orders_per_day(DAYS)
    health = manage_selectors.channel_health(manage_selectors.all_channels())
    attention = manage_selectors.attention_counts(per_status)
    day_labels = [row["day"].strftime("%d/%m") for row in per_day]
    issue_counts = issue_selectors.counts_by_kind()
    stuck_counts = stuck.counts()
    return {
        "issues": [
            {"kind": kind.value, "label": str(kind.label), "count": issue_counts.get(kind.value, 0)}
            for kind in IssueKind
        ],
        "stuck": [
            {"code": stage.code, "label": _(stage.label), "count": stuck_counts.get(stage.code, 0)}
            for stage in stuck.STAGES
        ],
        "stuck_total": stuck_counts.get("total", 0),
        "per_status": per_status,
        "per_channel": per_channel,
        "per_day": per_day,
        "health": health,
        "attention": attention,
        "attention_total": sum(attention.values()),
        "status_chart": charts.bar(
            _("Pedidos por status"),
            [r["label"] for r in per_status],
            [r["count"] for r in per_status],
            horizontal=True,
        ),
        "channel_chart": charts.bar(
            _("Pedidos por canal"),
            [r["label"] for r in per_channel],
            [r["count"] for r in per_channel],
            horizontal=True,
        ),
        "day_chart": charts.timeline(
            _("Pedidos por dia (últimos %(days)s dias)") % {"days": DAYS},
            day_labels,
            [r["count"] for r in per_day],
        ),
        "lag_chart": charts.bar(
            _("Atraso de sincronização (segundos)"),
            [h.channel.name for h in health],
            [h.lag_seconds for h in health],
            horizontal=True,
        ),
        "failure_chart": charts.bar(
            _("Taxa de falhas nas últimas 24 h (%)"),
            [h.channel.name for h in health],
            [h.failure_percent for h in health],
            horizontal=True,
        ),
    }


@require_GET
@backoffice_view("orders.view_order")
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "backoffice/dashboard/index.html", dashboard_data())
