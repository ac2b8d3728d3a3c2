"""Reconciliation policies as channel options (``Channel.options``), with their defaults.

Which channel's options apply: stuck deadlines, auto-cancel and the integration grace of sales
orders come from the order's own (sales) channel; divergence grace from the channel showing the
status; the not-integrated checks and repair policy (``repair_by_helpdesk``, ``helpdesk_channel``,
``helpdesk_group``) from the system missing the order (usually the ERP).

Defaults that rest on assumptions, not on a vendor fact: card authorizations are canceled 5 days
after the order (acquirers keep an authorization 5 to 30 days); a Pix is canceled as soon as it
expires (the gateway re-check before the cancel covers a payment whose webhook is late).
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # stuck orders
    "stuck_paid_business_days": 2,
    "stuck_invoiced_hours": 48,
    "stuck_shipped_days": 15,
    # unpaid orders
    "auto_cancel_unpaid": True,
    "boleto_cancel_business_days": 3,
    "pix_cancel_after_minutes": 0,
    "card_cancel_after_days": 5,
    "cancel_without_gateway_check": False,
    "extra_holidays": [],
    # divergences
    "divergence_grace_minutes": 60,
    "divergence_window_days": 30,
    "status_refresh": True,
    "status_refresh_max_per_run": 200,
    # not-integrated orders
    "integration_grace_minutes": 30,
    "reconcile_lookback_hours": 72,
    "auto_repair": True,
    "report_unknown_in_erp": True,
    "repair_by_helpdesk": False,
    "helpdesk_channel": "",
    "helpdesk_group": "Financeiro E-Commerce Integração de Pedidos",
    # {store_number}: the store's order number (10016, "Magalu 123456"); {number}: Malote's
    "helpdesk_template": "Favor corrigir o problema de integração no pedido {store_number} (Malote {number})",
    "ticket_done_statuses": ["solved", "closed"],
}


def option(channel: Any, name: str) -> Any:
    """The channel's value for ``name``, else the default."""
    return (getattr(channel, "options", None) or {}).get(name, DEFAULTS[name])
