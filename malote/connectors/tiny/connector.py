"""The Tiny ERP provider: receives Malote's orders and reports back the NF-e, the shipment, the
delivery and cancellations. Pushes only ever move Tiny's order forward; inbound changes (webhook
or poll) share one ``event_id`` per (pedido, situação, nota) so they de-duplicate each other.
See docs/connectors/tiny.md.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
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
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.payload import load_json
from malote.connectors.registry import register
from malote.connectors.tiny.client import (
    DUPLICATE,
    NO_RECORDS,
    NO_SUCH_PAGE,
    NOT_FOUND,
    TinyClient,
    TinyError,
)
from malote.connectors.tiny.mapping import (
    BRASILIA,
    DEFAULT_STATUS_IN,
    DEFAULT_STATUS_OUT,
    FORMAS_PAGAMENTO,
    NEEDS_FACTS,
    br_date,
    day_moment,
    fold,
    moves_forward,
    nota_issued_at,
    parse_br_date,
    parse_moment,
    pedido_body,
    shipment_facts,
    situacao_code,
)
from malote.connectors.values import (
    decimal_or_zero,
    id_text,
    reference_forms,
    sale_references,
    same_reference,
)
from malote.sync.errors import DeliveryError


@register
class TinyConnector(Connector):
    kind = "tiny"
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
    default_status_in = DEFAULT_STATUS_IN

    @property
    def api(self) -> TinyClient:
        suffix = str(self.option("service_suffix", ".php"))
        return TinyClient(self.http, self.base_url, token=self.credential("token"), suffix=suffix)

    def _not_found(self, exc: TinyError) -> bool:
        return exc.code in {int(code) for code in self.option("not_found_codes", [NOT_FOUND])}

    # --- outbound ------------------------------------------------------------------------------

    def push_order(self, snapshot: dict[str, Any], *, idempotency_key: str) -> str:
        """Create the order unless Tiny already has the sale; returns Tiny's id.

        The sale is looked up by Malote's number and by the store's own references (the sales
        channel's order number, however it was written: see ``_find_existing``), so an order typed in
        by hand or put there by a previous integration is linked, not copied."""
        number = str(snapshot["number"])
        found = self._find_existing(snapshot)
        if found is not None:
            return found
        formas = {**FORMAS_PAGAMENTO, **self.option("formas_pagamento", {})}
        # The status Malote tells Tiny (``change_status``: the latest of the order's path Tiny has a
        # word for, what the divergence check expects), else the order's own.
        situacao = self.status_out(str(snapshot.get("change_status") or snapshot.get("status") or ""))
        body: dict[str, Any] = {"pedido": pedido_body(snapshot, formas=formas, situacao=situacao)}
        if self.option("incluir_envelope", "pedido") == "pedidos":
            body = {"pedidos": [body]}
        try:
            retorno = self.api.call("pedido.incluir", pedido=json.dumps(body, ensure_ascii=False))
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

    def find_order(self, snapshot: dict[str, Any]) -> str | None:
        return self._find_existing(snapshot)

    def _find_existing(self, snapshot: Mapping[str, Any]) -> str | None:
        """Tiny's id for the sale, if Tiny has it: by Malote's number (what Malote itself sends as
        ``numero_pedido_ecommerce``), then by the store's references. With the customer's CPF/CNPJ
        that is one search (``cpf_cnpj``) among whose orders one whose e-commerce number is a
        reference however written; without it, one exact search (``numeroEcommerce``) per spelling
        (``reference_forms``). Two or a few searches: Tiny's per-minute quota is small."""
        number = str(snapshot["number"])
        found = self._find_by_ecommerce_number(number)
        references = sale_references(snapshot)
        if found is not None or not references:
            return found

        def is_reference(numero: str) -> bool:
            return any(same_reference(numero, reference) for reference in references)

        customer = snapshot.get("customer") or {}
        document = "".join(char for char in str(customer.get("document") or "") if char.isdigit())
        if document:
            return self._search("cpf_cnpj", document, is_reference)
        forms = dict.fromkeys(form for reference in references for form in reference_forms(reference))
        for form in forms:
            if form != number and (found := self._search("numeroEcommerce", form, is_reference)) is not None:
                return found
        return None

    def _find_by_ecommerce_number(self, number: str) -> str | None:
        return self._search("numeroEcommerce", number, lambda numero: numero == number)

    def _search(self, filter_name: str, value: str, matches: Callable[[str], bool]) -> str | None:
        """The lowest id among the first page of ``pedidos.pesquisa?<filter>=<value>`` whose
        ``numero_ecommerce`` ``matches``; ``None`` when there is none."""
        try:
            retorno = self.api.call("pedidos.pesquisa", **{filter_name: value})
        except TinyError as exc:
            if exc.code == NO_RECORDS:
                return None
            raise
        ids = [
            id_text(entry["pedido"].get("id"))
            for entry in retorno.get("pedidos") or []
            if isinstance(entry, dict)
            and isinstance(entry.get("pedido"), dict)
            and matches(str(entry["pedido"].get("numero_ecommerce") or "").strip())
        ]
        ids = [pedido_id for pedido_id in ids if pedido_id != "0"]
        # Several copies can only predate this connector; the first one is the one Malote uses.
        return min(ids, key=lambda pedido_id: (len(pedido_id), pedido_id)) if ids else None

    def _advance(self, external_id: str, status: str, pedido: dict[str, Any] | None = None) -> None:
        target = self.status_out(status)
        if not target:
            return  # Tiny has no word for it: nothing to tell
        target = situacao_code(target)
        current = situacao_code(
            (pedido if pedido is not None else self.api.pedido(external_id)).get("situacao")
        )
        if moves_forward(current, target):
            self.api.call("pedido.alterar.situacao", id=external_id, situacao=target)

    def push_status(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, str(snapshot.get("change_status") or snapshot["status"]))

    def push_invoice(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "invoiced")

    def push_shipment(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        pedido = self.api.pedido(external_id)
        shipment = snapshot.get("shipment") or {}
        code = str(shipment.get("tracking_code") or "").strip()
        if code and code != str(pedido.get("codigo_rastreamento") or "").strip():
            params = {"id": external_id, "codigo_rastreamento": code}
            if shipment.get("shipped_at"):
                params["data_envio"] = br_date(shipment["shipped_at"])
            if shipment.get("tracking_url"):
                params["url_rastreamento"] = str(shipment["tracking_url"])
            self.api.call("pedido.cadastrar.codigo.rastreamento", **params)
        self._advance(external_id, "shipped", pedido)

    def push_delivery(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "delivered")

    def push_cancellation(self, external_id: str, snapshot: dict[str, Any], *, idempotency_key: str) -> None:
        self._advance(external_id, "canceled")

    def request_invoice(self, external_id: str, *, modelo: str = "NFe") -> dict[str, Any]:
        """Ask Tiny to issue the order's NF-e (``nfe_service``); returns ``{idNotaFiscal, numero,
        serie}``. Not used by delivery (the ERP's operator invoices); for the back office."""
        service = str(self.option("nfe_service", "gerar.nota.fiscal.pedido"))
        retorno = self.api.call(service, id=external_id, modelo=modelo)
        registros = retorno.get("registros") or [{}]
        registro = registros[0].get("registro") if isinstance(registros[0], dict) else None
        return dict(registro or {})

    # --- inbound -------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        expected = str((self.channel.credentials or {}).get("webhook_token") or "")
        if not expected:
            raise WebhookRejected(
                "This Tiny channel has no webhook_token configured.",
                code=ConnectorErrorCode.WEBHOOK_TOKEN_NOT_CONFIGURED,
            )
        given = str(query.get("token") or "")
        if not given:
            raise WebhookRejected(
                "Missing token query parameter.", code=ConnectorErrorCode.WEBHOOK_TOKEN_MISSING
            )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected(
                "Webhook token does not match.", code=ConnectorErrorCode.WEBHOOK_TOKEN_INVALID
            )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        data = load_json(body)
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
                pedido = self.api.pedido(pedido_id)
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
        shipment = shipment_facts(pedido, now)
        if shipment:
            facts["shipment"] = shipment
        if situacao == "entregue":
            facts["delivered_at"] = day_moment(pedido.get("data_entrega"), now) or now.isoformat()
        if situacao == "nao_entregue":
            facts["problem"] = f"Não entregue (Tiny ERP, pedido {pedido.get('numero') or pedido.get('id')})"
        return facts

    def _invoice_facts(self, nota_id: str) -> dict[str, Any] | None:
        service = str(self.option("nfe_get_service", "nota.fiscal.obter"))
        nota = self.api.call(service, id=nota_id).get("nota_fiscal")
        if not isinstance(nota, dict):
            return None
        key = "".join(char for char in str(nota.get("chave_acesso") or "") if char.isdigit())
        if len(key) != 44 or "cancel" in fold(str(nota.get("situacao") or "")):
            return None  # not authorized yet, or canceled: not an invoice for the order
        xml = str(nota.get("xml_nfe") or "") or self._nota_xml(nota_id)
        issued_at = None
        if xml:
            try:
                issued_at = fiscal.parse_nfe_xml(xml).issued_at.isoformat()
            except fiscal.FiscalError:
                issued_at = None  # the invoice transition reports what is wrong with the XML
        if issued_at is None:
            issued_at = nota_issued_at(nota)
        invoice: dict[str, Any] = {
            "key": key,
            "number": str(int(decimal_or_zero(nota.get("numero")))),
            "series": str(int(decimal_or_zero(nota.get("serie")))),
            "issued_at": issued_at,
        }
        if xml:
            invoice["xml"] = xml
        return invoice

    def _change_from_pedido(self, pedido: dict[str, Any]) -> InboundChange:
        situacao = situacao_code(pedido.get("situacao"))
        return self._change(
            id_text(pedido.get("id")), situacao, id_text(pedido.get("id_nota_fiscal")), pedido
        )

    def fetch_order(self, external_id: str) -> InboundChange:
        """The order as it is in Tiny now (``TinyError`` with the not-found code if it is not)."""
        return self._change_from_pedido(self.api.pedido(external_id))

    def list_orders(self, since: str, cursor: str | None = None) -> OrderListing:
        """Orders changed since ``since`` (``pedidos.pesquisa`` by ``dataAtualizacao``), one page of
        the listing per call; ``cursor`` is the next page number. ``reference`` is the e-commerce
        number (Malote's order number for the orders Malote sent). The summary is enough: no order
        is read in full, so a reconciliation of thousands of orders costs one call per 50."""
        page = int(cursor or 1)
        try:
            retorno = self.api.call(
                "pedidos.pesquisa",
                dataAtualizacao=parse_moment(since).astimezone(BRASILIA).strftime("%d/%m/%Y %H:%M:%S"),
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
                day = parse_br_date(raw_day)
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
            retorno = self.api.call(
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
                pedido = self.api.pedido(id_text(summary.get("id")))
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
        since = parse_moment(head)
        parts = dict(part.split("=", 1) for part in rest if "=" in part)
        started = parse_moment(parts["next"]) if "next" in parts else now
        return since, int(parts.get("page", "1")), started

    def _nota_xml(self, nota_id: str) -> str:
        service = str(self.option("nfe_xml_service", "nota.fiscal.obter.xml"))
        return self.api.nota_xml(service, nota_id) if service else ""
