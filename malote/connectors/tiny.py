"""``tiny``: Tiny ERP, API 2.0 — the ERP that receives Malote's orders and reports back the
invoice (NF-e), the shipment, the delivery and cancellations.

Channel
-------
``base_url`` is the API root (``https://api.tiny.com.br/api2``; a fake's ``api_url`` in tests);
``credentials = {"token": API token, "webhook_token": the secret Tiny must send as ?token=…}``.

Every call is ``POST <base_url>/<service>.php`` with the form fields ``token``, ``formato=json`` and
the service's parameters; the answer is HTTP 200 with a ``retorno`` envelope even on logical errors.
Logical errors become ``TinyError`` (a ``DeliveryError``): ``codigo_erro`` 6 ("API bloqueada", the
per-minute throttle) is retryable after a minute; token errors (1, 2), validation errors and every
other code are permanent (dead letter, visible and replayable). HTTP 5xx/429, timeouts and dropped
connections are retryable (``Connector.request``).

Outbound (contract per ``Connector``)
-------------------------------------
* ``push_order``: Tiny does not refuse a repeated e-commerce number, so a retried creation would
  make a second copy. The order is first looked up with ``pedidos.pesquisa`` by ``numeroEcommerce``
  = the Malote number; only when absent is ``pedido.incluir`` called. A lost answer (drop,
  timeout) is therefore safe to retry: the retry finds the copy the first attempt made.
* Status pushes map canonical → situação (``DEFAULT_STATUS_OUT``; the channel's ``status_map.out``
  overrides entries). Each push reads the order first (``pedido.obter``) and writes only when the
  write moves Tiny's order *forward*: a repeated or stale push (Tiny already there or further,
  or ``cancelado``) costs one read and no write, so Tiny's history and webhooks stay clean and a
  late message never moves Tiny backwards. Statuses without a Tiny word (``in_transit``…) cost
  nothing. ``push_shipment`` registers the tracking code (only when it differs) before moving the
  order to ``enviado``, so Tiny's own ``enviado`` webhook already carries it. ``push_invoice``
  only moves the order to ``faturado``: routing never sends Tiny an invoice it reported itself,
  and API 2.0 has no call to attach an NF-e issued elsewhere.

Inbound
-------
* Webhook ("notificação de vendas", unsigned): ``verify_webhook`` requires the query parameter
  ``token`` to equal the ``webhook_token`` credential (constant-time compare), else 401.
* ``parse_webhook`` maps ``dados.codigoSituacao`` through ``DEFAULT_STATUS_IN``. Tiny is
  authoritative for fulfilment, not for payment: ``aberto``/``aprovado`` only mean the ERP holds
  or accepted the order, so they are recorded without a transition. When the target needs facts
  (invoiced and beyond), the order is read (``pedido.obter``) and, when it has an NF-e, the nota
  (``nota.fiscal.obter``, plus the XML service when the nota does not carry the XML) to build
  ``facts``. ``event_id`` = ``"<pedido id>:<situação>:<nota id or 0>"`` — the same for the webhook
  and for polling, so the two de-duplicate each other, and an NF-e issued on an order already
  marked ``faturado`` still counts as a new event.
* ``pull_changes``: ``pedidos.pesquisa`` by ``dataAtualizacao`` since the cursor, one page per
  call (``more`` while pages remain), each order read in full (the listing lacks the nota id).
* ``fetch_order``: one order as an ``InboundChange``, like the webhook's.

Confirmed vs assumed (``channel-apis.md`` §7.2)
-----------------------------------------------
Confirmed (✅/🟢): token + ``formato=json`` form fields; the ``retorno`` envelope; codes ≤2 token,
6 throttle, 20 no records; ``pedidos.pesquisa`` parameters (``numeroEcommerce``,
``dataAtualizacao`` ``dd/mm/yyyy hh:mm:ss``, ``pagina``) and answer; ``pedido.obter`` fields;
``pedido.alterar.situacao`` and ``pedido.cadastrar.codigo.rastreamento`` parameters; the
situação codes; the webhook body and that it is unsigned.

Assumed (❓), each an option with the sandbox fake's default:

* ``pedido.incluir``'s body (``pedido='{"pedido": {…}}'``; option ``incluir_envelope`` =
  ``"pedidos"`` sends ``{"pedidos": [{"pedido": …}]}``) and answer
  (``registros[].registro{status, id, numero, codigo_erro, erros}``); that it accepts
  ``situacao``, ``forma_frete``, ``outras_despesas`` and ``endereco_entrega`` with the cliente's
  field names; item discounts are folded into ``valor_desconto`` and Malote's ``tax`` goes to
  ``outras_despesas``, so Tiny's total (and its NF-e) equals Malote's.
* ``forma_pagamento`` words (option ``formas_pagamento`` overrides ``FORMAS_PAGAMENTO``).
* the ``.php`` suffix on every service (option ``service_suffix``).
* NF-e services: ``nfe_get_service`` (``nota.fiscal.obter``), ``nfe_xml_service``
  (``nota.fiscal.obter.xml``; ``""`` = never fetch the XML; an XML answer is accepted too) and
  ``nfe_service`` (``gerar.nota.fiscal.pedido``, used by ``request_invoice``).
* codigo_erro 32 = record not found (option ``not_found_codes``), 30 = duplicate, 23 = no such page.
* situação may come as the code or the label (both handled).
* Dates in Tiny are dates only (``dd/mm/yyyy``, Brasília): a shipment or delivery date becomes the
  end of that day, capped at now — never in the future, never before anything Malote recorded
  earlier that day. An NF-e's time comes from its XML (``dhEmi``) when there is one.
* Search is consistent right after a write (what makes the look-up-first creation safe); if the
  real API lagged, a retry inside that window could still duplicate.

Other options: ``timeout_seconds`` (per-call timeout), ``poll_lookback_hours`` (first poll; 24),
``poll_overlap_seconds`` (each poll re-reads this much before the last one; 60).
"""

