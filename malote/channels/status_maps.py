"""Ready-made status maps (both ways) for systems driven by the generic ``webhook`` connector or
configured by hand, as data. Apply one to a channel with ``apply_preset``; edit freely after.
Also the per-kind defaults of the channel policies kept in ``Channel.options`` (``POLICY_PRESETS``).

Sources: the seeds (JET, SkyHub, Eccosys, Jumpseller help articles), ``channel-apis.md`` §1.3
(Jumpseller), §2.3 (SkyHub codes and types), §3.5 (VTEX), §7.2 (Tiny). The Hybris/Abacos
consignment statuses are SAP Commerce's standard ``ConsignmentStatus`` values as generally known
(not confirmed by a source here) plus the seed's ``NOT_INTEGRATED``, which marks an order that never
reached the ERP: it maps to no canonical status (the reconciliation issue acts on it).
"""

from __future__ import annotations

import copy
from typing import Any

from malote.orders.statuses import OrderStatus

S = OrderStatus

PRESETS: dict[str, dict[str, dict[str, str]]] = {
    # JET: each status is used once per order; DESPACHADO carries the NF-e and the tracking code.
    "jet": {
        "in": {
            "NOVO": S.PENDING_PAYMENT,
            "EM APROVAÇÃO": S.PAYMENT_REVIEW,
            "APROVADO": S.PAID,
            "EM PRODUÇÃO": S.PREPARING,
            "DESPACHADO": S.SHIPPED,
            "TRACKING": S.IN_TRANSIT,
            "CONCLUÍDO": S.DELIVERED,
            "CANCELADO": S.CANCELED,
        },
        "out": {
            S.PENDING_PAYMENT: "NOVO",
            S.PAYMENT_REVIEW: "EM APROVAÇÃO",
            S.PAID: "APROVADO",
            S.PREPARING: "EM PRODUÇÃO",
            S.SHIPPED: "DESPACHADO",
            S.IN_TRANSIT: "TRACKING",
            S.DELIVERED: "CONCLUÍDO",
            S.CANCELED: "CANCELADO",
        },
    },
    # SkyHub status codes (the order's status.code); types NEW/APPROVED/INVOICED/SHIPPED/DELIVERED/
    # SHIPMENT_EXCEPTION/CANCELED/OVERDUE.
    "skyhub": {
        "in": {
            "book_product": S.PENDING_PAYMENT,
            "waiting_payment": S.PENDING_PAYMENT,
            "payment_overdue": S.PAYMENT_OVERDUE,
            "payment_received": S.PAID,
            "order_invoiced": S.INVOICED,
            "order_shipped": S.SHIPPED,
            "complete": S.DELIVERED,
            "shipment_exception": S.DELIVERY_FAILED,
            "order_canceled": S.CANCELED,
        },
        "out": {
            S.PAID: "payment_received",
            S.INVOICED: "order_invoiced",
            S.SHIPPED: "order_shipped",
            S.DELIVERED: "complete",
            S.DELIVERY_FAILED: "shipment_exception",
            S.CANCELED: "order_canceled",
        },
    },
    "vtex": {
        "in": {
            "order-created": S.PENDING_PAYMENT,
            "payment-pending": S.PENDING_PAYMENT,
            "payment-approved": S.PAID,
            "ready-for-handling": S.PAID,
            "handling": S.PREPARING,
            "invoiced": S.INVOICED,
            "canceled": S.CANCELED,
        },
        "out": {S.PREPARING: "start-handling", S.INVOICED: "invoiced", S.CANCELED: "cancel"},
    },
    "jumpseller": {
        "in": {"pending_payment": S.PENDING_PAYMENT, "paid": S.PAID, "canceled": S.CANCELED},
        "out": {S.PAID: "Paid", S.CANCELED: "Canceled"},
    },
    "tiny": {
        "in": {
            "preparando_envio": S.PREPARING,
            "faturado": S.INVOICED,
            "pronto_envio": S.READY_TO_SHIP,
            "enviado": S.SHIPPED,
            "entregue": S.DELIVERED,
            "nao_entregue": S.DELIVERY_FAILED,
            "cancelado": S.CANCELED,
        },
        "out": {
            S.PAID: "aprovado",
            S.PREPARING: "preparando_envio",
            S.INVOICED: "faturado",
            S.READY_TO_SHIP: "pronto_envio",
            S.SHIPPED: "enviado",
            S.DELIVERED: "entregue",
            S.DELIVERY_FAILED: "nao_entregue",
            S.CANCELED: "cancelado",
        },
    },
    # Eccosys situações named in its help article; the API's own codes are not public (channel-apis §7.3).
    "eccosys": {
        "in": {
            "Aguardando pagamento": S.PENDING_PAYMENT,
            "Pagamento em análise": S.PAYMENT_REVIEW,
            "Pagamento confirmado": S.PAID,
            "Em separação": S.PREPARING,
            "Em produção": S.PREPARING,
            "Atendido": S.INVOICED,
            "Ordem de coleta gerada": S.READY_TO_SHIP,
            "Enviado": S.SHIPPED,
            "Entrega confirmada": S.DELIVERED,
            "Cancelado": S.CANCELED,
        },
        "out": {
            S.PENDING_PAYMENT: "Aguardando pagamento",
            S.PAID: "Pagamento confirmado",
            S.PREPARING: "Em separação",
            S.INVOICED: "Atendido",
            S.READY_TO_SHIP: "Ordem de coleta gerada",
            S.SHIPPED: "Enviado",
            S.DELIVERED: "Entrega confirmada",
            S.CANCELED: "Cancelado",
        },
    },
    # Hybris/Abacos consignments (assumed standard values) and the seed's NOT_INTEGRATED.
    "hybris": {
        "in": {
            "NOT_INTEGRATED": "",
            "WAITING": S.PAID,
            "READY": S.PREPARING,
            "PICKPACK": S.PREPARING,
            "READY_FOR_PICKUP": S.READY_TO_SHIP,
            "SHIPPED": S.SHIPPED,
            "DELIVERY_COMPLETED": S.DELIVERED,
            "PICKUP_COMPLETE": S.DELIVERED,
            "CANCELLED": S.CANCELED,
        },
        "out": {
            S.PAID: "WAITING",
            S.PREPARING: "READY",
            S.READY_TO_SHIP: "READY_FOR_PICKUP",
            S.SHIPPED: "SHIPPED",
            S.DELIVERED: "DELIVERY_COMPLETED",
            S.CANCELED: "CANCELLED",
        },
    },
}


