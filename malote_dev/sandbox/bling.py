"""Fake Bling ERP, API v3 (``/Api/v3/…``, JSON in a ``{"data": …}`` envelope, OAuth2 bearer).

Token refresh at ``POST /Api/v3/oauth/token``; errors in Bling's ``{"error": {"type", …}}``
envelope. Situações per module, contacts, sales orders (``/pedidos/vendas``: list, read, create,
``PATCH …/situacoes/{id}``, ``gerar-nfe``) and NF-e (``/nfe/{id}``, the authorized XML behind its
``xml`` link); NF-e keys and XML are valid (``malote_dev.testing.fiscal``). Webhooks
``order.*``/``invoice.*`` go to the ``webhook_url`` setting, signed ``X-Bling-Signature-256:
sha256=<hex HMAC-SHA256(raw body, client_secret)>``.

Control (the ERP operator): ``POST /_sandbox/orders``, ``…/{id}/situacao``, ``…/{id}/invoice``,
``…/{id}/cancel``, ``POST /_sandbox/situacoes``, ``POST /_sandbox/oauth/expire``; the
``drop_order_creation`` fault answers a normal 201 but stores nothing (an order never integrated).
``GET /_sandbox`` lists the routes and the settings; settings described as assumed switch what the vendor
leaves unconfirmed. The vendor's API: docs/connectors/bling.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from malote.fiscal import UF_CODES, FiscalError, parse_tax_document
from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body, days_ago
from malote_dev.sandbox.clock import BRASILIA, brasilia_now, iso_utc
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import Request, Response
from malote_dev.sandbox.seed import (
    ACCOUNT_CNPJ,
    ACCOUNT_NAME,
    DEMO_ORDERS,
    Customer,
    customer_from_json,
    product_by_sku,
)
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key

API_PREFIX = "/Api/v3"
PAGE_LIMIT = 100
DEFAULT_SITUACOES: dict[str, int] = {
    "Em aberto": 6,
    "Atendido": 9,
    "Cancelado": 12,
    "Em andamento": 15,
    "Venda Agenciada": 18,
    "Em digitação": 21,
    "Verificado": 24,
}
# The fixed meaning (``valor``) of Bling's own situações (as Bling's SDK defines them).
VALOR_BY_NAME: dict[str, int] = {
    "em aberto": 0,
    "atendido": 1,
    "cancelado": 2,
    "em andamento": 3,
    "faturado parcialmente": 5,
    "atendido parcialmente": 6,
    "aguardando pagamento": 7,
    "pagamento confirmado": 8,
    "em digitação": 10,
    "verificado": 11,
    "checkout parcial": 12,
}
COLORS = ("#E9DC40", "#3FB57A", "#CC3340", "#5186C9", "#A66ECC", "#8F8F8F", "#E98B40")
NFE_AUTORIZADA = 5
NFE_FAILED = "Não foi possível gerar a nota fiscal"
ECOMMERCE_LOJA_ID = 204_000_001
_CENT = Decimal("0.01")


def _demo_secret(label: str, length: int = 40) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:length]


def render(value: Any) -> Any:
    """Bling JSON from an internal record: ``_``-keys dropped, Decimals as JSON numbers."""
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items() if not str(key).startswith("_")}
    if isinstance(value, list):
        return [render(item) for item in value]
    if isinstance(value, Decimal):
        return float(value.quantize(_CENT))
    return value


class BlingFailure(Exception):
    """An API error answered with Bling's ``{"error": …}`` envelope."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        description: str = "",
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.description = description or message
        self.fields = fields or []


def _invalid(element: str, msg: str, code: int = 1) -> BlingFailure:
    field_error = {"code": code, "msg": msg, "element": element, "namespace": "VENDAS", "collection": []}
    return BlingFailure(400, "VALIDATION_ERROR", "Não foi possível salvar", msg, [field_error])


def _not_found(what: str) -> BlingFailure:
    return BlingFailure(404, "RESOURCE_NOT_FOUND", "Recurso não encontrado", f"{what} não encontrado")


def _decimal(value: Any, element: str) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool):
        raise _invalid(element, f"{element}: valor inválido")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(element, f"{element}: valor inválido ({value!r})") from None
    if not result.is_finite():
        raise _invalid(element, f"{element}: valor inválido ({value!r})")
    return result


def _date(value: Any, element: str) -> str:
    text = str(value or "").strip()
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise _invalid(element, f"{element}: data inválida {text!r} (use AAAA-MM-DD)") from None
    return text