from __future__ import annotations

import hmac
import json
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from malote import fiscal
from malote.connectors.base import (
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    PullResult,
    WebhookRejected,
)
from malote.connectors.registry import register
from malote.connectors.values import decimal_or_zero, id_text, moment_in
from malote.fiscal.tracking import CORREIOS
from malote.sync.errors import DeliveryError

BRASILIA = ZoneInfo("America/Sao_Paulo")

# Situação codes and their labels (🟢 T4/T5), in Tiny's fulfilment order.
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

# ❓ Tiny's forma_pagamento words for Malote's payment methods.
FORMAS_PAGAMENTO: dict[str, str] = {
    "credit_card": "credito",
    "boleto": "boleto",
    "pix": "pix",
    "other": "multiplas",
}

RATE_LIMITED = 6
DUPLICATE = 30
NO_RECORDS = 20
NO_SUCH_PAGE = 23
NOT_FOUND = 32
RATE_LIMIT_PAUSE_SECONDS = 60.0  # "excedido o número de acessos no último minuto"


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: ``"Não  Entregue"`` → ``"nao entregue"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


_SITUACAO_BY_TEXT: dict[str, str] = {
    **{_fold(code): code for code in SITUACOES},
    **{_fold(code.replace("_", " ")): code for code in SITUACOES},
    **{_fold(label): code for code, label in SITUACOES.items()},
    "atendido": "faturado",
    "faturado": "faturado",
}


def situacao_code(text: Any) -> str:
    """The situação code for a code or a label (``"Faturado (atendido)"`` → ``"faturado"``);
    an unknown word comes back folded with underscores, so a channel's status map can name it."""
    folded = _fold(str(text or ""))
    return _SITUACAO_BY_TEXT.get(folded, folded.replace(" ", "_"))


