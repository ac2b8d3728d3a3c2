"""The Bling ERP provider: receives Malote's orders, issues their NF-e and reports the invoice and
cancellations back. Orders are created once (looked up by ``numeroLoja`` first) and pushes only
ever move Bling's situação forward. See docs/connectors/bling.md.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from malote import fiscal
from malote.connectors.base import (
    Capability,
    Connector,
    InboundChange,
    ListedOrder,
    OrderListing,
    PullResult,
    WebhookRejected,
)
from malote.connectors.bling.client import BlingClient, BlingError
from malote.connectors.bling.mapping import (
    BRASILIA,
    DEFAULT_STATUS_OUT,
    NO_NOTA,
    PAGE_SIZE,
    RANK,
    STATUS_BY_VALOR,
    contato_body,
    digits,
    parse_bling_time,
    parse_moment,
    pedido_body,
    shipment_facts,
)
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.payload import load_json
from malote.connectors.registry import register
from malote.connectors.values import (
    decimal_or_zero,
    id_text,
    reference_forms,
    sale_references,
    same_reference,
)
from malote.sync.errors import DeliveryError

SIGNATURE_HEADER = "X-Bling-Signature-256"


@register
class BlingConnector(Connector):
    kind = "bling"
    capabilities = frozenset(
        {
            Capability.RECEIVE_WEBHOOKS,
            Capability.PULL_CHANGES,
            Capability.FETCH_ORDER,
            Capability.LIST_ORDERS,
            Capability.PUSH_ORDER,
            Capability.FIND_ORDER,
            Capability.PUSH_STATUS,
            Capability.PUSH_INVOICE,
            Capability.PUSH_SHIPMENT,
            Capability.PUSH_DELIVERY,
            Capability.PUSH_CANCELLATION,
        }
    )
    default_status_out = DEFAULT_STATUS_OUT

    @property
    def api(self) -> BlingClient:
        token_url = str(self.option("token_url", "") or f"{self.base_url}/oauth/token")
        return BlingClient(
            self.http, self.base_url, channel=self.channel, credential=self.credential, token_url=token_url
        )

    # --- situações -----------------------------------------------------------------------------

    def situacoes(self) -> dict[str, str]:
        """The account's situações of the Vendas module: ``{id: nome}``."""
        module = str(self.option("vendas_module_id", "") or "")
        if not module:
            modules = self.api.data("GET", "/situacoes/modulos") or []
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
        rows = self.api.data("GET", f"/situacoes/modulos/{module}") or []
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
        if self.status_map.knows(situacao_id):
            return self.status_in(situacao_id)
        try:
            return STATUS_BY_VALOR.get(int(valor), "")
        except (TypeError, ValueError):
            return ""

    # --- outbound ------------------------------------------------------------------------------

    def push_order(self, snapshot: dict[str, Any], *, idempotency_key: str) -> str:
        """Create the order unless Bling already has the sale; returns Bling's id.

        The sale is looked up by the ``numeroLoja`` Malote sends and by the store's own references
        however written (``_find_existing``), so an order typed in by hand or put there by a
        previous integration is linked, not copied."""
        numero_loja = self._numero_loja(snapshot)
        status = str(snapshot.get("status") or "")
        # The status Malote tells Bling (``change_status``: the latest of the order's path Bling has
        # a word for, what the divergence check expects), else the order's own. The NF-e follows
        # the order's own status: an order gone out of stock is not invoiced.
        told = str(snapshot.get("change_status") or status)
        found, contato_id = self._find_existing(snapshot, numero_loja)
        if found is not None:
            self._advance(found, told, issue_nfe=told == status)
            return found
        target = self.status_out(told) if self.option("send_situacao", True) else None
        body = pedido_body(
            snapshot,
            numero_loja,
            contato_id if contato_id is not None else self._create_contato(snapshot),
            target,
            formas=self.option("formas_pagamento", {}),
            loja_id=self.option("loja_id", None),
        )
        try:
            answer = self.api.data("POST", "/pedidos/vendas", body=body)
        except BlingError as exc:
            if target:
                raise self._explain_refusal(exc, str(target), told) from exc
            raise
        new_id = id_text((answer or {}).get("id") if isinstance(answer, dict) else None)
        if new_id == NO_NOTA:
            # Accepted without an id: the retry's look-up finds the copy if one was made.
            raise DeliveryError("bling POST /pedidos/vendas: 2xx without an id", retryable=True)
        if status and status == self.option("generate_nfe_on", ""):
            self._generate_nfe(new_id)
        return new_id

    def find_order(self, snapshot: dict[str, Any]) -> str | None:
        return self._find_existing(snapshot, self._numero_loja(snapshot))[0]

    def _numero_loja(self, snapshot: Mapping[str, Any]) -> str:
        if self.option("numero_loja", "number") == "external_id" and snapshot.get("external_id"):
            return str(snapshot["external_id"])
        return str(snapshot["number"])

    def _find_existing(self, snapshot: Mapping[str, Any], numero_loja: str) -> tuple[str | None, int | None]:
        """Bling's id for the sale, if Bling has it: one search by every spelling at once
        (``numerosLojas[]``: the ``numeroLoja`` Malote sends, Malote's number and each form of the
        store's references), then, when the customer is already a contato, among the customer's
        orders (``idContato``) one whose ``numeroLoja`` or ``numero`` is a reference however written.
        Returns the id found (or ``None``) and the customer's contato id when it was looked up."""
        references = [ref for ref in sale_references(snapshot) if ref != numero_loja]
        own = {numero_loja, str(snapshot["number"])}
        forms = list(dict.fromkeys([*own, *(form for ref in references for form in reference_forms(ref))]))
        rows = self.api.data("GET", "/pedidos/vendas", params={"numerosLojas[]": forms}) or []

        def ours(row: Mapping[str, Any]) -> bool:
            return str(row.get("numeroLoja") or "").strip() in own

        def theirs(row: Mapping[str, Any], *fields: str) -> bool:
            return any(same_reference(row.get(name), ref) for name in fields for ref in references)

        found = self._lowest_id(row for row in rows if ours(row)) or self._lowest_id(
            row for row in rows if theirs(row, "numeroLoja")
        )
        if found is not None:
            return found, None
        contato_id = self._find_contato(snapshot)
        if references and contato_id is not None:
            rows = self.api.data("GET", "/pedidos/vendas", params={"idContato": str(contato_id)}) or []
            found = self._lowest_id(row for row in rows if theirs(row, "numeroLoja", "numero"))
        return found, contato_id

    @staticmethod
    def _lowest_id(rows: Iterable[Any]) -> str | None:
        ids = [id_text(row.get("id")) for row in rows if isinstance(row, dict)]
        ids = [pedido_id for pedido_id in ids if pedido_id != NO_NOTA]
        # Several copies can only predate this connector; the oldest is the one Malote uses.
        return min(ids, key=lambda pedido_id: (len(pedido_id), pedido_id)) if ids else None

    def _find_by_numero_loja(self, numero_loja: str) -> str | None:
        rows = self.api.data("GET", "/pedidos/vendas", params={"numerosLojas[]": numero_loja}) or []
        return self._lowest_id(
            row
            for row in rows
            if isinstance(row, dict) and str(row.get("numeroLoja") or "").strip() == numero_loja
        )

    def _find_contato(self, snapshot: Mapping[str, Any]) -> int | None:
        """The customer's contato, found by CPF/CNPJ; ``None`` when there is none yet."""
        document = digits((snapshot.get("customer") or {}).get("document"))
        if document:
            rows = self.api.data("GET", "/contatos", params={"numeroDocumento": document}) or []
            for row in rows:
                if isinstance(row, dict) and digits(row.get("numeroDocumento")) == document:
                    return int(id_text(row.get("id")))
        return None

    def _create_contato(self, snapshot: Mapping[str, Any]) -> int:
        created = self.api.data("POST", "/contatos", body=contato_body(snapshot))
        contato_id = id_text((created or {}).get("id") if isinstance(created, dict) else None)
        if contato_id == NO_NOTA:
            raise DeliveryError("bling POST /contatos: 2xx without an id", retryable=True)
        return int(contato_id)

    def _pedido(self, pedido_id: str) -> dict[str, Any]:
        pedido = self.api.data("GET", f"/pedidos/vendas/{pedido_id}")
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

    def _advance(self, pedido_id: str, status: str, *, issue_nfe: bool = True) -> dict[str, Any] | None:
        """Move Bling's order to ``status``'s situação when that is forward (and, unless not
        ``issue_nfe``, ask for the NF-e at ``generate_nfe_on``); returns the pedido read."""
        target = self.status_out(status)
        if not target:
            return None  # no situação for it: nothing to tell
        target = id_text(target)
        pedido = self._pedido(pedido_id)
        if self._moves_forward(pedido.get("situacao") or {}, target, status):
            try:
                self.api.call("PATCH", f"/pedidos/vendas/{pedido_id}/situacoes/{target}")
            except BlingError as exc:
                raise self._explain_refusal(exc, target, status) from exc
        if (
            issue_nfe
            and status
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
        answer = self.api.call("POST", f"/pedidos/vendas/{pedido_id}/gerar-nfe")
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
                code=ConnectorErrorCode.WEBHOOK_SECRET_NOT_CONFIGURED,
            )
        given = next((str(v) for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        if not given:
            raise WebhookRejected(
                f"Missing {SIGNATURE_HEADER} header.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_MISSING
            )
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            raise WebhookRejected(
                "Webhook signature does not match.", code=ConnectorErrorCode.WEBHOOK_SIGNATURE_INVALID
            )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        envelope = load_json(body)
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
        nfe = self.api.data("GET", f"/nfe/{nfe_id}")
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
            shipment = shipment_facts(pedido)
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
        nfe = self.api.data("GET", f"/nfe/{nfe_id}")
        if not isinstance(nfe, dict):
            return None
        authorized = {int(value) for value in self.option("nfe_authorized_situacoes", [5, 6])}
        try:
            situacao = int(nfe.get("situacao") or 0)
        except (TypeError, ValueError):
            situacao = 0
        key = digits(nfe.get("chaveAcesso"))
        if situacao not in authorized or len(key) != 44:
            return None
        link = str(nfe.get("xml") or "")
        fetch = link.startswith(("http://", "https://")) and self.option("fetch_nfe_xml", True)
        xml = self.api.nfe_xml(link) if fetch else ""
        issued_at = None
        if xml:
            try:
                issued_at = fiscal.parse_nfe_xml(xml).issued_at.isoformat()
            except fiscal.FiscalError:
                issued_at = None  # the invoice transition reports what is wrong with the XML
        if issued_at is None:
            issued_at = parse_bling_time(str(nfe.get("dataEmissao") or ""))
        invoice: dict[str, Any] = {
            "key": key,
            "number": str(int(decimal_or_zero(nfe.get("numero")))),
            "series": str(int(decimal_or_zero(nfe.get("serie")))),
            "issued_at": issued_at,
        }
        if xml:
            invoice["xml"] = xml
        return invoice

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
        rows = self.api.data("GET", "/pedidos/vendas", params=params) or []
        return [row for row in rows if isinstance(row, dict)]

    def _page_size(self) -> int:
        return int(self.option("page_size", PAGE_SIZE))

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders changed since ``since``, one page per call (``cursor`` = the next page number)."""
        page = int(cursor or "1")
        rows = self._listing(parse_moment(since), page)
        orders = []
        for row in rows:
            situacao = row.get("situacao") or {}
            situacao_id = id_text(situacao.get("id"))
            placed = parse_bling_time(str(row.get("data") or "")) or ""
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
        started = parse_moment(parts["next"]) if "next" in parts else now
        return parse_moment(head), int(parts.get("page", "1")), started
