"""Ready-made status maps (both ways) for systems driven by the generic ``webhook`` connector or
configured by hand, as data. Apply one to a channel with ``apply_preset``; edit freely after.
Also the per-kind defaults of the channel policies kept in ``Channel.options`` (``POLICY_PRESETS``).

The maps follow the vendors' help articles and API documentation (JET, SkyHub, VTEX, Jumpseller,
Tiny, Eccosys; see docs/connectors/). The Hybris/Abacos consignment statuses are SAP Commerce's
standard ``ConsignmentStatus`` values as generally known (not confirmed by a vendor source) plus
``NOT_INTEGRATED``, which marks an order that never reached the ERP: it maps to no canonical
status (the reconciliation issue acts on it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PRESETS: dict[str, dict[str, dict[str, str]]] = {
    # JET: each status is used once per order; DESPACHADO carries the NF-e and the tracking code.
    "jet": {
        "in": {
            "NOVO": "pending_payment",
            "EM APROVAÇÃO": "payment_review",
            "APROVADO": "paid",
            "EM PRODUÇÃO": "preparing",
            "DESPACHADO": "shipped",
            "TRACKING": "in_transit",
            "CONCLUÍDO": "delivered",
            "CANCELADO": "canceled",
        },
        "out": {
            "pending_payment": "NOVO",
            "payment_review": "EM APROVAÇÃO",
            "paid": "APROVADO",
            "preparing": "EM PRODUÇÃO",
            "shipped": "DESPACHADO",
            "in_transit": "TRACKING",
            "delivered": "CONCLUÍDO",
            "canceled": "CANCELADO",
        },
    },
    # SkyHub status codes (the order's status.code); types NEW/APPROVED/INVOICED/SHIPPED/DELIVERED/
    # SHIPMENT_EXCEPTION/CANCELED/OVERDUE.
    "skyhub": {
        "in": {
            "book_product": "pending_payment",
            "waiting_payment": "pending_payment",
            "payment_overdue": "payment_overdue",
            "payment_received": "paid",
            "order_invoiced": "invoiced",
            "order_shipped": "shipped",
            "complete": "delivered",
            "shipment_exception": "delivery_failed",
            "order_canceled": "canceled",
        },
        "out": {
            "paid": "payment_received",
            "invoiced": "order_invoiced",
            "shipped": "order_shipped",
            "delivered": "complete",
            "delivery_failed": "shipment_exception",
            "canceled": "order_canceled",
        },
    },
    "vtex": {
        "in": {
            "order-created": "pending_payment",
            "payment-pending": "pending_payment",
            "payment-approved": "paid",
            "ready-for-handling": "paid",
            "handling": "preparing",
            "invoiced": "invoiced",
            "canceled": "canceled",
        },
        "out": {"preparing": "start-handling", "invoiced": "invoiced", "canceled": "cancel"},
    },
    "jumpseller": {
        "in": {"pending_payment": "pending_payment", "paid": "paid", "canceled": "canceled"},
        "out": {"paid": "Paid", "canceled": "Canceled"},
    },
    "tiny": {
        "in": {
            "preparando_envio": "preparing",
            "faturado": "invoiced",
            "pronto_envio": "ready_to_ship",
            "enviado": "shipped",
            "entregue": "delivered",
            "nao_entregue": "delivery_failed",
            "cancelado": "canceled",
        },
        "out": {
            "paid": "aprovado",
            "preparing": "preparando_envio",
            "invoiced": "faturado",
            "ready_to_ship": "pronto_envio",
            "shipped": "enviado",
            "delivered": "entregue",
            "delivery_failed": "nao_entregue",
            "canceled": "cancelado",
        },
    },
    # Eccosys situações named in its help article; the API's own codes are not public.
    "eccosys": {
        "in": {
            "Aguardando pagamento": "pending_payment",
            "Pagamento em análise": "payment_review",
            "Pagamento confirmado": "paid",
            "Em separação": "preparing",
            "Em produção": "preparing",
            "Atendido": "invoiced",
            "Ordem de coleta gerada": "ready_to_ship",
            "Enviado": "shipped",
            "Entrega confirmada": "delivered",
            "Cancelado": "canceled",
        },
        "out": {
            "pending_payment": "Aguardando pagamento",
            "paid": "Pagamento confirmado",
            "preparing": "Em separação",
            "invoiced": "Atendido",
            "ready_to_ship": "Ordem de coleta gerada",
            "shipped": "Enviado",
            "delivered": "Entrega confirmada",
            "canceled": "Cancelado",
        },
    },
    # Hybris/Abacos consignments (assumed standard values) and NOT_INTEGRATED (never reached the ERP).
    "hybris": {
        "in": {
            "NOT_INTEGRATED": "",
            "WAITING": "paid",
            "READY": "preparing",
            "PICKPACK": "preparing",
            "READY_FOR_PICKUP": "ready_to_ship",
            "SHIPPED": "shipped",
            "DELIVERY_COMPLETED": "delivered",
            "PICKUP_COMPLETE": "delivered",
            "CANCELLED": "canceled",
        },
        "out": {
            "paid": "WAITING",
            "preparing": "READY",
            "ready_to_ship": "READY_FOR_PICKUP",
            "shipped": "SHIPPED",
            "delivered": "DELIVERY_COMPLETED",
            "canceled": "CANCELLED",
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

# Per-order channel policies (docs/channel-rules.md) kept in ``Channel.options``. A channel that does
# not set one of these options gets the value of its kind here, else the generic default below: so
# a SkyHub channel follows SkyHub's integration article without anyone typing it, an operator may
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
# not confirmed by its documentation; both common spellings are listed ("Magalu", "Magazine Luiza";
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


@dataclass(frozen=True)
class StatusMap:
    """A system's words for Malote's statuses, both ways: the channel's own map (``Channel.status_map``)
    over its connector's defaults. A status mapped to ``""`` has no word there (nothing is pushed)."""

    outbound: Mapping[str, str]
    inbound: Mapping[str, str]

    @classmethod
    def of(
        cls,
        stored: Mapping[str, Any] | None,
        *,
        default_out: Mapping[str, str],
        default_in: Mapping[str, str],
    ) -> StatusMap:
        stored = stored or {}
        return cls({**default_out, **(stored.get("out") or {})}, {**default_in, **(stored.get("in") or {})})

    def word_for(self, status: str) -> str | None:
        """The system's word for a canonical status, ``None`` when it has none."""
        return self.outbound.get(status) or None

    def meaning_of(self, remote: str) -> str:
        """The canonical status a remote word means, ``""`` when unknown or meaningless."""
        return str(self.inbound.get(remote) or "")

    def knows(self, remote: str) -> bool:
        """Whether the map (own or default) has an entry for this remote word."""
        return remote in self.inbound

    def expected(self, path: Sequence[str]) -> tuple[str, str]:
        """(canonical, remote) status the system should show for an order that went through ``path``:
        the latest status of the path it has a word for; ``("", "")`` when none."""
        for status in reversed(path):
            word = self.word_for(status)
            if word:
                return str(status), word
        return "", ""

    def told(self, status_path: Sequence[str], status: str = "") -> tuple[str, str]:
        """(canonical, remote) status Malote tells the system for an order now at ``status`` after
        ``status_path`` — and so the one it should show: the latest of them it has a word for
        (``expected``); ``("", "")`` when none. The one rule for the status an order is created
        with there (``malote.relay.delivery``: an order that went ``paid`` → ``out_of_stock``
        before it reached the ERP is created there as ``paid``'s word, never as the ERP's default)
        and for what the divergence checks expect (``malote.relay.divergence.expected_statuses``,
        ``malote.reconcile.divergent.expected_status``). Status pushes follow it too: routing
        sends each status the system has a word for, nothing for one it has none for."""
        return self.expected([*status_path, status] if status else list(status_path))