def _br_date(value: str | None) -> str:
    """An ISO date-time from a snapshot → ``dd/mm/yyyy`` in Brasília (today when missing)."""
    return moment_in(value, BRASILIA).strftime("%d/%m/%Y")


def _parse_br_date(text: Any) -> date | None:
    try:
        return datetime.strptime(str(text or "").strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def _day_moment(text: Any, now: datetime) -> str | None:
    """A Tiny date (``dd/mm/yyyy``) as the end of that day in Brasília, capped at ``now``."""
    day = _parse_br_date(text)
    if day is None:
        return None
    return min(datetime.combine(day, time(23, 59, 59), BRASILIA), now).isoformat()


class TinyError(DeliveryError):
    """A logical error inside Tiny's ``retorno`` (HTTP 200); ``code`` is its ``codigo_erro``."""

    def __init__(self, service: str, code: int | None, message: str) -> None:
        throttled = code == RATE_LIMITED or "bloquead" in message.casefold()
        super().__init__(
            f"tiny {service}: codigo_erro {code}: {message}",
            retryable=throttled,
            retry_after=RATE_LIMIT_PAUSE_SECONDS if throttled else None,
        )
        self.code = code
        self.service = service


def _error_of(retorno: Mapping[str, Any]) -> tuple[int | None, str]:
    """``codigo_erro`` and messages of a failed ``retorno`` (or of its first failed record)."""
    source: Mapping[str, Any] = retorno
    if retorno.get("codigo_erro") in (None, ""):
        for entry in retorno.get("registros") or []:
            registro = entry.get("registro") if isinstance(entry, dict) else None
            if isinstance(registro, dict) and str(registro.get("status", "")).lower() == "erro":
                source = registro
                break
    try:
        code: int | None = int(str(source.get("codigo_erro")).strip())
    except ValueError:
        code = None
    messages = [
        str(item.get("erro", item)) if isinstance(item, dict) else str(item)
        for item in source.get("erros") or []
    ]
    return code, "; ".join(messages) or "erro sem descrição"


@register
class TinyConnector(Connector):
    kind = "tiny"
    default_status_out = DEFAULT_STATUS_OUT
    default_status_in = DEFAULT_STATUS_IN

    # --- the API -------------------------------------------------------------------------------

    def _call(self, service: str, **params: str) -> dict[str, Any]:
        """One service call; returns ``retorno`` or raises ``TinyError``/``DeliveryError``."""
        url = f"{self.base_url}/{service}{self.option('service_suffix', '.php')}"
        data = {"token": self.credential("token"), "formato": "json", **params}
        response = self.request("POST", url, what=f"tiny {service}", data=data)
        try:
            body = response.json()
        except ValueError:
            # A 200 that is not JSON is a proxy or maintenance page, not Tiny's answer: try later.
            raise DeliveryError(
                f"tiny {service}: answer is not JSON: {response.text[:200]!r}", retryable=True
            ) from None
        retorno = body.get("retorno") if isinstance(body, dict) else None
        if not isinstance(retorno, dict):
            raise DeliveryError(f"tiny {service}: answer has no retorno envelope", retryable=True)
        if str(retorno.get("status", "")).strip().upper() == "OK":
            return retorno
        code, message = _error_of(retorno)
        raise TinyError(service, code, message)

    def _not_found(self, exc: TinyError) -> bool:
        return exc.code in {int(code) for code in self.option("not_found_codes", [NOT_FOUND])}

    def _obter(self, pedido_id: str) -> dict[str, Any]:
        pedido = self._call("pedido.obter", id=pedido_id).get("pedido")
        if not isinstance(pedido, dict):
            raise DeliveryError(f"tiny pedido.obter {pedido_id}: answer has no pedido", retryable=True)
        return pedido

    # --- outbound ------------------------------------------------------------------------------

    def push_order(self, snapshot: dict[str, Any], *, idempotency_key: str) -> str:
        """Create the order unless a copy with this e-commerce number exists; returns Tiny's id."""
        number = str(snapshot["number"])
        found = self._find_by_ecommerce_number(number)
        if found is not None:
            return found
        body: dict[str, Any] = {"pedido": self._pedido_body(snapshot)}
        if self.option("incluir_envelope", "pedido") == "pedidos":
            body = {"pedidos": [body]}
        try:
            retorno = self._call("pedido.incluir", pedido=json.dumps(body, ensure_ascii=False))
        except TinyError as exc:
            # An account that does refuse repeated numbers: the copy exists, use it.
            if exc.code == DUPLICATE and (found := self._find_by_ecommerce_number(number)) is not None:
                return found
            raise
        registros = retorno.get("registros") or []
        registro = registros[0].get("registro") if registros and isinstance(registros[0], dict) else None
        new_id = id_text((registro or {}).get("id"))
        if new_id == "0":
            # Accepted without an id: the retry's look-up finds the copy if one was made.
            raise DeliveryError("tiny pedido.incluir: OK without a record id", retryable=True)
        return new_id

    def _find_by_ecommerce_number(self, number: str) -> str | None:
        try:
            retorno = self._call("pedidos.pesquisa", numeroEcommerce=number)
        except TinyError as exc:
            if exc.code == NO_RECORDS:
                return None
            raise
        ids = [
            id_text(entry["pedido"].get("id"))
            for entry in retorno.get("pedidos") or []
            if isinstance(entry, dict)
            and isinstance(entry.get("pedido"), dict)
            and str(entry["pedido"].get("numero_ecommerce") or "").strip() == number
        ]
        ids = [pedido_id for pedido_id in ids if pedido_id != "0"]
        # Several copies can only predate this connector; the first one is the one Malote uses.
        return min(ids, key=lambda pedido_id: (len(pedido_id), pedido_id)) if ids else None

    def _pedido_body(self, snapshot: dict[str, Any]) -> dict[str, Any]:
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
            "data_pedido": _br_date(snapshot.get("placed_at")),
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
        formas = {**FORMAS_PAGAMENTO, **self.option("formas_pagamento", {})}
        if formas.get(method):
            pedido["forma_pagamento"] = formas[method]
        situacao = self.status_out(str(snapshot.get("status") or ""))
        if situacao:
            pedido["situacao"] = situacao
        return pedido

    def _moves_forward(self, current: str, target: str) -> bool:
        """Whether setting ``target`` on an order in ``current`` changes it without going back."""
        if current == target or current == "cancelado":
            return False
        if target == "cancelado" or current not in RANK or target not in RANK:
            return True
        return RANK[target] > RANK[current]

    def _advance(self, external_id: str, status: str, pedido: dict[str, Any] | None = None) -> None:
        target = self.status_out(status)
        if not target:
            return  # Tiny has no word for it: nothing to tell
        target = situacao_code(target)
        current = situacao_code((pedido if pedido is not None else self._obter(external_id)).get("situacao"))
        if self._moves_forward(current, target):
            self._call("pedido.alterar.situacao", id=external_id, situacao=target)

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, str(snapshot.get("change_status") or snapshot["status"]))

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "invoiced")

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        pedido = self._obter(external_id)
        shipment = snapshot.get("shipment") or {}
        code = str(shipment.get("tracking_code") or "").strip()
        if code and code != str(pedido.get("codigo_rastreamento") or "").strip():
            params = {"id": external_id, "codigo_rastreamento": code}
            if shipment.get("shipped_at"):
                params["data_envio"] = _br_date(shipment["shipped_at"])
            if shipment.get("tracking_url"):
                params["url_rastreamento"] = str(shipment["tracking_url"])
            self._call("pedido.cadastrar.codigo.rastreamento", **params)
        self._advance(external_id, "shipped", pedido)

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "delivered")

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "canceled")

    def request_invoice(self, external_id: str, *, modelo: str = "NFe") -> dict[str, Any]:
        """Ask Tiny to issue the order's NF-e (``nfe_service``); returns ``{idNotaFiscal, numero,
        serie}``. Not used by delivery (the ERP's operator invoices); for the back office."""
        service = str(self.option("nfe_service", "gerar.nota.fiscal.pedido"))
        retorno = self._call(service, id=external_id, modelo=modelo)
        registros = retorno.get("registros") or [{}]
        registro = registros[0].get("registro") if isinstance(registros[0], dict) else None
        return dict(registro or {})

    # --- inbound -------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        expected = str((self.channel.credentials or {}).get("webhook_token") or "")
        if not expected:
            raise WebhookRejected(
                "This Tiny channel has no webhook_token configured.", code="webhook_token_not_configured"
            )
        given = str(query.get("token") or "")
        if not given:
            raise WebhookRejected("Missing token query parameter.", code="webhook_token_missing")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected("Webhook token does not match.", code="webhook_token_invalid")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = json.loads(body)
        dados = data.get("dados") if isinstance(data, dict) else None
        if not isinstance(dados, dict):
            raise ValueError("a Tiny webhook needs dados")
        pedido_id = id_text(dados.get("id"))
        if pedido_id == "0":
            raise ValueError("a Tiny webhook needs dados.id")
        situacao = situacao_code(dados.get("codigoSituacao") or dados.get("descricaoSituacao"))
        status = self.status_in(situacao)
        pedido: dict[str, Any] | None = None
        if status in NEEDS_FACTS:
            try:
                pedido = self._obter(pedido_id)
            except TinyError as exc:
                if not self._not_found(exc):
                    raise  # the sender retries (503); nothing is stored meanwhile
        # The event is the change the webhook announced; the facts are the order as it is now.
        return [self._change(pedido_id, situacao, id_text(dados.get("idNotaFiscal")), pedido, dados)]

    def _change(
        self,
        pedido_id: str,
        situacao: str,
        nota_id: str,
        pedido: dict[str, Any] | None,
        summary: Mapping[str, Any] | None = None,
    ) -> InboundChange:
        status = self.status_in(situacao)
        numero = str((pedido or summary or {}).get("numero") or "")
        facts: dict[str, Any] = {}
        if pedido is not None and status in NEEDS_FACTS:
            facts = self._facts(pedido, situacao)
        elif status == "canceled":
            facts = {
                "cancel_reason": "channel",
                "note": f"Cancelado no Tiny ERP (pedido {numero or pedido_id})",
            }
        return InboundChange(
            event_id=f"{pedido_id}:{situacao}:{nota_id}",
            external_id=pedido_id,
            remote_status=situacao,
            status=status,
            facts=facts,
        )

    def _facts(self, pedido: Mapping[str, Any], situacao: str) -> dict[str, Any]:
        now = datetime.now(BRASILIA).replace(microsecond=0)
        facts: dict[str, Any] = {}
        nota_id = id_text(pedido.get("id_nota_fiscal"))
        if nota_id != "0":
            invoice = self._invoice_facts(nota_id)
            if invoice:
                facts["invoice"] = invoice
        shipment = self._shipment_facts(pedido, now)
        if shipment:
            facts["shipment"] = shipment
        if situacao == "entregue":
            facts["delivered_at"] = _day_moment(pedido.get("data_entrega"), now) or now.isoformat()
        if situacao == "nao_entregue":
            facts["problem"] = f"Não entregue (Tiny ERP, pedido {pedido.get('numero') or pedido.get('id')})"
        return facts

    def _invoice_facts(self, nota_id: str) -> dict[str, Any] | None:
        service = str(self.option("nfe_get_service", "nota.fiscal.obter"))
        nota = self._call(service, id=nota_id).get("nota_fiscal")
        if not isinstance(nota, dict):
            return None
        key = "".join(char for char in str(nota.get("chave_acesso") or "") if char.isdigit())
        if len(key) != 44 or "cancel" in _fold(str(nota.get("situacao") or "")):
            return None  # not authorized yet, or canceled: not an invoice for the order
        xml = str(nota.get("xml_nfe") or "") or self._nota_xml(nota_id)
        issued_at = None
        if xml:
            try:
                issued_at = fiscal.parse_nfe_xml(xml).issued_at.isoformat()
            except fiscal.FiscalError:
                issued_at = None  # the invoice transition reports what is wrong with the XML
        if issued_at is None:
            issued_at = self._issued_at(nota)
        invoice: dict[str, Any] = {
            "key": key,
            "number": str(int(decimal_or_zero(nota.get("numero")))),
            "series": str(int(decimal_or_zero(nota.get("serie")))),
            "issued_at": issued_at,
        }
        if xml:
            invoice["xml"] = xml
        return invoice

    @staticmethod
    def _issued_at(nota: Mapping[str, Any]) -> str | None:
        day = _parse_br_date(nota.get("data_emissao"))
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

    def _nota_xml(self, nota_id: str) -> str:
        """The nota's authorized XML from the XML service, or ``""`` when it has none."""
        service = str(self.option("nfe_xml_service", "nota.fiscal.obter.xml"))
        if not service:
            return ""
        url = f"{self.base_url}/{service}{self.option('service_suffix', '.php')}"
        data = {"token": self.credential("token"), "formato": "json", "id": nota_id}
        try:
            response = self.request("POST", url, what=f"tiny {service}", data=data)
        except DeliveryError as exc:
            if exc.retryable:
                raise
            return ""  # no such service here: the invoice goes on without its XML
        text = response.text
        try:
            retorno = response.json().get("retorno") or {}
        except (ValueError, AttributeError):
            retorno = None
        if isinstance(retorno, dict):
            if str(retorno.get("status", "")).upper() != "OK":
                code, message = _error_of(retorno)
                error = TinyError(service, code, message)
                if error.retryable:
                    raise error
                return ""
            return str(retorno.get("xml_nfe") or "")
        # ❓ the real service may answer XML: take the nfeProc element out of it.
        start, end = text.find("<nfeProc"), text.rfind("</nfeProc>")
        return text[start : end + len("</nfeProc>")] if start >= 0 and end > start else ""

    @staticmethod
    def _shipment_facts(pedido: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
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
        shipped_at = _day_moment(pedido.get("data_envio"), now)
        if shipped_at:
            shipment["shipped_at"] = shipped_at
        return shipment

    def _change_from_pedido(self, pedido: dict[str, Any]) -> InboundChange:
        situacao = situacao_code(pedido.get("situacao"))
        return self._change(
            id_text(pedido.get("id")), situacao, id_text(pedido.get("id_nota_fiscal")), pedido
        )

    def fetch_order(self, external_id: str) -> InboundChange:
        """The order as it is in Tiny now (``TinyError`` with the not-found code if it is not)."""
        return self._change_from_pedido(self._obter(external_id))

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders changed since ``since`` (``pedidos.pesquisa`` by ``dataAtualizacao``), one page of
        the listing per call; ``cursor`` is the next page number. ``reference`` is the e-commerce
        number (Malote's order number for the orders Malote sent). The summary is enough: no order
        is read in full, so a reconciliation of thousands of orders costs one call per 50."""
        page = int(cursor or 1)
        try:
            retorno = self._call(
                "pedidos.pesquisa",
                dataAtualizacao=self._moment(since).astimezone(BRASILIA).strftime("%d/%m/%Y %H:%M:%S"),
                pagina=str(page),
            )
        except TinyError as exc:
            if exc.code in (NO_RECORDS, NO_SUCH_PAGE):
                return OrderListing([], None, more=False)
            raise
        # A reconciliation lists every order of the window: the per-order work here is kept small
        # (situação words and dates repeat; they are converted once per distinct value).
        situacoes: dict[str, tuple[str, str]] = {}
        days: dict[str, str] = {}
        listed = []
        for entry in retorno.get("pedidos") or []:
            summary = entry.get("pedido") if isinstance(entry, dict) else None
            if not isinstance(summary, dict):
                continue
            raw_id = summary.get("id")
            fast = isinstance(raw_id, str) and raw_id.isdigit() and raw_id[0] != "0"
            pedido_id = str(raw_id) if fast else id_text(raw_id)
            if pedido_id == "0":
                continue
            word = str(summary.get("situacao") or "")
            if word not in situacoes:
                code = situacao_code(word)
                situacoes[word] = (code, self.status_in(code))
            situacao, status = situacoes[word]
            raw_day = str(summary.get("data_pedido") or "")
            if raw_day not in days:
                day = _parse_br_date(raw_day)
                days[raw_day] = day.isoformat() if day else ""
            valor = summary.get("valor")
            listed.append(
                ListedOrder(
                    external_id=pedido_id,
                    reference=str(summary.get("numero_ecommerce") or ""),
                    remote_status=situacao,
                    status=status,
                    placed_at=days[raw_day],
                    total=valor if isinstance(valor, str) and valor else str(decimal_or_zero(valor)),
                )
            )
        try:
            pages = int(str(retorno.get("numero_paginas") or 1))
        except ValueError:
            pages = 1
        more = page < pages
        return OrderListing(listed, str(page + 1) if more else None, more=more)

    # Cursor: "<since ISO>" between polls; "<since ISO>;page=<n>;next=<ISO>" inside a listing,
    # where ``next`` is when the listing started (the next poll starts there, minus the overlap).
    def pull_changes(self, cursor: str | None) -> PullResult:
        now = datetime.now(BRASILIA).replace(microsecond=0)
        since, page, started = self._read_cursor(cursor, now)
        following = max(since, started - timedelta(seconds=float(self.option("poll_overlap_seconds", 60))))
        done = PullResult([], following.isoformat(), more=False)
        try:
            retorno = self._call(
                "pedidos.pesquisa",
                dataAtualizacao=since.astimezone(BRASILIA).strftime("%d/%m/%Y %H:%M:%S"),
                pagina=str(page),
            )
        except TinyError as exc:
            if exc.code in (NO_RECORDS, NO_SUCH_PAGE):
                return done
            raise
        changes = []
        for entry in retorno.get("pedidos") or []:
            summary = entry.get("pedido") if isinstance(entry, dict) else None
            if not isinstance(summary, dict):
                continue
            try:
                pedido = self._obter(id_text(summary.get("id")))
            except TinyError as exc:
                if self._not_found(exc):
                    continue  # gone since the listing
                raise
            changes.append(self._change_from_pedido(pedido))
        try:
            pages = int(str(retorno.get("numero_paginas") or 1))
        except ValueError:
            pages = 1
        if page < pages:
            cursor = f"{since.isoformat()};page={page + 1};next={started.isoformat()}"
            return PullResult(changes, cursor, more=True)
        return PullResult(changes, done.cursor, more=False)

    def _read_cursor(self, cursor: str | None, now: datetime) -> tuple[datetime, int, datetime]:
        if not cursor:
            return now - timedelta(hours=float(self.option("poll_lookback_hours", 24))), 1, now
        head, *rest = cursor.split(";")
        since = self._moment(head)
        parts = dict(part.split("=", 1) for part in rest if "=" in part)
        started = self._moment(parts["next"]) if "next" in parts else now
        return since, int(parts.get("page", "1")), started

    @staticmethod
    def _moment(text: str) -> datetime:
        """An ISO date-time, or Tiny's own ``dd/mm/yyyy hh:mm:ss`` (set by hand), in Brasília."""
        text = text.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = datetime.strptime(text, "%d/%m/%Y %H:%M:%S")
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=BRASILIA)