def _moment_filter(text: str, end_of_day: bool = False) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS`` in Brasília; raises ``BlingFailure``."""
    text = text.strip()
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text, layout).replace(tzinfo=BRASILIA)
        except ValueError:
            continue
        if layout == "%Y-%m-%d" and end_of_day:
            moment += timedelta(days=1, seconds=-1)
        return moment
    raise _invalid("data", f"data inválida {text!r} (use AAAA-MM-DD [HH:MM:SS])")


@dataclass
class BlingState:
    """The account: situações, contatos, pedidos and NF-e by id, and the OAuth tokens."""

    situacoes: dict[int, dict[str, Any]] = field(default_factory=dict)
    contatos: dict[int, dict[str, Any]] = field(default_factory=dict)
    pedidos: dict[int, dict[str, Any]] = field(default_factory=dict)
    nfes: dict[int, dict[str, Any]] = field(default_factory=dict)
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    next_contato_id: int = 16_000_000_001
    next_pedido_id: int = 20_000_000_001
    next_numero: int = 1
    next_nfe_id: int = 21_000_000_001
    next_nfe_numero: int = 1
    next_situacao_id: int = 30
    rng: random.Random = field(default_factory=lambda: random.Random("malote-sandbox-bling"))


class BlingApp(FakeApp[BlingState]):
    kind: ClassVar[str] = "bling"
    api_prefix: ClassVar[str] = API_PREFIX + "/"
    extra_fault_kinds: ClassVar[frozenset[str]] = frozenset({"drop_order_creation"})
    settings: ClassVar[Mapping[str, Setting]] = {
        "client_id": Setting(_demo_secret("malote-demo bling client"), (str,), "OAuth client id"),
        "client_secret": Setting(
            _demo_secret("malote-demo bling secret", 60), (str,), "OAuth client secret; signs webhooks"
        ),
        "access_token": Setting(_demo_secret("malote-demo bling access"), (str,), "first access token"),
        "refresh_token": Setting(_demo_secret("malote-demo bling refresh"), (str,), "first refresh token"),
        "rotate_refresh_token": Setting(
            True, (bool,), "assumed: a refresh token works once; a new one is issued"
        ),
        "token_lifetime": Setting(21600, (int,), "expires_in of issued access tokens (seconds)"),
        "company_id": Setting(
            _demo_secret("malote-demo bling company", 32), (str,), "assumed: webhook companyId"
        ),
        "webhook_version": Setting("v1", (str,), "assumed: webhook version"),
        "account_cnpj": Setting(ACCOUNT_CNPJ, (str,), "the account's CNPJ (NF-e issuer)"),
        "account_name": Setting(ACCOUNT_NAME, (str,), "the account's legal name (NF-e issuer)"),
        "account_uf": Setting("SP", (str,), "the account's UF (cUF of the NF-e keys)"),
        "vendas_module_id": Setting(98310, (int,), "assumed: id of the Vendas module in /situacoes/modulos"),
        "situacoes": Setting(
            dict(DEFAULT_SITUACOES), (dict,), "assumed: the account's Vendas situações: name → id"
        ),
        "reject_duplicate_numero_loja": Setting(False, (bool,), "assumed: a repeated numeroLoja is a 400"),
        "nfe_sets_situacao": Setting(
            9, (int, type(None)), "assumed: situação id after the NF-e (null = none)"
        ),
        "nfe_generation_error": Setting(None, (str, type(None)), "gerar-nfe fails with this text"),
        "nfe_series": Setting(1, (int,), "series of the NF-e issued"),
        "generate_nfe_wrapped": Setting(True, (bool,), "assumed: gerar-nfe answers {data:{idNotaFiscal}}"),
        "list_newest_first": Setting(False, (bool,), "assumed: GET /pedidos/vendas lists by descending id"),
    }

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {
            "access_token": self.config.get_str("access_token"),
            "refresh_token": self.config.get_str("refresh_token"),
            "client_id": self.config.get_str("client_id"),
            "client_secret": self.config.get_str("client_secret"),
        }

    def _error(self, failure: BlingFailure) -> Response:
        error: dict[str, Any] = {
            "type": failure.kind,
            "message": failure.message,
            "description": failure.description,
        }
        if failure.fields:
            error["fields"] = failure.fields
        return Response.json({"error": error}, failure.status)

    def authenticate(self, request: Request) -> Response | None:
        if request.path == f"{API_PREFIX}/oauth/token":
            return None  # the token endpoint authenticates the client itself
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.state.access_tokens:
            return self._error(BlingFailure(401, "invalid_token", "invalid_token", "Invalid access token"))
        return None

    def error_response(self, request: Request, status: int) -> Response:
        return self._error(BlingFailure(status, "SERVER_ERROR", "Erro interno", "Tente novamente mais tarde"))

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        response = self._error(
            BlingFailure(
                429,
                "TOO_MANY_REQUESTS",
                "Limite de requisições atingido.",
                "Limite de requisições por segundo atingido, tente novamente mais tarde.",
            )
        )
        response.set_header("Retry-After", str(int(fault.params["retry_after"])))
        return response

    def not_found_response(self, request: Request) -> Response:
        return self._error(_not_found(f"Recurso {request.path}"))

    def bad_request_response(self, request: Request, detail: str) -> Response:
        return self._error(BlingFailure(400, "VALIDATION_ERROR", "Requisição inválida", detail))

    def webhook_headers(self, event: str, body: bytes) -> dict[str, str]:
        secret = self.config.get_str("client_secret").encode()
        return {"X-Bling-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()}

    def state_json(self) -> Any:
        return {
            "situacoes": list(self.state.situacoes.values()),
            "contatos": [render(contato) for contato in self.state.contatos.values()],
            "pedidos": [self._pedido_out(pedido) for pedido in self.state.pedidos.values()],
            "nfes": [self._nfe_out(nfe) for nfe in self.state.nfes.values()],
        }

    # ----------------------------------------------------------------- routing
    def add_routes(self) -> None:
        api = self.api.add
        api("POST", f"{API_PREFIX}/oauth/token", self._token)
        api("GET", f"{API_PREFIX}/situacoes/modulos", self._modulos)
        api("GET", f"{API_PREFIX}/situacoes/modulos/{{id:int}}", self._situacoes_do_modulo)
        api("GET", f"{API_PREFIX}/situacoes/{{id:int}}", self._situacao)
        api("GET", f"{API_PREFIX}/contatos", self._contatos)
        api("POST", f"{API_PREFIX}/contatos", self._criar_contato)
        api("GET", f"{API_PREFIX}/contatos/{{id:int}}", self._contato)
        api("GET", f"{API_PREFIX}/pedidos/vendas", self._pedidos)
        api("POST", f"{API_PREFIX}/pedidos/vendas", self._criar_pedido)
        api("GET", f"{API_PREFIX}/pedidos/vendas/{{id:int}}", self._pedido_get)
        api("PATCH", f"{API_PREFIX}/pedidos/vendas/{{id:int}}/situacoes/{{situacao}}", self._mudar_situacao)
        api("POST", f"{API_PREFIX}/pedidos/vendas/{{id:int}}/gerar-nfe", self._gerar_nfe)
        api("GET", f"{API_PREFIX}/nfe/{{id:int}}", self._nfe_get)
        self.public.add("GET", "/relatorios/nfe.xml.php", self._nfe_xml_file)
        control = self.control.add
        control("POST", "/_sandbox/orders", self._control_place_order)
        control("POST", "/_sandbox/orders/{id:int}/situacao", self._control_situacao)
        control("POST", "/_sandbox/orders/{id:int}/invoice", self._control_invoice)
        control("POST", "/_sandbox/orders/{id:int}/cancel", self._control_cancel)
        control("POST", "/_sandbox/situacoes", self._control_add_situacao)
        control("POST", "/_sandbox/oauth/expire", self._control_expire_tokens)

    def call_handler(self, request: Request, handler: Any) -> Response:
        try:
            response: Response = handler(request)
        except BlingFailure as failure:
            return self._error(failure)
        return response

    # ----------------------------------------------------------------- OAuth
    def _token(self, request: Request) -> Response:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
        expected = (self.config.get_str("client_id"), self.config.get_str("client_secret"))
        if scheme.lower() != "basic" or not (
            hmac.compare_digest(client_id, expected[0]) and hmac.compare_digest(secret, expected[1])
        ):
            raise BlingFailure(401, "invalid_client", "invalid_client", "Client authentication failed")
        form = request.form()
        if form.get("grant_type") != "refresh_token":
            raise BlingFailure(400, "unsupported_grant_type", "unsupported_grant_type", "Use refresh_token")
        refresh = form.get("refresh_token", "")
        if refresh not in self.state.refresh_tokens:
            raise BlingFailure(400, "invalid_grant", "invalid_grant", "Invalid refresh token")
        access = uuid.UUID(int=self.state.rng.getrandbits(128)).hex
        if self.config.get_bool("rotate_refresh_token"):
            self.state.refresh_tokens.discard(refresh)
            refresh = uuid.UUID(int=self.state.rng.getrandbits(128)).hex
            self.state.refresh_tokens.add(refresh)
        self.state.access_tokens.add(access)
        return Response.json(
            {
                "access_token": access,
                "expires_in": self.config.get_int("token_lifetime"),
                "token_type": "Bearer",
                "scope": "98308 98309 98310 98313",
                "refresh_token": refresh,
            }
        )

    # ----------------------------------------------------------------- situações
    def _modulos(self, request: Request) -> Response:
        module = {
            "id": self.config.get_int("vendas_module_id"),
            "nome": "Vendas",
            "descricao": "Pedidos de Venda",
            "criarSituacoes": True,
        }
        return Response.json({"data": [module]})

    def _situacoes_do_modulo(self, request: Request) -> Response:
        if int(request.params["id"]) != self.config.get_int("vendas_module_id"):
            raise _not_found("Módulo")
        return Response.json({"data": [self._situacao_out(s) for s in self.state.situacoes.values()]})

    def _situacao(self, request: Request) -> Response:
        situacao = self.state.situacoes.get(int(request.params["id"]))
        if situacao is None:
            raise _not_found("Situação")
        return Response.json({"data": self._situacao_out(situacao)})

    @staticmethod
    def _situacao_out(situacao: dict[str, Any]) -> dict[str, Any]:
        return {key: situacao[key] for key in ("id", "nome", "idHerdado", "cor")}

    def _add_situacao(self, nome: str, situacao_id: int | None = None, herdado: int = 0) -> dict[str, Any]:
        state = self.state
        if situacao_id is None:
            situacao_id = max([state.next_situacao_id, *(s + 3 for s in state.situacoes)])
        state.next_situacao_id = max(state.next_situacao_id, situacao_id + 3)
        parent = state.situacoes.get(herdado)
        valor = parent["_valor"] if parent else VALOR_BY_NAME.get(nome.strip().lower(), 0)
        situacao = {
            "id": situacao_id,
            "nome": nome,
            "idHerdado": herdado,
            "cor": COLORS[len(state.situacoes) % len(COLORS)],
            "_valor": valor,
        }
        state.situacoes[situacao_id] = situacao
        return situacao

    def _situacao_named(self, nome: str) -> int | None:
        wanted = nome.strip().lower()
        found = [s["id"] for s in self.state.situacoes.values() if s["nome"].lower() == wanted]
        return found[0] if found else None

    def _initial_situacao(self) -> int:
        return self._situacao_named("Em aberto") or min(self.state.situacoes)

    # ----------------------------------------------------------------- contatos
    def _contatos(self, request: Request) -> Response:
        document = "".join(char for char in request.arg("numeroDocumento", "") or "" if char.isdigit())
        search = (request.arg("pesquisa") or "").strip().lower()
        found = []
        for contato in self.state.contatos.values():
            if document and contato["_digits"] != document:
                continue
            haystack = [contato["nome"], contato["_digits"], contato["email"], contato["codigo"]]
            if search and not any(search in str(value).lower() for value in haystack):
                continue
            found.append(contato)
        page = self._page(request, found)
        summary = ("id", "nome", "codigo", "situacao", "numeroDocumento", "telefone", "celular")
        return Response.json({"data": [{key: contato[key] for key in summary} for contato in page]})

    def _contato(self, request: Request) -> Response:
        contato = self.state.contatos.get(int(request.params["id"]))
        if contato is None:
            raise _not_found("Contato")
        return Response.json({"data": render(contato)})

    def _criar_contato(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise _invalid("contato", "O corpo deve ser um objeto JSON")
        contato = self._store_contato(body)
        return Response.json({"data": {"id": contato["id"]}}, 201)

    def _store_contato(self, body: Mapping[str, Any]) -> dict[str, Any]:
        nome = str(body.get("nome") or "").strip()
        if not nome:
            raise _invalid("nome", "O nome do contato deve ser informado")
        raw_document = str(body.get("numeroDocumento") or "").strip()
        digits = "".join(char for char in raw_document if char.isdigit())
        tipo = str(body.get("tipo") or ("J" if len(digits) == 14 else "F"))
        if digits:
            try:
                parse_tax_document(digits)
            except FiscalError:
                raise _invalid("numeroDocumento", f"CPF/CNPJ inválido: {raw_document}") from None
        if tipo not in ("F", "J", "E"):
            raise _invalid("tipo", "tipo deve ser F, J ou E")
        endereco = body.get("endereco") or {}
        geral = endereco.get("geral") if isinstance(endereco, dict) else None
        state = self.state
        contato = {
            "id": state.next_contato_id,
            "nome": nome,
            "codigo": str(body.get("codigo") or ""),
            "situacao": "A",
            "numeroDocumento": digits,
            "telefone": str(body.get("telefone") or ""),
            "celular": str(body.get("celular") or ""),
            "fantasia": str(body.get("fantasia") or ""),
            "tipo": tipo,
            "email": str(body.get("email") or ""),
            "endereco": {
                "geral": {
                    key: str((geral or {}).get(key) or "")
                    for key in ("endereco", "cep", "bairro", "municipio", "uf", "numero", "complemento")
                }
            },
            "_digits": digits,
        }
        state.contatos[state.next_contato_id] = contato
        state.next_contato_id += 1
        return contato

    # ----------------------------------------------------------------- pedidos
    def _page(self, request: Request, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            page = int(request.arg("pagina", "1") or "1")
            limit = int(request.arg("limite", str(PAGE_LIMIT)) or PAGE_LIMIT)
        except ValueError:
            raise _invalid("pagina", "pagina e limite devem ser números inteiros") from None
        if page < 1 or limit < 1:
            raise _invalid("pagina", "pagina e limite devem ser positivos")
        limit = min(limit, PAGE_LIMIT)
        return records[(page - 1) * limit : page * limit]

    def _pedidos(self, request: Request) -> Response:
        pedidos = [pedido for pedido in self.state.pedidos.values() if self._matches(pedido, request)]
        pedidos.sort(key=lambda pedido: pedido["id"], reverse=self.config.get_bool("list_newest_first"))
        return Response.json({"data": [self._summary(pedido) for pedido in self._page(request, pedidos)]})

    def _matches(self, pedido: dict[str, Any], request: Request) -> bool:
        numeros_lojas = request.args("numerosLojas[]") + request.args("numerosLojas")
        if numeros_lojas and pedido["numeroLoja"] not in numeros_lojas:
            return False
        situacoes = request.args("idsSituacoes[]") + request.args("idsSituacoes")
        if situacoes and str(pedido["situacao"]["id"]) not in situacoes:
            return False
        for name, key in (("idContato", ("contato", "id")), ("idLoja", ("loja", "id"))):
            value = request.arg(name)
            if value and str(pedido[key[0]][key[1]]) != value.strip():
                return False
        numero = (request.arg("numero") or "").strip()
        if numero and numero != str(pedido["numero"]):
            return False
        placed = datetime.strptime(pedido["data"], "%Y-%m-%d").replace(tzinfo=BRASILIA)
        bounds = (
            ("dataInicial", placed, False),
            ("dataFinal", placed, True),
            ("dataAlteracaoInicial", pedido["_updated_at"], False),
            ("dataAlteracaoFinal", pedido["_updated_at"], True),
        )
        for name, moment, upper in bounds:
            text = request.arg(name)
            if not text:
                continue
            limit = _moment_filter(text, end_of_day=upper)
            if (moment > limit) if upper else (moment < limit):
                return False
        return True

    def _pedido_or_404(self, request: Request) -> dict[str, Any]:
        pedido = self.state.pedidos.get(int(request.params["id"]))
        if pedido is None:
            raise _not_found("Pedido de venda")
        return pedido

    def _pedido_get(self, request: Request) -> Response:
        return Response.json({"data": self._pedido_out(self._pedido_or_404(request))})

    def _summary(self, pedido: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "numero", "numeroLoja", "data", "dataSaida", "dataPrevista", "totalProdutos", "total")
        summary = {key: pedido[key] for key in keys}
        summary["contato"] = {
            key: pedido["contato"][key] for key in ("id", "nome", "tipoPessoa", "numeroDocumento")
        }
        summary["situacao"] = dict(pedido["situacao"])
        summary["loja"] = {"id": pedido["loja"]["id"]}
        return dict(render(summary))

    def _pedido_out(self, pedido: dict[str, Any]) -> dict[str, Any]:
        return dict(render(pedido))

    def _criar_pedido(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise _invalid("pedido", "O corpo deve ser um objeto JSON")
        pedido = self._parse_pedido(body)
        if self.faults.take("drop_order_creation", "POST", request.path) is not None:
            # Answer as if stored, spend the id, keep nothing: "pedido não integrado".
            ghost = self.state.next_pedido_id
            self.state.next_pedido_id += 1
            return Response.json({"data": {"id": ghost, "alertas": []}}, 201)
        self._store_new(pedido)
        return Response.json({"data": {"id": pedido["id"], "alertas": []}}, 201)

    def _parse_pedido(self, body: Mapping[str, Any]) -> dict[str, Any]:
        contato_ref = body.get("contato")
        contato_id = contato_ref.get("id") if isinstance(contato_ref, dict) else None
        contato = self.state.contatos.get(contato_id) if isinstance(contato_id, int) else None
        if contato is None:
            raise _invalid("contato", "O contato informado não existe", 36)
        numero_loja = str(body.get("numeroLoja") or "")
        if (
            numero_loja
            and self.config.get_bool("reject_duplicate_numero_loja")
            and any(p["numeroLoja"] == numero_loja for p in self.state.pedidos.values())
        ):
            raise _invalid("numeroLoja", f"Já existe um pedido com o número da loja {numero_loja}", 50)
        raw_items = body.get("itens")
        if not isinstance(raw_items, list) or not raw_items:
            raise _invalid("itens", "O pedido deve ter ao menos um item")
        itens = []
        total_produtos = Decimal("0")
        for position, raw in enumerate(raw_items, start=1):
            if not isinstance(raw, dict) or not str(raw.get("descricao") or "").strip():
                raise _invalid("itens", f"item {position}: descricao deve ser informada")
            quantidade = _decimal(raw.get("quantidade"), "quantidade")
            valor = _decimal(raw.get("valor"), "valor")
            desconto = _decimal(raw.get("desconto"), "desconto")
            if quantidade <= 0 or valor < 0 or not 0 <= desconto <= 100:
                raise _invalid("itens", f"item {position}: quantidade, valor ou desconto inválidos")
            total_produtos += (quantidade * valor * (100 - desconto) / 100).quantize(_CENT)
            itens.append(
                {
                    "id": self.state.rng.randrange(10**9, 10**10),
                    "codigo": str(raw.get("codigo") or ""),
                    "unidade": str(raw.get("unidade") or "UN"),
                    "quantidade": quantidade,
                    "desconto": desconto,
                    "valor": valor,
                    "aliquotaIPI": Decimal("0"),
                    "descricao": str(raw["descricao"]),
                    "descricaoDetalhada": str(raw.get("descricaoDetalhada") or ""),
                    "produto": {"id": 0},
                }
            )
        desconto_raw = body.get("desconto") or {}
        desconto = _decimal(desconto_raw.get("valor") if isinstance(desconto_raw, dict) else 0, "desconto")
        unidade = str(desconto_raw.get("unidade") or "REAL") if isinstance(desconto_raw, dict) else "REAL"
        if unidade not in ("REAL", "PERCENTUAL"):
            raise _invalid("desconto", "desconto.unidade deve ser REAL ou PERCENTUAL")
        desconto_reais = desconto if unidade == "REAL" else (total_produtos * desconto / 100).quantize(_CENT)
        transporte_raw = body.get("transporte") or {}
        if not isinstance(transporte_raw, dict):
            raise _invalid("transporte", "transporte deve ser um objeto")
        frete = _decimal(transporte_raw.get("frete"), "frete")
        outras = _decimal(body.get("outrasDespesas"), "outrasDespesas")
        total = total_produtos - desconto_reais + frete + outras
        if total < 0:
            raise _invalid("desconto", "O desconto não pode ser maior que o total")
        placed = _date(body.get("data") or brasilia_now().date().isoformat(), "data")
        parcelas = []
        for position, raw in enumerate(body.get("parcelas") or [], start=1):
            if not isinstance(raw, dict):
                raise _invalid("parcelas", f"parcela {position} inválida")
            forma = raw.get("formaPagamento") if isinstance(raw.get("formaPagamento"), dict) else {}
            parcelas.append(
                {
                    "id": self.state.rng.randrange(10**9, 10**10),
                    "dataVencimento": _date(raw.get("dataVencimento") or placed, "dataVencimento"),
                    "valor": _decimal(raw.get("valor"), "valor"),
                    "observacoes": str(raw.get("observacoes") or ""),
                    "formaPagamento": {"id": int((forma or {}).get("id") or 0)},
                }
            )
        etiqueta_raw = transporte_raw.get("etiqueta") or {}
        etiqueta_keys = ("nome", "endereco", "numero", "complemento", "municipio", "uf", "cep", "bairro")
        etiqueta = {key: str(etiqueta_raw.get(key) or "") for key in etiqueta_keys}
        etiqueta["nomePais"] = str(etiqueta_raw.get("nomePais") or "BRASIL")
        volumes = [
            {
                "id": self.state.rng.randrange(10**9, 10**10),
                "servico": str(volume.get("servico") or ""),
                "codigoRastreamento": str(volume.get("codigoRastreamento") or ""),
            }
            for volume in transporte_raw.get("volumes") or []
            if isinstance(volume, dict)
        ]
        situacao_ref = body.get("situacao")
        situacao_id = self._initial_situacao()
        if isinstance(situacao_ref, dict) and situacao_ref.get("id") not in (None, "", 0):
            situacao_id = self._situacao_id(situacao_ref.get("id"))
        loja = body.get("loja") if isinstance(body.get("loja"), dict) else {}
        return {
            "id": 0,
            "numero": 0,
            "numeroLoja": numero_loja,
            "data": placed,
            "dataSaida": _date(body["dataSaida"], "dataSaida") if body.get("dataSaida") else placed,
            "dataPrevista": _date(body["dataPrevista"], "dataPrevista")
            if body.get("dataPrevista")
            else placed,
            "totalProdutos": total_produtos,
            "total": total,
            "contato": {
                "id": contato["id"],
                "nome": contato["nome"],
                "tipoPessoa": contato["tipo"],
                "numeroDocumento": contato["numeroDocumento"],
            },
            "situacao": {"id": situacao_id, "valor": self.state.situacoes[situacao_id]["_valor"]},
            "loja": {"id": int((loja or {}).get("id") or 0), "unidadeNegocio": {"id": 0}},
            "numeroPedidoCompra": str(body.get("numeroPedidoCompra") or ""),
            "outrasDespesas": outras,
            "observacoes": str(body.get("observacoes") or ""),
            "observacoesInternas": str(body.get("observacoesInternas") or ""),
            "desconto": {"valor": desconto, "unidade": unidade},
            "categoria": {"id": 0},
            "notaFiscal": {"id": 0},
            "tributacao": {"totalICMS": Decimal("0"), "totalIPI": Decimal("0")},
            "itens": itens,
            "parcelas": parcelas,
            "transporte": {
                "fretePorConta": int(transporte_raw.get("fretePorConta") or 0),
                "frete": frete,
                "quantidadeVolumes": int(transporte_raw.get("quantidadeVolumes") or len(volumes) or 1),
                "pesoBruto": _decimal(transporte_raw.get("pesoBruto"), "pesoBruto"),
                "prazoEntrega": int(transporte_raw.get("prazoEntrega") or 0),
                "contato": {"id": 0, "nome": str((transporte_raw.get("contato") or {}).get("nome") or "")},
                "etiqueta": etiqueta,
                "volumes": volumes,
            },
            "vendedor": {"id": 0},
            "intermediador": {
                "cnpj": str((body.get("intermediador") or {}).get("cnpj") or ""),
                "nomeUsuario": str((body.get("intermediador") or {}).get("nomeUsuario") or ""),
            },
            "taxas": {"taxaComissao": Decimal("0"), "custoFrete": Decimal("0"), "valorBase": Decimal("0")},
            "_updated_at": brasilia_now(),
        }

    def _situacao_id(self, raw: Any) -> int:
        try:
            situacao_id = int(str(raw))
        except ValueError:
            situacao_id = -1
        if situacao_id not in self.state.situacoes:
            raise _invalid("idSituacao", f"A situação {raw} não existe no módulo de vendas", 42)
        return situacao_id

    def _store_new(self, pedido: dict[str, Any]) -> None:
        state = self.state
        pedido["id"] = state.next_pedido_id
        pedido["numero"] = state.next_numero
        state.next_pedido_id += 1
        state.next_numero += 1
        state.pedidos[pedido["id"]] = pedido
        self._notify_order(pedido, "order.created")

    def _mudar_situacao(self, request: Request) -> Response:
        pedido = self._pedido_or_404(request)
        self._change_situacao(pedido, self._situacao_id(request.params["situacao"]))
        return Response(204)

    def _change_situacao(
        self, pedido: dict[str, Any], situacao_id: int, when: datetime | None = None
    ) -> None:
        """Set the situação; a change of situação stamps the order and sends ``order.updated``."""
        if pedido["situacao"]["id"] == situacao_id:
            return
        pedido["situacao"] = {"id": situacao_id, "valor": self.state.situacoes[situacao_id]["_valor"]}
        pedido["_updated_at"] = when or brasilia_now()
        self._notify_order(pedido, "order.updated")

    # ----------------------------------------------------------------- NF-e
    def _gerar_nfe(self, request: Request) -> Response:
        pedido = self._pedido_or_404(request)
        nfe = self._issue(pedido)
        payload = {"idNotaFiscal": nfe["id"]}
        wrapped = {"data": payload} if self.config.get_bool("generate_nfe_wrapped") else payload
        return Response.json(wrapped, 201)

    def _issue(self, pedido: dict[str, Any], when: datetime | None = None) -> dict[str, Any]:
        """Generate and authorize the order's NF-e (valid key, nfeProc XML), as Bling does."""
        error = self.config.get_optional_str("nfe_generation_error")
        if error:
            raise BlingFailure(400, "VALIDATION_ERROR", "Não foi possível gerar a nota fiscal", error)
        if pedido["situacao"]["valor"] == VALOR_BY_NAME["cancelado"]:
            raise BlingFailure(
                400, "VALIDATION_ERROR", "Não foi possível gerar a nota fiscal", "Pedido cancelado"
            )
        if pedido["notaFiscal"]["id"]:
            raise BlingFailure(
                400,
                "VALIDATION_ERROR",
                "Não foi possível gerar a nota fiscal",
                "O pedido já possui nota fiscal",
            )
        issued_at = (when or brasilia_now()).astimezone(BRASILIA)
        state = self.state
        numero = state.next_nfe_numero
        state.next_nfe_numero += 1
        series = self.config.get_int("nfe_series")
        key = make_nfe_key(
            numero,
            cuf=UF_CODES[self.config.get_str("account_uf")],
            year=issued_at.year,
            month=issued_at.month,
            emitter_document=self.config.get_str("account_cnpj"),
            series=series,
            code=f"{state.rng.randrange(10_000_000, 100_000_000)}",
        )
        contato = state.contatos[pedido["contato"]["id"]]
        digits = contato["_digits"]
        nfe_id = state.next_nfe_id
        state.next_nfe_id += 1
        stamp = issued_at.strftime("%Y-%m-%d %H:%M:%S")
        nfe: dict[str, Any] = {
            "id": nfe_id,
            "tipo": 1,
            "situacao": NFE_AUTORIZADA,
            "numero": f"{numero:06d}",
            "dataEmissao": stamp,
            "dataOperacao": stamp,
            "contato": {
                "id": contato["id"],
                "nome": contato["nome"],
                "numeroDocumento": digits,
                "ie": "",
                "rg": "",
                "telefone": contato["telefone"],
                "email": contato["email"],
                "endereco": {**contato["endereco"]["geral"], "pais": ""},
            },
            "naturezaOperacao": {"id": 1},
            "loja": {"id": pedido["loja"]["id"]},
            "serie": series,
            "valorNota": pedido["total"],
            "chaveAcesso": key,
            "xml": f"{self.base_url}/relatorios/nfe.xml.php?chaveAcesso={key}",
            "linkDanfe": f"{self.base_url}/doc.view.php?id={key}",
            "linkPDF": f"{self.base_url}/doc.view.php?PDF=true&id={key}",
            "numeroPedidoLoja": pedido["numeroLoja"],
            "_xml": build_nfe_xml(
                key,
                total=pedido["total"],
                lines=[
                    (
                        item["codigo"] or f"ITEM-{position}",
                        item["descricao"],
                        item["quantidade"],
                        item["valor"],
                    )
                    for position, item in enumerate(pedido["itens"], start=1)
                ],
                recipient_cpf=digits if len(digits) == 11 else None,
                recipient_cnpj=digits if len(digits) == 14 else None,
                recipient_name=contato["nome"],
                emitter_name=self.config.get_str("account_name"),
                issued_at=issued_at,
            ),
        }
        state.nfes[nfe_id] = nfe
        pedido["notaFiscal"] = {"id": nfe_id}
        pedido["_updated_at"] = issued_at
        self._notify_invoice(nfe, "invoice.created")
        after = self.config["nfe_sets_situacao"]
        if after is not None and int(after) in state.situacoes:
            self._change_situacao(pedido, int(after), issued_at)
        return nfe

    def _nfe_out(self, nfe: dict[str, Any]) -> dict[str, Any]:
        return dict(render(nfe))

    def _nfe_get(self, request: Request) -> Response:
        nfe = self.state.nfes.get(int(request.params["id"]))
        if nfe is None:
            raise _not_found("Nota fiscal")
        return Response.json({"data": self._nfe_out(nfe)})

    def _nfe_xml_file(self, request: Request) -> Response:
        key = (request.arg("chaveAcesso") or "").strip()
        with self.lock:
            found = [nfe for nfe in self.state.nfes.values() if nfe["chaveAcesso"] == key]
        if not found:
            return Response.text("Nota fiscal não encontrada", 404)
        return Response.text(found[0]["_xml"], 200, "application/xml; charset=utf-8")

    # ----------------------------------------------------------------- webhooks
    def _envelope(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "eventId": str(uuid.UUID(int=self.state.rng.getrandbits(128))),
            "date": iso_utc(brasilia_now()),
            "version": self.config.get_str("webhook_version"),
            "event": event,
            "companyId": self.config.get_str("company_id"),
            "data": data,
        }

    def _notify_order(self, pedido: dict[str, Any], event: str) -> None:
        if self._seeding:
            return  # the seed is history: nothing of it is announced
        self.send_webhook(event, self._envelope(event, self._summary(pedido)))

    def _notify_invoice(self, nfe: dict[str, Any], event: str) -> None:
        if self._seeding:
            return
        keys = ("id", "tipo", "situacao", "numero", "serie", "dataEmissao", "chaveAcesso", "numeroPedidoLoja")
        data = {key: nfe[key] for key in keys} | {"contato": {"id": nfe["contato"]["id"]}}
        self.send_webhook(event, self._envelope(event, dict(render(data))))

    # ----------------------------------------------------------------- seed
    def new_state(self, seed: bool) -> BlingState:
        state = BlingState()
        state.access_tokens.add(self.config.get_str("access_token"))
        state.refresh_tokens.add(self.config.get_str("refresh_token"))
        self.state = state
        for nome, situacao_id in dict(self.config["situacoes"]).items():
            self._add_situacao(str(nome), int(situacao_id))
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _seed(self) -> None:
        """The paid demo orders, as the ERP received them from the shop; shipped ones invoiced."""
        now = brasilia_now()
        for demo in DEMO_ORDERS:
            if demo.status != "paid":
                continue
            placed = now - timedelta(days=demo.days_ago, hours=3)
            contato = self._contato_for(demo.customer)
            body = _pedido_json(contato["id"], demo.customer, demo.lines, demo.shipping, str(demo.number))
            body["data"] = placed.date().isoformat()
            pedido = self._parse_pedido(body)
            self._store_new(pedido)
            if demo.shipment is not None and demo.tracking_code is not None:
                volumes = pedido["transporte"]["volumes"]
                volumes.append({"id": 1, "servico": "SEDEX", "codigoRastreamento": demo.tracking_code})
                self._issue(pedido, when=placed + timedelta(days=1))
            else:
                situacao = self._situacao_named("Em andamento")
                if situacao is not None:
                    self._change_situacao(pedido, situacao)
            pedido["_updated_at"] = placed + timedelta(days=2)

    def _contato_for(self, customer: Customer) -> dict[str, Any]:
        digits = customer.document_digits
        for contato in self.state.contatos.values():
            if digits and contato["_digits"] == digits:
                return contato
        address = customer.address
        return self._store_contato(
            {
                "nome": customer.full_name,
                "numeroDocumento": digits,
                "tipo": "J" if customer.is_company else "F",
                "telefone": customer.phone,
                "email": customer.email,
                "endereco": {
                    "geral": {
                        "endereco": address.street,
                        "numero": address.number,
                        "complemento": address.complement,
                        "bairro": address.district,
                        "cep": address.cep,
                        "municipio": address.city,
                        "uf": address.uf,
                    }
                },
            }
        )

    # ----------------------------------------------------------------- control actions
    def _control_pedido(self, request: Request) -> dict[str, Any]:
        pedido = self.state.pedidos.get(int(request.params["id"]))
        if pedido is None:
            raise ControlError(404, "not_found", f"no pedido {request.params['id']}")
        return pedido

    def _control_place_order(self, request: Request) -> Response:
        body = control_body(request)
        items = body.get("items") or [{"sku": "CHINELO-42", "qty": 1}]
        if not isinstance(items, list) or not all(isinstance(item, dict) and "sku" in item for item in items):
            raise ControlError(400, "invalid", 'items must be an array of {"sku", "qty"?, "price"?}')
        lines = [(product_by_sku(str(item["sku"])), item.get("qty", 1)) for item in items]
        prices = [item.get("price") for item in items]
        customer = customer_from_json(body.get("customer"))
        try:
            contato = self._contato_for(customer)
            entry = _pedido_json(
                contato["id"], customer, lines, Decimal("15.00"), str(body.get("numeroLoja", "")), prices
            )
            if "situacao" in body:
                entry["situacao"] = {"id": body["situacao"]}
            if days := days_ago(body):
                entry["data"] = (brasilia_now() - timedelta(days=days)).date().isoformat()
            pedido = self._parse_pedido(entry)
        except BlingFailure as failure:
            raise ControlError(400, "invalid", failure.description) from failure
        self._store_new(pedido)
        return Response.json({"pedido": self._pedido_out(pedido)}, 201)

    def _control_situacao(self, request: Request) -> Response:
        pedido = self._control_pedido(request)
        body = control_body(request)
        situacao_id = body.get("id")
        if situacao_id is None and body.get("nome"):
            situacao_id = self._situacao_named(str(body["nome"]))
        if not isinstance(situacao_id, int) or situacao_id not in self.state.situacoes:
            known = ", ".join(f"{s['id']} {s['nome']}" for s in self.state.situacoes.values())
            raise ControlError(400, "invalid", f"id or nome must name a situação ({known})")
        self._change_situacao(pedido, situacao_id)
        return Response.json({"pedido": self._pedido_out(pedido)})

    def _control_invoice(self, request: Request) -> Response:
        pedido = self._control_pedido(request)
        try:
            nfe = self._issue(pedido)
        except BlingFailure as failure:
            raise ControlError(409, "conflict", failure.description) from failure
        return Response.json({"nfe": self._nfe_out(nfe), "pedido": self._pedido_out(pedido)})

    def _control_cancel(self, request: Request) -> Response:
        pedido = self._control_pedido(request)
        canceled = self._situacao_named("Cancelado")
        if canceled is None:
            raise ControlError(409, "conflict", "this account has no situação Cancelado")
        self._change_situacao(pedido, canceled)
        return Response.json({"pedido": self._pedido_out(pedido)})

    def _control_add_situacao(self, request: Request) -> Response:
        body = control_body(request)
        nome = str(body.get("nome") or "").strip()
        herdado = body.get("idHerdado", 0)
        situacao_id = body.get("id")
        if not nome or not isinstance(herdado, int) or not isinstance(situacao_id, int | type(None)):
            raise ControlError(400, "invalid", 'body: {"nome", "idHerdado"?: int, "id"?: int}')
        if situacao_id in self.state.situacoes:
            raise ControlError(409, "conflict", f"situação {situacao_id} exists")
        situacao = self._add_situacao(nome, situacao_id, herdado)
        return Response.json({"situacao": self._situacao_out(situacao)}, 201)

    def _control_expire_tokens(self, request: Request) -> Response:
        self.state.access_tokens.clear()
        return Response.json({"expired": True})


def _pedido_json(
    contato_id: int,
    customer: Customer,
    lines: list[tuple[Any, Any]],
    shipping: Decimal,
    numero_loja: str,
    prices: list[Any] | None = None,
) -> dict[str, Any]:
    """A ``POST /pedidos/vendas`` body as an integration would send it."""
    address = customer.address
    return {
        "numeroLoja": numero_loja,
        "data": brasilia_now().date().isoformat(),
        "contato": {"id": contato_id},
        "itens": [
            {
                "codigo": product.sku,
                "unidade": "UN",
                "quantidade": str(qty),
                "valor": str(product.price if not prices or prices[index] is None else prices[index]),
                "descricao": product.name,
            }
            for index, (product, qty) in enumerate(lines)
        ],
        "transporte": {
            "fretePorConta": 0,
            "frete": str(shipping),
            "etiqueta": {
                "nome": customer.full_name,
                "endereco": address.street,
                "numero": address.number,
                "complemento": address.complement,
                "municipio": address.city,
                "uf": address.uf,
                "cep": address.cep,
                "bairro": address.district,
            },
        },
    }
