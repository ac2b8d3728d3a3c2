"""Bling ERP values: situações and status maps, the ``pedido``/``contato`` bodies, dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from malote import fiscal
from malote.connectors.values import decimal_or_zero, moment_in
from malote.fiscal.tracking import CORREIOS

BRASILIA = ZoneInfo("America/Sao_Paulo")

# Assumed: the ids stock Bling accounts commonly give their default situações; per account in status_map.
DEFAULT_STATUS_OUT: dict[str, str] = {
    "pending_payment": "6",
    "paid": "15",
    "preparing": "15",
    "invoiced": "9",
    "canceled": "12",
}
# Fixed meaning of a situação's ``valor``: only Atendido and Cancelado speak for the order.
STATUS_BY_VALOR: dict[int, str] = {1: "invoiced", 2: "canceled"}
# Lifecycle order, to never move Bling's order back (canceled is handled apart).
RANK: dict[str, int] = {
    status: rank
    for rank, status in enumerate(
        [
            "pending_payment",
            "payment_review",
            "payment_overdue",
            "paid",
            "out_of_stock",
            "preparing",
            "invoiced",
            "ready_to_ship",
            "shipped",
            "in_transit",
            "delivery_failed",
            "delivered",
        ]
    )
}
PAGE_SIZE = 100
NO_NOTA = "0"


def number(value: Decimal) -> float:
    """A JSON number for Bling (decimal BRL, two places)."""
    return float(value.quantize(Decimal("0.01")))


def bling_date(value: str | None) -> str:
    """An ISO date-time from a snapshot → ``YYYY-MM-DD`` in Brasília (today when missing)."""
    return moment_in(value, BRASILIA).date().isoformat()


def digits(text: Any) -> str:
    return "".join(char for char in str(text or "") if char.isdigit())


def contato_body(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The ``POST /contatos`` body for the snapshot's customer."""
    customer = snapshot.get("customer") or {}
    document = digits(customer.get("document"))
    address = snapshot.get("billing_address") or snapshot.get("shipping_address") or {}
    return {
        "nome": str(customer.get("name") or "Cliente"),
        "tipo": "J" if len(document) == 14 else "F",
        "situacao": "A",
        "numeroDocumento": document,
        "telefone": str(customer.get("phone") or ""),
        "email": str(customer.get("email") or ""),
        "endereco": {
            "geral": {
                "endereco": str(address.get("street") or ""),
                "numero": str(address.get("number") or ""),
                "complemento": str(address.get("complement") or ""),
                "bairro": str(address.get("district") or ""),
                "cep": str(address.get("postal_code") or ""),
                "municipio": str(address.get("city") or ""),
                "uf": str(address.get("state") or ""),
            }
        },
    }


def pedido_body(
    snapshot: Mapping[str, Any],
    numero_loja: str,
    contato_id: int,
    situacao: str | None,
    *,
    formas: Mapping[str, Any],
    loja_id: Any,
) -> dict[str, Any]:
    """The ``POST /pedidos/vendas`` body for a snapshot; totals equal Malote's."""
    customer = snapshot.get("customer") or {}
    document = digits(customer.get("document"))
    shipping = snapshot.get("shipping_address") or snapshot.get("billing_address") or {}
    items = snapshot.get("items") or []
    placed = bling_date(snapshot.get("placed_at"))
    # Bling's item discount is a percentage: line discounts join the order's (R$), so totals agree.
    discount = decimal_or_zero(snapshot.get("discount")) + sum(
        (decimal_or_zero(item.get("discount")) for item in items), Decimal("0")
    )
    reference = (
        f"Pedido {snapshot['number']} (canal {snapshot.get('channel', '')},"
        f" pedido {snapshot.get('external_id', '')})"
    )
    body: dict[str, Any] = {
        "numeroLoja": numero_loja,
        "data": placed,
        "dataSaida": placed,
        "dataPrevista": placed,
        "contato": {
            "id": contato_id,
            "tipoPessoa": "J" if len(document) == 14 else "F",
            "numeroDocumento": document,
        },
        "numeroPedidoCompra": str(snapshot.get("external_id") or ""),
        "outrasDespesas": number(decimal_or_zero(snapshot.get("tax"))),
        "observacoes": reference,
        "observacoesInternas": f"Malote: pedido {snapshot['number']}",
        "desconto": {"valor": number(discount), "unidade": "REAL"},
        "itens": [
            {
                "codigo": str(item["sku"]),
                "unidade": "UN",
                "quantidade": item["quantity"],
                "valor": number(decimal_or_zero(item["unit_price"])),
                "descricao": str(item["name"]),
            }
            for item in items
        ],
        "transporte": {
            "fretePorConta": 0,
            "frete": number(decimal_or_zero(snapshot.get("shipping_price"))),
            "etiqueta": {
                "nome": str(customer.get("name") or ""),
                "endereco": str(shipping.get("street") or ""),
                "numero": str(shipping.get("number") or ""),
                "complemento": str(shipping.get("complement") or ""),
                "municipio": str(shipping.get("city") or ""),
                "uf": str(shipping.get("state") or ""),
                "cep": str(shipping.get("postal_code") or ""),
                "bairro": str(shipping.get("district") or ""),
                "nomePais": "BRASIL",
            },
        },
    }
    payment = snapshot.get("payment") or {}
    parcela: dict[str, Any] = {
        "dataVencimento": str(payment.get("due_date") or "")[:10] or placed,
        "valor": number(decimal_or_zero(snapshot.get("total"))),
        "observacoes": " ".join(
            str(part) for part in (payment.get("method"), payment.get("transaction_id")) if part
        ),
    }
    forma = formas.get(str(payment.get("method") or ""))
    if forma:
        parcela["formaPagamento"] = {"id": int(forma)}
    body["parcelas"] = [parcela]
    if loja_id:
        body["loja"] = {"id": int(loja_id)}
    if situacao:
        body["situacao"] = {"id": int(situacao)}
    return body


def parse_bling_time(text: str) -> str | None:
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), layout).replace(tzinfo=BRASILIA).isoformat()
        except ValueError:
            continue
    return None


def shipment_facts(pedido: Mapping[str, Any]) -> dict[str, Any] | None:
    transporte = pedido.get("transporte") or {}
    volumes = [v for v in transporte.get("volumes") or [] if isinstance(v, dict)]
    coded = [v for v in volumes if str(v.get("codigoRastreamento") or "").strip()]
    if not coded:
        return None
    code = str(coded[0]["codigoRastreamento"]).strip()
    service = str(coded[0].get("servico") or "").strip()
    transportador = str((transporte.get("contato") or {}).get("nome") or "").strip()
    try:
        fiscal.validate_tracking_code(CORREIOS, code)
        carrier = CORREIOS
    except fiscal.FiscalError:
        carrier = (transportador or service or "outra")[:60]
    shipment: dict[str, Any] = {
        "carrier": carrier,
        "method": (service or transportador or carrier)[:100],
        "tracking_code": code,
    }
    url = fiscal.tracking_url(carrier, code)
    if url:
        shipment["tracking_url"] = url
    try:
        day = datetime.strptime(str(pedido.get("dataSaida") or ""), "%Y-%m-%d").date()
    except ValueError:
        day = None
    if day is not None:
        now = datetime.now(BRASILIA).replace(microsecond=0)
        shipment["shipped_at"] = min(datetime.combine(day, time(23, 59, 59), BRASILIA), now).isoformat()
    return shipment


def parse_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BRASILIA)
