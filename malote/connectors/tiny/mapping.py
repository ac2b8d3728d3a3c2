"""Tiny ERP values: situação codes, canonical status maps, dates and the ``pedido`` body."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from malote import fiscal
from malote.connectors.values import decimal_or_zero, moment_in
from malote.fiscal.tracking import CORREIOS

BRASILIA = ZoneInfo("America/Sao_Paulo")

# Situação codes and their labels, in Tiny's fulfilment order.
SITUACOES: dict[str, str] = {
    "aberto": "Em aberto",
    "aprovado": "Aprovado",
    "preparando_envio": "Preparando envio",
    "faturado": "Faturado (atendido)",
    "pronto_envio": "Pronto para envio",
    "enviado": "Enviado",
    "nao_entregue": "Não entregue",
    "entregue": "Entregue",
    "cancelado": "Cancelado",
}
# How far along each situação is: a push never moves Tiny's order to a lower rank. ``cancelado``
# is left out on purpose: nothing but ``cancelado`` is ever pushed onto a canceled order.
RANK: dict[str, int] = {code: rank for rank, code in enumerate(list(SITUACOES)[:-1])}

DEFAULT_STATUS_OUT: dict[str, str] = {
    "paid": "aprovado",
    "preparing": "preparando_envio",
    "invoiced": "faturado",
    "ready_to_ship": "pronto_envio",
    "shipped": "enviado",
    "delivered": "entregue",
    "delivery_failed": "nao_entregue",
    "canceled": "cancelado",
}
# Only what the ERP is authoritative for: fulfilment and cancellation, never payment.
DEFAULT_STATUS_IN: dict[str, str] = {
    "aberto": "",
    "aprovado": "",
    "preparando_envio": "preparing",
    "faturado": "invoiced",
    "pronto_envio": "ready_to_ship",
    "enviado": "shipped",
    "entregue": "delivered",
    "nao_entregue": "delivery_failed",
    "cancelado": "canceled",
}
# Canonical targets whose path may need the NF-e, the shipment or the delivery date.
NEEDS_FACTS = frozenset(
    {"invoiced", "ready_to_ship", "shipped", "in_transit", "delivered", "delivery_failed"}
)

# Assumed: Tiny's forma_pagamento words for Malote's payment methods.
FORMAS_PAGAMENTO: dict[str, str] = {
    "credit_card": "credito",
    "boleto": "boleto",
    "pix": "pix",
    "other": "multiplas",
}


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: ``"Não  Entregue"`` → ``"nao entregue"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


_SITUACAO_BY_TEXT: dict[str, str] = {
    **{fold(code): code for code in SITUACOES},
    **{fold(code.replace("_", " ")): code for code in SITUACOES},
    **{fold(label): code for code, label in SITUACOES.items()},
    "atendido": "faturado",
    "faturado": "faturado",
}


def situacao_code(text: Any) -> str:
    """The situação code for a code or a label (``"Faturado (atendido)"`` → ``"faturado"``);
    an unknown word comes back folded with underscores, so a channel's status map can name it."""
    folded = fold(str(text or ""))
    return _SITUACAO_BY_TEXT.get(folded, folded.replace(" ", "_"))


def br_date(value: str | None) -> str:
    """An ISO date-time from a snapshot → ``dd/mm/yyyy`` in Brasília (today when missing)."""
    return moment_in(value, BRASILIA).strftime("%d/%m/%Y")