def preset(name: str) -> dict[str, dict[str, str]]:
    """A copy of a preset, as stored in ``Channel.status_map``."""
    if name not in PRESETS:
        raise KeyError(f"No status map preset {name!r}; known: {', '.join(sorted(PRESETS))}.")
    return {
        direction: {str(k): str(v) for k, v in mapping.items()}
        for direction, mapping in PRESETS[name].items()
    }


def apply_preset(channel: Any, name: str) -> None:
    channel.status_map = preset(name)
    channel.save(update_fields=["status_map"])


# --- policy presets ----------------------------------------------------------------------------

# Per-order channel policies (DESIGN.md §3) kept in ``Channel.options``. A channel that does not
# set one of these options gets the value of its kind here, else the generic default below: so a
# SkyHub channel follows the SkyHub article (seed 002) without anyone typing it, an operator may
# still override any entry (an empty list switches a rule off), and the back office shows both
# (``policy_options``). Names are compared without case, accents or repeated spaces.
#
# - ``invoice_after_shipment_marketplaces``: sub-channels (``Order.marketplace``) whose NF-e key
#   the channel can only pass on once the shipment exists ("Amazon, Zoom, Carrefour, Magalu e
#   Mercado Livre ... só conseguimos replicar a chave da nota quando recebemos os dados de
#   expedição");
# - ``invoice_at_once_shipping_methods``: shipping methods (``Order.shipping_method``) that lift
#   that wait ("exceto para pedidos Mercado Envios Coleta");
# - ``invoice_needs_xml_marketplaces``: sub-channels that take the NF-e only as its XML ("Para o
#   marketplace Mercado Livre é necessário enviar o XML da nota fiscal");
# - ``delivery_from_channel_methods``: shipping methods whose delivery the marketplace reports
#   ("B2W Entregas, B2W Entregas Direct, Magalu Entregas e ME2 a atualização do status Entregue
#   vem do marketplace"); Malote never pushes ``delivered`` for those orders;
# - ``detect_regressions``: a status earlier than one the channel already had, reported with a
#   time after it, is a divergence (a manual change there) rather than a late, reordered update.
#   Needs ``InboundChange.occurred_at`` from the system's own clock: off for Jumpseller, whose
#   hooks carry no time (its connector stamps the reception time).
#
# Assumption: the exact spellings SkyHub uses for ``marketplace`` and ``shipping_method`` are
# not confirmed by channel-apis.md; both common spellings are listed ("Magalu", "Magazine Luiza";
# "Mercado Envios 2", "ME2").
POLICY_DEFAULTS: dict[str, Any] = {
    "invoice_after_shipment_marketplaces": [],
    "invoice_at_once_shipping_methods": [],
    "invoice_needs_xml_marketplaces": [],
    "delivery_from_channel_methods": [],
    "detect_regressions": True,
}

POLICY_PRESETS: dict[str, dict[str, Any]] = {
    "skyhub": {
        "invoice_after_shipment_marketplaces": [
            "Amazon", "Zoom", "Carrefour", "Magalu", "Magazine Luiza", "Mercado Livre",
        ],
        "invoice_at_once_shipping_methods": ["Mercado Envios Coleta"],
        "invoice_needs_xml_marketplaces": ["Mercado Livre"],
        "delivery_from_channel_methods": [
            "B2W Entregas", "B2W Entregas Direct", "Magalu Entregas", "Mercado Envios 2", "ME2",
        ],
    },
    "mercadolivre": {"delivery_from_channel_methods": ["Mercado Envios 2", "ME2"]},
    "jumpseller": {"detect_regressions": False},
}  # fmt: skip


def policy_default(kind: str, name: str) -> Any:
    """The value of policy option ``name`` for a channel of ``kind`` that does not set it."""
    if name not in POLICY_DEFAULTS:
        raise KeyError(f"No channel policy option {name!r}; known: {', '.join(sorted(POLICY_DEFAULTS))}.")
    return copy.deepcopy(POLICY_PRESETS.get(kind, {}).get(name, POLICY_DEFAULTS[name]))


def policy_options(channel: Any) -> dict[str, dict[str, Any]]:
    """Every policy option of a channel: ``{name: {"value", "default", "overridden"}}`` (back office)."""
    own = channel.options or {}
    result = {}
    for name in POLICY_DEFAULTS:
        default = policy_default(channel.kind, name)
        result[name] = {"value": own.get(name, default), "default": default, "overridden": name in own}
    return result


def apply_policy_preset(channel: Any, kind: str | None = None) -> None:
    """Write the policy defaults of ``kind`` (default: the channel's) into its options, to edit."""
    channel.options = {
        **(channel.options or {}),
        **copy.deepcopy(POLICY_PRESETS.get(kind or channel.kind, {})),
    }
    channel.save(update_fields=["options"])
