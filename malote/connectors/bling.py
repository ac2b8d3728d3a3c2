"""``bling``: Bling ERP, API v3 — the ERP that receives Malote's orders, issues their NF-e and
reports the invoice and cancellations back.

Channel
-------
``base_url`` is the API root (``https://api.bling.com.br/Api/v3``; ``https://www.bling.com.br/Api/v3``
in older docs; a fake's ``api_url`` in tests); ``credentials = {"access_token", "refresh_token",
"client_id", "client_secret"}``. The client secret also verifies webhooks.

Every call sends ``Authorization: Bearer <access_token>``; answers are JSON wrapped in
``{"data": …}``, errors ``{"error": {"type", "message", "description", "fields"?}}`` with an HTTP
status. A 401 renews the access token once through the token endpoint (``POST <base_url>/oauth/token``,
HTTP Basic ``client_id:client_secret``, ``grant_type=refresh_token``; option ``token_url``), stores
the new pair in the channel's credentials and repeats the call. Before renewing, the credentials
are re-read: when another worker already renewed them, its token is used (refresh tokens may be
single-use). No refresh token, or a refresh the token endpoint refuses (400/401), is a
non-retryable ``DeliveryError`` saying the app must be authorized again. Errors become
``BlingError`` (a ``DeliveryError``): 5xx, 408/423/425/429 (with ``Retry-After``), timeouts and
dropped connections are retryable; every other 4xx is permanent (dead letter, replayable).

Situações
---------
A Bling order's state is a *situação* whose **id is account-specific** (🟡: stock accounts commonly
have 6 Em aberto, 9 Atendido, 12 Cancelado, 15 Em andamento; custom ones get other ids). The
channel's ``status_map`` maps both ways with ids as strings: ``{"out": {"paid": "15", …}, "in":
{"31": "shipped", …}}``; ``DEFAULT_STATUS_OUT`` holds the common ids. Inbound, an id missing from
the ``in`` map falls back to the situação's ``valor``, whose meaning is fixed (🟢): 1 Atendido →
``invoiced``, 2 Cancelado → ``canceled``, anything else → no canonical status (recorded only; an
ERP's "Em aberto"/"Em andamento" is not a payment). :meth:`BlingConnector.situacoes` lists the
account's situações (``GET /situacoes/modulos`` → the Vendas module → ``GET
/situacoes/modulos/{id}``; option ``vendas_module_id`` skips the first call); a push to an id the
account does not have fails with a non-retryable error naming the account's situações.

Outbound (contract per ``Connector``)
-------------------------------------
* ``push_order``: looks the order up first (``GET /pedidos/vendas?numerosLojas[]=<numeroLoja>``),
  so a retried creation never makes a second copy; only when absent does it find or create the
  contato (``GET /contatos?numeroDocumento=`` / ``POST /contatos``) and ``POST /pedidos/vendas``
  with contato, itens, desconto (line discounts folded into the order's, in R$), outrasDespesas
  (Malote's tax), transporte (frete, etiqueta = shipping address), parcelas (one, the total, due
  on the payment's due date) and ``situacao`` (the mapped id). ``numeroLoja`` is Malote's number
  (option ``numero_loja`` = ``"external_id"`` uses the sales channel's id); ``numeroPedidoCompra``
  the sales channel's id. A copy found on retry is moved to the mapped situação if behind.
* Status pushes (``push_status``, ``push_invoice`` → invoiced, ``push_delivery`` → delivered,
  ``push_cancellation`` → canceled; ``push_shipment`` → shipped) read the order and
  ``PATCH /pedidos/vendas/{id}/situacoes/{idSituacao}`` only when that moves Bling's order forward:
  a repeated or stale push costs one read, a canceled order is never revived, a status without a
  mapped id costs nothing.
* NF-e: with option ``generate_nfe_on`` = a canonical status (e.g. ``"paid"``), reaching that
  status (on creation or by a push) also asks Bling to issue the order's NF-e
  (``POST /pedidos/vendas/{id}/gerar-nfe``), once: an order that has a ``notaFiscal`` is left
  alone. Bling's refusal (no certificate, fiscal data missing…) is a 400: a dead letter the
  operator sees. The invoice reaches Malote as an inbound change (below).
  :meth:`BlingConnector.request_invoice` does the same on demand.

Inbound
-------
* Webhooks: ``verify_webhook`` requires ``X-Bling-Signature-256: sha256=<hex HMAC-SHA256(raw
  body, client_secret)>`` (constant-time compare; option/credential ``webhook_secret`` overrides
  the client secret), else 401. ``parse_webhook`` reads the envelope ``{eventId, date, version,
  event, companyId, data}``: ``order.*`` events name the pedido (``data.id``), ``invoice.*`` the
  NF-e (``data.id``; its pedido is found by ``numeroPedidoLoja``); other resources (stock,
  products…) are acknowledged and ignored. Either way the pedido is read in full and becomes one
  change: ``event_id = "<pedido id>:<situação id>:<nota id>"`` — the same for webhooks and
  polling, so they de-duplicate each other. An authorized NF-e on the pedido (``GET /nfe/{id}``:
  ``chaveAcesso``, ``numero``, ``serie``, ``dataEmissao``, ``xml`` link, fetched without the
  token) makes the change at least ``invoiced`` with ``facts.invoice = {key, number, series,
  issued_at, xml}``; tracking codes in ``transporte.volumes`` give ``facts.shipment``.
  ``order.deleted`` is recorded as remote status ``deleted``.
* ``pull_changes``: ``GET /pedidos/vendas?dataAlteracaoInicial=<since>&pagina&limite`` one page per
  call, each pedido read in full; ``list_orders`` the same listing without the reads
  (reconciliation); ``fetch_order`` one pedido.

Confirmed vs assumed (``channel-apis.md`` §7.1)
-----------------------------------------------
Confirmed (🟢 SDK mirroring the official OpenAPI): base URL, bearer auth and the token endpoint;
``GET/POST /pedidos/vendas`` (query names incl. ``numerosLojas[]``, ``dataAlteracaoInicial``),
``GET /pedidos/vendas/{id}``, ``PATCH …/situacoes/{idSituacao}``, ``POST …/gerar-nfe``,
``GET /nfe/{id}`` fields, ``/situacoes/modulos[/{id}]``, ``/contatos``; the order JSON; situação
``valor`` meanings; the webhook signature header and scheme.

Assumed (❓/🟡), each an option with the sandbox fake's default:

* ``status_map`` defaults (``DEFAULT_STATUS_OUT``: pending_payment 6, paid 15, preparing 15,
  invoiced 9, canceled 12) — set the account's ids per channel.
* ``POST /pedidos/vendas`` accepts ``situacao{id}`` (option ``send_situacao`` = false leaves it out);
  ``numeroLoja`` is not unique in Bling (hence the look-up); item ``desconto`` is a percentage, so
  discounts go to the order's ``desconto`` in R$; ``formaPagamento`` ids are per account (option
  ``formas_pagamento`` = {method: id}; without one the parcela goes without it); ``loja_id`` (option)
  ties the order to a Bling loja.
* ``gerar-nfe``'s answer is ``{"data": {"idNotaFiscal"}}`` or the bare ``{"idNotaFiscal"}`` (both
  read); authorized NF-e ``situacao`` values are ``nfe_authorized_situacoes`` ([5, 6]: Autorizada,
  Emitida DANFE — the SDK has two numberings); ``fetch_nfe_xml`` (true) downloads the ``xml``
  link; ``dataEmissao`` is Brasília time; the NF-e's ``numeroPedidoLoja`` names its pedido.
* Webhook payload keys beyond ``eventId/event/data`` and the event names (``order.created|updated|
  deleted``, ``invoice.created|updated``); Bling wants a fast 2xx.
* ``dataAlteracaoInicial`` as ``YYYY-MM-DD HH:MM:SS`` in Brasília; a page is full at ``page_size``
  (100); an NF-e being issued stamps the pedido as changed.

Other options: ``timeout_seconds``, ``poll_lookback_hours`` (24), ``poll_overlap_seconds`` (60).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

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
from malote.sync.errors import RETRYABLE_4XX, DeliveryError, retry_after_seconds, transport_error

BRASILIA = ZoneInfo("America/Sao_Paulo")
SIGNATURE_HEADER = "X-Bling-Signature-256"

# 🟡 The ids stock Bling accounts commonly give their default situações; per account in status_map.
DEFAULT_STATUS_OUT: dict[str, str] = {
    "pending_payment": "6",
    "paid": "15",
    "preparing": "15",
    "invoiced": "9",
    "canceled": "12",
}
# 🟢 Fixed meaning of a situação's ``valor``: only Atendido and Cancelado speak for the order.
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


def _number(value: Decimal) -> float:
    """A JSON number for Bling (decimal BRL, two places)."""
    return float(value.quantize(Decimal("0.01")))


def _date(value: str | None) -> str:
    """An ISO date-time from a snapshot → ``YYYY-MM-DD`` in Brasília (today when missing)."""
    return moment_in(value, BRASILIA).date().isoformat()


def _digits(text: Any) -> str:
    return "".join(char for char in str(text or "") if char.isdigit())


class BlingError(DeliveryError):
    """An HTTP error answered by Bling; ``kind`` is its ``error.type`` (``VALIDATION_ERROR``…)."""

    def __init__(self, what: str, response: httpx.Response) -> None:
        status = response.status_code
        kind, text = "", response.text[:300].replace("\n", " ")
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict) and error:
            kind = str(error.get("type") or "")
            parts = [str(error.get("message") or ""), str(error.get("description") or "")]
            parts += [
                f"{item.get('element', '')}: {item.get('msg', '')}"
                for item in error.get("fields") or []
                if isinstance(item, dict)
            ]
            text = "; ".join(part for part in parts if part)
        super().__init__(
            f"{what}: HTTP {status} {kind} {text}".replace("  ", " ").strip(),
            retryable=status >= 500 or status in RETRYABLE_4XX,
            status=status,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
        self.kind = kind


@register
class BlingConnector(Connector):
    kind = "bling"
    default_status_out = DEFAULT_STATUS_OUT

    # --- auth and HTTP ---------------------------------------------------------------------------

    def _token_url(self) -> str:
        return str(self.option("token_url", "") or f"{self.base_url}/oauth/token")

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
    ) -> Any:
        """One API call (renewing the token once on 401); returns the parsed JSON or ``None``."""
        what = f"bling {method} {path.split('?')[0]}"
        url = f"{self.base_url}{path}"
        for attempt in (1, 2):
            token = self.credential("access_token")
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = self.http.request(method, url, params=params, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise transport_error(exc, what=what) from exc
            if response.status_code == 401 and attempt == 1:
                self._renew_token(token)
                continue
            break
        if response.status_code == 401:
            raise DeliveryError(
                f"{what}: Bling refused the access token even after renewing it; authorize the app again.",
                retryable=False,
                status=401,
            )
        if not response.is_success:
            raise BlingError(what, response)
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            # A 2xx that is not JSON is a proxy or maintenance page, not Bling's answer: try later.
            raise DeliveryError(
                f"{what}: answer is not JSON: {response.text[:200]!r}", retryable=True
            ) from None

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self._call(method, path, **kwargs)
        if not isinstance(answer, dict) or "data" not in answer:
            raise DeliveryError(f"bling {method} {path}: answer has no data envelope", retryable=True)
        return answer["data"]

    def _stored_credentials(self) -> dict[str, Any]:
        """The channel's credentials as stored now (another worker may have renewed the token)."""
        manager = getattr(type(self.channel), "objects", None)
        pk = getattr(self.channel, "pk", None)
        if manager is not None and pk is not None:
            stored = manager.filter(pk=pk).values_list("credentials", flat=True).first()
            if isinstance(stored, dict):
                return dict(stored)
        return dict(self.channel.credentials or {})

    def _save_credentials(self, credentials: dict[str, Any]) -> None:
        self.channel.credentials = credentials
        manager = getattr(type(self.channel), "objects", None)
        pk = getattr(self.channel, "pk", None)
        if manager is not None and pk is not None:
            manager.filter(pk=pk).update(credentials=credentials)

    def _renew_token(self, rejected: str) -> None:
        """Get a new access token with the refresh token (or adopt one another worker got)."""
        stored = self._stored_credentials()
        if stored.get("access_token") and stored["access_token"] != rejected:
            self.channel.credentials = stored
            return
        refresh = str(stored.get("refresh_token") or "")
        if not refresh:
            raise DeliveryError(
                "bling: the access token was refused and the channel has no refresh_token;"
                " authorize the app again.",
                retryable=False,
                status=401,
            )
        what = "bling POST /oauth/token"
        try:
            response = self.http.post(
                self._token_url(),
                data={"grant_type": "refresh_token", "refresh_token": refresh},
                auth=(self.credential("client_id"), self.credential("client_secret")),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc, what=what) from exc
        if response.status_code in (400, 401):
            error = BlingError(what, response)
            raise DeliveryError(
                f"{error.detail}: the refresh token was refused; authorize the app again.",
                retryable=False,
                status=response.status_code,
            )
        if not response.is_success:
            raise BlingError(what, response)
        try:
            answer = response.json()
            access = str(answer["access_token"])
        except (ValueError, KeyError, TypeError):
            raise DeliveryError(f"{what}: answer has no access_token", retryable=True) from None
        renewed = {
            **stored,
            "access_token": access,
            "refresh_token": str(answer.get("refresh_token") or refresh),
        }
        if answer.get("expires_in"):
            expires = datetime.now(BRASILIA) + timedelta(seconds=float(answer["expires_in"]))
            renewed["access_token_expires_at"] = expires.replace(microsecond=0).isoformat()
        self._save_credentials(renewed)

    # --- situações -----------------------------------------------------------------------------

    def situacoes(self) -> dict[str, str]:
        """The account's situações of the Vendas module: ``{id: nome}``."""
        module = str(self.option("vendas_module_id", "") or "")
        if not module:
            modules = self._data("GET", "/situacoes/modulos") or []
            found = [
                m
                for m in modules
                if isinstance(m, dict) and str(m.get("nome", "")).strip().lower() == "vendas"
            ]
            if not found:
                raise DeliveryError(
                    "bling: this account has no Vendas module in /situacoes/modulos", retryable=False
                )
            module = id_text(found[0].get("id"))
        rows = self._data("GET", f"/situacoes/modulos/{module}") or []
        return {id_text(row.get("id")): str(row.get("nome") or "") for row in rows if isinstance(row, dict)}

    def _explain_refusal(self, exc: BlingError, target: str, status: str) -> DeliveryError:
        """A refused situação: name the account's situações when the id is not one of them."""
        if exc.status not in (400, 404):
            return exc
        try:
            known = self.situacoes()
        except DeliveryError:
            return exc
        if target in known:
            return exc
        listing = ", ".join(f"{sid} {name}" for sid, name in known.items())
        return DeliveryError(
            f"bling: situação {target} (mapped from {status!r}) is not a Vendas situação of this Bling"
            f" account (known: {listing}); fix the channel's status map. Bling said: {exc.detail}",
            retryable=False,
            status=exc.status,
        )

    def _status_for(self, situacao_id: str, valor: Any) -> str:
        own = (self.channel.status_map or {}).get("in", {})
        if situacao_id in own:
            return str(own[situacao_id] or "")
        try:
            return STATUS_BY_VALOR.get(int(valor), "")
        except (TypeError, ValueError):
            return ""

    # --- outbound ------------------------------------------------------------------------------

    def push_order(self, snapshot: dict[str, Any], *, idempotency_key: str) -> str:
        """Create the order unless a copy with this numeroLoja exists; returns Bling's id."""
        numero_loja = self._numero_loja(snapshot)
        status = str(snapshot.get("status") or "")
        found = self._find_by_numero_loja(numero_loja)
        if found is not None:
            self._advance(found, status)
            return found
        target = self.status_out(status) if self.option("send_situacao", True) else None
        body = self._pedido_body(snapshot, numero_loja, self._contato_id(snapshot), target)
        try:
            answer = self._data("POST", "/pedidos/vendas", body=body)
        except BlingError as exc:
            if target:
                raise self._explain_refusal(exc, str(target), status) from exc
            raise
        new_id = id_text((answer or {}).get("id") if isinstance(answer, dict) else None)
        if new_id == NO_NOTA:
            # Accepted without an id: the retry's look-up finds the copy if one was made.
            raise DeliveryError("bling POST /pedidos/vendas: 2xx without an id", retryable=True)
        if status and status == self.option("generate_nfe_on", ""):
            self._generate_nfe(new_id)
        return new_id

    def _numero_loja(self, snapshot: Mapping[str, Any]) -> str:
        if self.option("numero_loja", "number") == "external_id" and snapshot.get("external_id"):
            return str(snapshot["external_id"])
        return str(snapshot["number"])

    def _find_by_numero_loja(self, numero_loja: str) -> str | None:
        rows = self._data("GET", "/pedidos/vendas", params={"numerosLojas[]": numero_loja}) or []
        ids = [
            id_text(row.get("id"))
            for row in rows
            if isinstance(row, dict) and str(row.get("numeroLoja") or "").strip() == numero_loja
        ]
        ids = [pedido_id for pedido_id in ids if pedido_id != NO_NOTA]
        # Several copies can only predate this connector; the oldest is the one Malote uses.
        return min(ids, key=lambda pedido_id: (len(pedido_id), pedido_id)) if ids else None

    def _contato_id(self, snapshot: Mapping[str, Any]) -> int:
        """The contato for the customer: found by CPF/CNPJ, else created."""
        customer = snapshot.get("customer") or {}
        document = _digits(customer.get("document"))
        if document:
            rows = self._data("GET", "/contatos", params={"numeroDocumento": document}) or []
            for row in rows:
                if isinstance(row, dict) and _digits(row.get("numeroDocumento")) == document:
                    return int(id_text(row.get("id")))
        address = snapshot.get("billing_address") or snapshot.get("shipping_address") or {}
        body = {
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
        created = self._data("POST", "/contatos", body=body)
        contato_id = id_text((created or {}).get("id") if isinstance(created, dict) else None)
        if contato_id == NO_NOTA:
            raise DeliveryError("bling POST /contatos: 2xx without an id", retryable=True)
        return int(contato_id)

    def _pedido_body(
        self, snapshot: Mapping[str, Any], numero_loja: str, contato_id: int, situacao: str | None
    ) -> dict[str, Any]:
        customer = snapshot.get("customer") or {}
        document = _digits(customer.get("document"))
        shipping = snapshot.get("shipping_address") or snapshot.get("billing_address") or {}
        items = snapshot.get("items") or []
        placed = _date(snapshot.get("placed_at"))
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
            "outrasDespesas": _number(decimal_or_zero(snapshot.get("tax"))),
            "observacoes": reference,
            "observacoesInternas": f"Malote: pedido {snapshot['number']}",
            "desconto": {"valor": _number(discount), "unidade": "REAL"},
            "itens": [
                {
                    "codigo": str(item["sku"]),
                    "unidade": "UN",
                    "quantidade": item["quantity"],
                    "valor": _number(decimal_or_zero(item["unit_price"])),
                    "descricao": str(item["name"]),
                }
                for item in items
            ],
            "transporte": {
                "fretePorConta": 0,
                "frete": _number(decimal_or_zero(snapshot.get("shipping_price"))),
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
            "valor": _number(decimal_or_zero(snapshot.get("total"))),
            "observacoes": " ".join(
                str(part) for part in (payment.get("method"), payment.get("transaction_id")) if part
            ),
        }
        forma = self.option("formas_pagamento", {}).get(str(payment.get("method") or ""))
        if forma:
            parcela["formaPagamento"] = {"id": int(forma)}
        body["parcelas"] = [parcela]
        if self.option("loja_id", None):
            body["loja"] = {"id": int(self.option("loja_id", 0))}
        if situacao:
            body["situacao"] = {"id": int(situacao)}
        return body

    def _pedido(self, pedido_id: str) -> dict[str, Any]:
        pedido = self._data("GET", f"/pedidos/vendas/{pedido_id}")
        if not isinstance(pedido, dict):
            raise DeliveryError(
                f"bling GET /pedidos/vendas/{pedido_id}: no pedido in the answer", retryable=True
            )
        return pedido

    def _moves_forward(self, situacao: Mapping[str, Any], target: str, status: str) -> bool:
        current = id_text(situacao.get("id"))
        if current == target:
            return False
        current_status = self._status_for(current, situacao.get("valor"))
        if current_status == "canceled":
            return False  # nothing revives a canceled order
        if status == "canceled" or current_status not in RANK or status not in RANK:
            return True
        return RANK[status] > RANK[current_status]

    def _advance(self, pedido_id: str, status: str) -> dict[str, Any] | None:
        """Move Bling's order to ``status``'s situação when that is forward; returns the pedido read."""
        target = self.status_out(status)
        if not target:
            return None  # no situação for it: nothing to tell
        target = id_text(target)
        pedido = self._pedido(pedido_id)
        if self._moves_forward(pedido.get("situacao") or {}, target, status):
            try:
                self._call("PATCH", f"/pedidos/vendas/{pedido_id}/situacoes/{target}")
            except BlingError as exc:
                raise self._explain_refusal(exc, target, status) from exc
        if (
            status
            and status == self.option("generate_nfe_on", "")
            and id_text((pedido.get("notaFiscal") or {}).get("id")) == NO_NOTA
        ):
            self._generate_nfe(pedido_id)
        return pedido

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, str(snapshot.get("change_status") or snapshot["status"]))

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        # API v3 has no call to attach an NF-e issued elsewhere: only the situação moves.
        self._advance(external_id, "invoiced")

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "shipped")

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "delivered")

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "canceled")

    def _generate_nfe(self, pedido_id: str) -> str:
        answer = self._call("POST", f"/pedidos/vendas/{pedido_id}/gerar-nfe")
        data = answer.get("data", answer) if isinstance(answer, dict) else {}
        return id_text((data or {}).get("idNotaFiscal") if isinstance(data, dict) else None)

    def request_invoice(self, external_id: str) -> str:
        """Ask Bling to issue the order's NF-e now; returns the NF-e id (``"0"`` if not given).
        For the back office; automatic issuing is the ``generate_nfe_on`` option."""
        return self._generate_nfe(external_id)

    # --- inbound -------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        credentials = self.channel.credentials or {}
        secret = str(credentials.get("webhook_secret") or credentials.get("client_secret") or "")
        if not secret:
            raise WebhookRejected(
                "This Bling channel has no client_secret to verify webhooks.",
                code="webhook_secret_not_configured",
            )
        given = next((str(v) for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        if not given:
            raise WebhookRejected(f"Missing {SIGNATURE_HEADER} header.", code="webhook_signature_missing")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            raise WebhookRejected("Webhook signature does not match.", code="webhook_signature_invalid")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        envelope = json.loads(body)
        if not isinstance(envelope, dict):
            raise ValueError("a Bling webhook is a JSON object")
        event, data = str(envelope.get("event") or ""), envelope.get("data")
        if not event or not isinstance(data, dict):
            raise ValueError("a Bling webhook needs event and data")
        resource, _, action = event.partition(".")
        if resource == "order":
            pedido_id = id_text(data.get("id"))
            if pedido_id == NO_NOTA:
                raise ValueError("a Bling order webhook needs data.id")
            if action == "deleted":
                return [
                    InboundChange(
                        event_id=f"{pedido_id}:deleted", external_id=pedido_id, remote_status="deleted"
                    )
                ]
            return [self._change_from_pedido(self._pedido(pedido_id))]
        if resource == "invoice":
            nfe_id = id_text(data.get("id"))
            if nfe_id == NO_NOTA:
                raise ValueError("a Bling invoice webhook needs data.id")
            owner = self._pedido_of_nfe(nfe_id)
            return [] if owner is None else [self._change_from_pedido(self._pedido(owner))]
        return []  # stock, products…: nothing Malote follows

    def _pedido_of_nfe(self, nfe_id: str) -> str | None:
        nfe = self._data("GET", f"/nfe/{nfe_id}")
        numero_loja = str((nfe or {}).get("numeroPedidoLoja") or "").strip() if isinstance(nfe, dict) else ""
        return self._find_by_numero_loja(numero_loja) if numero_loja else None

    def _change_from_pedido(self, pedido: Mapping[str, Any]) -> InboundChange:
        pedido_id = id_text(pedido.get("id"))
        situacao = pedido.get("situacao") or {}
        situacao_id = id_text(situacao.get("id"))
        status = self._status_for(situacao_id, situacao.get("valor"))
        nota_id = id_text((pedido.get("notaFiscal") or {}).get("id"))
        facts: dict[str, Any] = {}
        if status == "canceled":
            facts = {
                "cancel_reason": "channel",
                "note": f"Cancelado no Bling (pedido {pedido.get('numero') or pedido_id})",
            }
        else:
            if nota_id != NO_NOTA:
                invoice = self._invoice_facts(nota_id)
                if invoice is not None:
                    facts["invoice"] = invoice
                    if RANK.get(status, -1) < RANK["invoiced"]:
                        status = "invoiced"  # an authorized NF-e is an invoiced order, whatever the situação
                else:
                    nota_id = f"{nota_id}-pendente"
            shipment = self._shipment_facts(pedido)
            if shipment:
                facts["shipment"] = shipment
            if status == "delivered":
                facts["delivered_at"] = datetime.now(BRASILIA).replace(microsecond=0).isoformat()
        return InboundChange(
            event_id=f"{pedido_id}:{situacao_id}:{nota_id}",
            external_id=pedido_id,
            remote_status=situacao_id,
            status=status,
            facts=facts,
        )

    def _invoice_facts(self, nfe_id: str) -> dict[str, Any] | None:
        """The authorized NF-e as ``facts.invoice``, or ``None`` while it is not authorized."""
        nfe = self._data("GET", f"/nfe/{nfe_id}")
        if not isinstance(nfe, dict):
            return None
        authorized = {int(value) for value in self.option("nfe_authorized_situacoes", [5, 6])}
        try:
            situacao = int(nfe.get("situacao") or 0)
        except (TypeError, ValueError):
            situacao = 0
        key = _digits(nfe.get("chaveAcesso"))
        if situacao not in authorized or len(key) != 44:
            return None
        xml = self._nfe_xml(str(nfe.get("xml") or ""))
        issued_at = None
        if xml:
            try:
                issued_at = fiscal.parse_nfe_xml(xml).issued_at.isoformat()
            except fiscal.FiscalError:
                issued_at = None  # the invoice transition reports what is wrong with the XML
        if issued_at is None:
            issued_at = self._issued_at(str(nfe.get("dataEmissao") or ""))
        invoice: dict[str, Any] = {
            "key": key,
            "number": str(int(decimal_or_zero(nfe.get("numero")))),
            "series": str(int(decimal_or_zero(nfe.get("serie")))),
            "issued_at": issued_at,
        }
        if xml:
            invoice["xml"] = xml
        return invoice

    def _nfe_xml(self, link: str) -> str:
        """The authorized XML behind the NF-e's ``xml`` link (no token sent: it may be another host)."""
        if not link.startswith(("http://", "https://")) or not self.option("fetch_nfe_xml", True):
            return ""
        try:
            response = self.http.get(link, headers={"Accept": "application/xml"})
        except httpx.HTTPError as exc:
            raise transport_error(exc, what="bling NF-e XML") from exc
        if response.status_code >= 500 or response.status_code in RETRYABLE_4XX:
            raise DeliveryError(f"bling NF-e XML: HTTP {response.status_code}", retryable=True)
        text = response.text if response.is_success else ""
        start, end = text.find("<nfeProc"), text.rfind("</nfeProc>")
        if start >= 0 and end > start:
            return text[start : end + len("</nfeProc>")]
        return text.strip() if text.lstrip().startswith("<") else ""

    @staticmethod
    def _issued_at(text: str) -> str | None:
        for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
            try:
                return datetime.strptime(text.strip(), layout).replace(tzinfo=BRASILIA).isoformat()
            except ValueError:
                continue
        return None

    @staticmethod
    def _shipment_facts(pedido: Mapping[str, Any]) -> dict[str, Any] | None:
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

    def fetch_order(self, external_id: str) -> InboundChange:
        """The order as it is in Bling now (``BlingError`` 404 when it is not there)."""
        return self._change_from_pedido(self._pedido(external_id))

    # --- listings --------------------------------------------------------------------------------

    def _listing(self, since: datetime, page: int) -> list[dict[str, Any]]:
        params = {
            "dataAlteracaoInicial": since.astimezone(BRASILIA).strftime("%Y-%m-%d %H:%M:%S"),
            "pagina": str(page),
            "limite": str(self._page_size()),
        }
        rows = self._data("GET", "/pedidos/vendas", params=params) or []
        return [row for row in rows if isinstance(row, dict)]

    def _page_size(self) -> int:
        return int(self.option("page_size", PAGE_SIZE))

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders changed since ``since``, one page per call (``cursor`` = the next page number)."""
        page = int(cursor or "1")
        rows = self._listing(self._moment(since), page)
        orders = []
        for row in rows:
            situacao = row.get("situacao") or {}
            situacao_id = id_text(situacao.get("id"))
            placed = self._issued_at(str(row.get("data") or "")) or ""
            orders.append(
                ListedOrder(
                    external_id=id_text(row.get("id")),
                    reference=str(row.get("numeroLoja") or ""),
                    remote_status=situacao_id,
                    status=self._status_for(situacao_id, situacao.get("valor")),
                    placed_at=placed,
                    total=f"{decimal_or_zero(row.get('total')):.2f}",
                )
            )
        more = len(rows) >= self._page_size()
        return OrderListing(orders, str(page + 1) if more else None, more=more)

    # Cursor: "<since ISO>" between polls; "<since ISO>;page=<n>;next=<ISO>" inside a listing,
    # where ``next`` is when the listing started (the next poll starts there, minus the overlap).
    def pull_changes(self, cursor: str | None) -> PullResult:
        now = datetime.now(BRASILIA).replace(microsecond=0)
        since, page, started = self._read_cursor(cursor, now)
        following = max(since, started - timedelta(seconds=float(self.option("poll_overlap_seconds", 60))))
        rows = self._listing(since, page)
        changes = []
        for row in rows:
            try:
                pedido = self._pedido(id_text(row.get("id")))
            except BlingError as exc:
                if exc.status == 404:
                    continue  # gone since the listing
                raise
            changes.append(self._change_from_pedido(pedido))
        if len(rows) >= self._page_size():
            cursor = f"{since.isoformat()};page={page + 1};next={started.isoformat()}"
            return PullResult(changes, cursor, more=True)
        return PullResult(changes, following.isoformat(), more=False)

    def _read_cursor(self, cursor: str | None, now: datetime) -> tuple[datetime, int, datetime]:
        if not cursor:
            return now - timedelta(hours=float(self.option("poll_lookback_hours", 24))), 1, now
        head, *rest = cursor.split(";")
        parts = dict(part.split("=", 1) for part in rest if "=" in part)
        started = self._moment(parts["next"]) if "next" in parts else now
        return self._moment(head), int(parts.get("page", "1")), started

    @staticmethod
    def _moment(text: str) -> datetime:
        moment = datetime.fromisoformat(text.strip())
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=BRASILIA)