def parse_br_date(text: Any) -> date | None:
    try:
        return datetime.strptime(str(text or "").strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def day_moment(text: Any, now: datetime) -> str | None:
    """A Tiny date (``dd/mm/yyyy``) as the end of that day in Brasília, capped at ``now``."""
    day = parse_br_date(text)
    if day is None:
        return None
    return min(datetime.combine(day, time(23, 59, 59), BRASILIA), now).isoformat()


def pedido_body(
    snapshot: Mapping[str, Any], *, formas: Mapping[str, str], situacao: str | None
) -> dict[str, Any]:
    """The ``pedido`` ``pedido.incluir`` takes for a snapshot; totals equal Malote's."""
    customer = snapshot.get("customer") or {}
    billing = snapshot.get("billing_address") or {}
    shipping = snapshot.get("shipping_address") or billing
    document = str(customer.get("document") or "")
    is_company = customer.get("document_kind") == "cnpj" or len(document) == 14
    person = {
        "tipo_pessoa": "J" if is_company else "F",
        "cpf_cnpj": fiscal.format_cnpj(document) if is_company else fiscal.format_cpf(document),
    }

    def address(data: Mapping[str, Any]) -> dict[str, str]:
        return {
            "endereco": str(data.get("street") or ""),
            "numero": str(data.get("number") or ""),
            "complemento": str(data.get("complement") or ""),
            "bairro": str(data.get("district") or ""),
            "cep": str(data.get("postal_code") or ""),
            "cidade": str(data.get("city") or ""),
            "uf": str(data.get("state") or ""),
        }

    cliente = {
        "nome": str(customer.get("name") or ""),
        **person,
        **address(billing),
        "fone": str(customer.get("phone") or ""),
        "email": str(customer.get("email") or ""),
    }
    items = snapshot.get("items") or []
    # Tiny's items carry no discount: line discounts join the order's, so the totals agree.
    discount = decimal_or_zero(snapshot.get("discount")) + sum(
        (decimal_or_zero(item.get("discount")) for item in items), Decimal("0")
    )
    pedido: dict[str, Any] = {
        "data_pedido": br_date(snapshot.get("placed_at")),
        "numero_pedido_ecommerce": str(snapshot["number"]),
        "cliente": {key: value for key, value in cliente.items() if value},
        "itens": [
            {
                "item": {
                    "codigo": str(item["sku"]),
                    "descricao": str(item["name"]),
                    "unidade": "UN",
                    "quantidade": str(item["quantity"]),
                    "valor_unitario": f"{decimal_or_zero(item['unit_price']):.2f}",
                }
            }
            for item in items
        ],
        "valor_frete": f"{decimal_or_zero(snapshot.get('shipping_price')):.2f}",
        "valor_desconto": f"{discount:.2f}",
        "obs": (
            f"Pedido Malote {snapshot['number']} (canal {snapshot.get('channel', '')},"
            f" pedido {snapshot.get('external_id', '')})"
        ),
    }
    if decimal_or_zero(snapshot.get("tax")):
        pedido["outras_despesas"] = f"{decimal_or_zero(snapshot.get('tax')):.2f}"
    if shipping != billing:
        entrega = {"nome_destinatario": cliente["nome"], **person, **address(shipping)}
        pedido["endereco_entrega"] = {key: value for key, value in entrega.items() if value}
    if snapshot.get("shipping_method"):
        pedido["forma_frete"] = str(snapshot["shipping_method"])
    method = str((snapshot.get("payment") or {}).get("method") or "")
    if formas.get(method):
        pedido["forma_pagamento"] = formas[method]
    if situacao:
        pedido["situacao"] = situacao
    return pedido


def moves_forward(current: str, target: str) -> bool:
    """Whether setting ``target`` on an order in ``current`` changes it without going back."""
    if current == target or current == "cancelado":
        return False
    if target == "cancelado" or current not in RANK or target not in RANK:
        return True
    return RANK[target] > RANK[current]


def shipment_facts(pedido: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    code = str(pedido.get("codigo_rastreamento") or "").strip()
    if not code:
        return None
    transportador = str(pedido.get("nome_transportador") or "").strip()
    forma_envio = str(pedido.get("forma_envio") or "").strip()
    forma_frete = str(pedido.get("forma_frete") or "").strip()
    try:
        fiscal.validate_tracking_code(CORREIOS, code)
        carrier = CORREIOS
    except fiscal.FiscalError:
        carrier = (forma_envio or transportador or "outra")[:60]
    url = str(pedido.get("url_rastreamento") or "").strip()
    shipment: dict[str, Any] = {
        "carrier": carrier,
        "method": (forma_frete or forma_envio or transportador or carrier)[:100],
        "tracking_code": code,
    }
    if url.startswith(("http://", "https://")) and not any(char.isspace() for char in url):
        shipment["tracking_url"] = url
    shipped_at = day_moment(pedido.get("data_envio"), now)
    if shipped_at:
        shipment["shipped_at"] = shipped_at
    return shipment


def nota_issued_at(nota: Mapping[str, Any]) -> str | None:
    day = parse_br_date(nota.get("data_emissao"))
    if day is None:
        return None
    hour_text = str(nota.get("hora_emissao") or "")
    if not hour_text and nota.get("data_saida") == nota.get("data_emissao"):
        hour_text = str(nota.get("hora_saida") or "")
    try:
        clock = time.fromisoformat(hour_text) if hour_text else time(0, 0)
    except ValueError:
        clock = time(0, 0)
    return datetime.combine(day, clock, BRASILIA).isoformat()


def parse_moment(text: str) -> datetime:
    """An ISO date-time, or Tiny's own ``dd/mm/yyyy hh:mm:ss`` (set by hand), in Brasília."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.strptime(text, "%d/%m/%Y %H:%M:%S")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BRASILIA)
