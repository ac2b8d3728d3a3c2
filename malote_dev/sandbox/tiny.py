"""Fake Tiny ERP, API 2.0 (``POST /api2/{service}.php``, form fields ``token`` and ``formato=json``).

Every answer is HTTP 200 with the ``retorno`` envelope (``status``, ``codigo_erro``, ``erros``).
Services: ``pedidos.pesquisa``, ``pedido.obter``, ``pedido.incluir``, ``pedido.alterar.situacao``,
``pedido.cadastrar.codigo.rastreamento``, ``gerar.nota.fiscal.pedido``, ``nota.fiscal.obter`` and
``nota.fiscal.obter.xml``; NF-e keys and XML are valid, tracking codes are Correios S10. The sales
notification (unsigned; ``webhook_token`` appended to the URL) is sent on inclusion and on every
situação change.

Control (the ERP operator): ``POST /_sandbox/orders``, ``…/{id}/invoice``, ``…/{id}/ship``,
``…/{id}/deliver``, ``…/{id}/cancel``, ``…/{id}/situacao``. Faults: ``rate_limit`` answers Tiny's
own throttle (``codigo_erro`` 6) unless ``http=True``; ``drop_order_creation`` answers a normal
success but stores nothing (an order never integrated). ``GET /_sandbox`` lists the routes and the
settings; settings described as assumed switch what the vendor leaves unconfirmed. The vendor's API:
docs/connectors/tiny.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from malote.fiscal import UF_CODES, FiscalError, build_nfe_key, parse_tax_document, tracking_url
from malote_dev.sandbox.app import ControlError, FakeApp, Setting, control_body, days_ago
from malote_dev.sandbox.clock import (
    BRASILIA,
    br_date,
    brasilia_now,
    parse_br_date,
    parse_br_datetime,
)
from malote_dev.sandbox.faults import Fault
from malote_dev.sandbox.router import Request, Response
from malote_dev.sandbox.seed import (
    ACCOUNT_CNPJ,
    ACCOUNT_NAME,
    DEMO_ORDERS,
    Customer,
    correios_code,
    customer_from_json,
    product_by_sku,
)
from malote_dev.testing.fiscal import build_nfe_xml

SITUACOES = {
    "aberto": "Em aberto",
    "aprovado": "Aprovado",
    "preparando_envio": "Preparando envio",
    "faturado": "Faturado (atendido)",
    "pronto_envio": "Pronto para envio",
    "enviado": "Enviado",
    "entregue": "Entregue",
    "nao_entregue": "Não entregue",
    "cancelado": "Cancelado",
}
_SITUACAO_BY_TEXT = {
    **{code: code for code in SITUACOES},
    **{label.lower(): code for code, label in SITUACOES.items()},
}
SEARCH_FILTERS = (
    "numero",
    "cliente",
    "cpf_cnpj",
    "dataInicial",
    "dataFinal",
    "dataAtualizacao",
    "situacao",
    "numeroEcommerce",
    "idVendedor",
    "nomeVendedor",
    "marcador",
    "dataInicialOcorrencia",
    "dataFinalOcorrencia",
)
PAGE_SIZE = 50
ECOMMERCE_NAME = "Loja Malote Demo"

_CENT = Decimal("0.01")


def _demo_token(label: str) -> str:
    """A stable 64-hex token, the shape of Tiny's API tokens."""
    return hashlib.sha256(label.encode()).hexdigest()


def situacao_code(text: str) -> str | None:
    """``aprovado`` for ``aprovado``, ``Aprovado`` or ``APROVADO``; ``None`` when unknown."""
    return _SITUACAO_BY_TEXT.get(text.strip().lower())


def render(value: Any, numbers_as_strings: bool) -> Any:
    """Tiny JSON from the internal record: keys starting with ``_`` are dropped; ints and
    Decimals become strings (``"2.00"``) or JSON numbers."""
    if isinstance(value, dict):
        return {
            key: render(item, numbers_as_strings)
            for key, item in value.items()
            if not str(key).startswith("_")
        }
    if isinstance(value, list):
        return [render(item, numbers_as_strings) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return f"{value.quantize(_CENT)}" if numbers_as_strings else float(value.quantize(_CENT))
    if isinstance(value, int):
        return str(value) if numbers_as_strings else value
    return value


class TinyFailure(Exception):
    """A logical error answered inside ``retorno`` (HTTP 200)."""

    def __init__(self, code: int, message: str, processing: int = 2) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.processing = processing


@dataclass
class TinyState:
    """The ERP: pedidos and notas fiscais by id (values typed; rendered per request)."""

    pedidos: dict[int, dict[str, Any]] = field(default_factory=dict)
    notas: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_pedido_id: int = 700000001
    next_numero: int = 1001
    next_nota_id: int = 800000001
    next_nota_numero: int = 1
    next_contato_id: int = 900000001
    next_tracking_serial: int = 47000001
    contatos: dict[str, int] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random("malote-sandbox-tiny"))


def _decimal(value: Any, name: str) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool):
        raise TinyFailure(31, f"{name}: valor inválido ({value!r})")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise TinyFailure(
            31, f"{name}: valor inválido ({value!r}); use ponto como separador decimal"
        ) from None
    if not result.is_finite():
        raise TinyFailure(31, f"{name}: valor inválido ({value!r})")
    return result


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class TinyApp(FakeApp[TinyState]):
    kind: ClassVar[str] = "tiny"
    api_prefix: ClassVar[str] = "/api2/"
    extra_fault_kinds: ClassVar[frozenset[str]] = frozenset({"drop_order_creation"})
    settings: ClassVar[Mapping[str, Setting]] = {
        "token": Setting(_demo_token("malote-demo tiny"), (str,), "API token (form field token)"),
        "account_cnpj": Setting(ACCOUNT_CNPJ, (str,), "the Tiny account's CNPJ (webhook cnpj, NF-e issuer)"),
        "account_name": Setting(ACCOUNT_NAME, (str,), "the Tiny account's legal name (NF-e issuer)"),
        "account_uf": Setting("SP", (str,), "the account's UF (cUF of the NF-e keys)"),
        "webhook_token": Setting(None, (str, type(None)), "appended to webhook_url as ?token=…"),
        "webhook_version": Setting("1.0.0", (str,), "assumed: value of versao in webhooks"),
        "reject_duplicate_ecommerce_number": Setting(
            False,
            (bool,),
            "assumed: pedido.incluir refuses a repeated numero_pedido_ecommerce (codigo_erro 30)",
        ),
        "numbers_as_strings": Setting(True, (bool,), "assumed: ids, amounts and quantities as JSON strings"),
        "situacao_as_label": Setting(True, (bool,), "assumed: pedido situacao is the label (off: the code)"),
        "not_found_error_code": Setting(32, (int,), "assumed: codigo_erro for an unknown id"),
        "accept_without_php_suffix": Setting(True, (bool,), "assumed: /api2/<service> works without .php"),
        "nfe_service": Setting(
            "gerar.nota.fiscal.pedido", (str,), "assumed: file name of the NF-e generation service"
        ),
        "nfe_series": Setting(1, (int,), "series of the NF-e issued"),
        "include_nfe_xml": Setting(True, (bool,), "issued NF-e carry an authorized nfeProc XML"),
    }

    # ----------------------------------------------------------------- framework hooks
    def credentials(self) -> dict[str, str]:
        return {"token": self.config.get_str("token")}

    def error_response(self, request: Request, status: int) -> Response:
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        title = titles.get(status, "Internal Server Error")
        page = f"<html><head><title>{status} {title}</title></head><body><h1>{title}</h1></body></html>"
        return Response.text(page, status, "text/html; charset=UTF-8")

    def rate_limited_response(self, request: Request, fault: Fault) -> Response:
        if fault.params["http"]:
            response = Response.text("Too Many Requests", 429, "text/html; charset=UTF-8")
            response.set_header("Retry-After", str(int(fault.params["retry_after"])))
            return response
        return self._failure(
            TinyFailure(6, "API Bloqueada - Excedido o número de acessos no último minuto", 1)
        )

    def not_found_response(self, request: Request) -> Response:
        return Response.text("File not found.\n", 404, "text/html; charset=UTF-8")

    def method_not_allowed_response(self, request: Request, allowed: tuple[str, ...]) -> Response:
        return self.not_found_response(request)

    def webhook_targets(self, event: str) -> list[str]:
        url = self.config.get_optional_str("webhook_url")
        if not url:
            return []
        token = self.config.get_optional_str("webhook_token")
        if token:
            parts = urlsplit(url)
            query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("token", token)])
            url = urlunsplit(parts._replace(query=query))
        return [url]

    def state_json(self) -> Any:
        return {
            "pedidos": [self._pedido_out(pedido) for pedido in self.state.pedidos.values()],
            "notas_fiscais": [self._render(nota) for nota in self.state.notas.values()],
        }

    # ----------------------------------------------------------------- envelope
    def _render(self, value: Any) -> Any:
        return render(value, self.config.get_bool("numbers_as_strings"))

    def _envelope(self, processing: int, status: str, **payload: Any) -> Response:
        retorno: dict[str, Any] = {"status_processamento": self._render(processing), "status": status}
        retorno.update(payload)
        return Response.json({"retorno": retorno})

    def _failure(self, failure: TinyFailure) -> Response:
        return self._envelope(
            failure.processing,
            "Erro",
            codigo_erro=self._render(failure.code),
            erros=[{"erro": failure.message}],
        )

    def _ok(self, **payload: Any) -> Response:
        return self._envelope(3, "OK", **payload)

    # ----------------------------------------------------------------- routing
    def add_routes(self) -> None:
        self.api.add("POST", "/api2/{service}.php", self._service)
        self.api.add("GET", "/api2/{service}.php", self._service)
        self.api.add("POST", "/api2/{service}", self._service_without_suffix)
        self.api.add("GET", "/api2/{service}", self._service_without_suffix)
        control = self.control.add
        control("POST", "/_sandbox/orders", self._control_place_order)
        control("POST", "/_sandbox/orders/{id:int}/invoice", self._control_invoice)
        control("POST", "/_sandbox/orders/{id:int}/ship", self._control_ship)
        control("POST", "/_sandbox/orders/{id:int}/deliver", self._control_deliver)
        control("POST", "/_sandbox/orders/{id:int}/cancel", self._control_cancel)
        control("POST", "/_sandbox/orders/{id:int}/situacao", self._control_situacao)

    def _services(self) -> dict[str, Callable[[dict[str, str]], Response]]:
        return {
            "pedidos.pesquisa": self._pesquisa,
            "pedido.obter": self._obter,
            "pedido.incluir": self._incluir,
            "pedido.alterar.situacao": self._alterar_situacao,
            "pedido.cadastrar.codigo.rastreamento": self._cadastrar_rastreamento,
            self.config.get_str("nfe_service"): self._gerar_nota,
            "nota.fiscal.obter": self._nota_obter,
            "nota.fiscal.obter.xml": self._nota_obter_xml,
        }

    def _service_without_suffix(self, request: Request) -> Response:
        if not self.config.get_bool("accept_without_php_suffix"):
            return self.not_found_response(request)
        return self._service(request)

    def _service(self, request: Request) -> Response:
        handler = self._services().get(request.params["service"])
        if handler is None:
            return self.not_found_response(request)
        params = request.form()
        token = params.get("token", "")
        if not token:
            return self._failure(TinyFailure(1, "token não informado", 1))
        if not hmac.compare_digest(token, self.config.get_str("token")):
            return self._failure(TinyFailure(2, "token inválido ou não encontrado", 1))
        if params.get("formato", "").lower() != "json":
            return self._failure(TinyFailure(10, "parâmetro formato não informado ou inválido (use json)", 1))
        try:
            return handler(params)
        except TinyFailure as failure:
            return self._failure(failure)

    def _pedido(self, params: dict[str, str]) -> dict[str, Any]:
        raw_id = params.get("id", "").strip()
        if not raw_id:
            raise TinyFailure(10, "parâmetro id não informado", 1)
        pedido = self.state.pedidos.get(int(raw_id)) if raw_id.isdigit() else None
        if pedido is None:
            raise TinyFailure(self.config.get_int("not_found_error_code"), "Pedido não localizado")
        return pedido

    # ----------------------------------------------------------------- pedidos.pesquisa
    def _pesquisa(self, params: dict[str, str]) -> Response:
        if not any(params.get(name, "").strip() for name in SEARCH_FILTERS):
            raise TinyFailure(10, "Ao menos um parâmetro de pesquisa deve ser informado", 1)
        pedidos = [pedido for pedido in self.state.pedidos.values() if self._matches(pedido, params)]
        pedidos.sort(key=lambda pedido: int(pedido["id"]), reverse=params.get("sort", "").upper() == "DESC")
        if not pedidos:
            raise TinyFailure(20, "A consulta não retornou registros")
        pages = (len(pedidos) + PAGE_SIZE - 1) // PAGE_SIZE
        raw_page = params.get("pagina", "1").strip() or "1"
        page = int(raw_page) if raw_page.isdigit() else 0
        if not 1 <= page <= pages:
            raise TinyFailure(23, "A página que você está tentando obter não existe")
        chunk = pedidos[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return self._ok(
            pagina=page,
            numero_paginas=pages,
            pedidos=[{"pedido": self._render(self._summary(pedido))} for pedido in chunk],
        )

    def _matches(self, pedido: dict[str, Any], params: dict[str, str]) -> bool:
        try:
            data_pedido = parse_br_date(pedido["data_pedido"])
            if params.get("dataInicial") and data_pedido < parse_br_date(params["dataInicial"]):
                return False
            if params.get("dataFinal") and data_pedido > parse_br_date(params["dataFinal"]):
                return False
            if params.get("dataAtualizacao") and pedido["_updated_at"] < parse_br_datetime(
                params["dataAtualizacao"]
            ):
                return False
        except ValueError as error:
            raise TinyFailure(31, f"data inválida: {error}") from error
        if params.get("situacao") and situacao_code(params["situacao"]) != pedido["_situacao"]:
            return False
        if params.get("numero") and params["numero"].strip() != str(pedido["numero"]):
            return False
        if params.get("numeroEcommerce") and params["numeroEcommerce"].strip() != pedido["numero_ecommerce"]:
            return False
        wanted_document = "".join(char for char in params.get("cpf_cnpj", "") if char.isalnum())
        if wanted_document and wanted_document != pedido["cliente"]["_document_digits"]:
            return False
        name = params.get("cliente", "").strip().lower()
        return not name or name in pedido["cliente"]["nome"].lower() or name == pedido["cliente"]["codigo"]

    def _summary(self, pedido: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": pedido["id"],
            "numero": pedido["numero"],
            "numero_ecommerce": pedido["numero_ecommerce"],
            "data_pedido": pedido["data_pedido"],
            "data_prevista": pedido["data_prevista"],
            "nome": pedido["cliente"]["nome"],
            "valor": pedido["total_pedido"],
            "id_vendedor": pedido["id_vendedor"],
            "nome_vendedor": pedido["nome_vendedor"],
            "situacao": self._situacao_out(pedido),
            "codigo_rastreamento": pedido["codigo_rastreamento"],
            "url_rastreamento": pedido["url_rastreamento"],
        }

    def _situacao_out(self, pedido: dict[str, Any]) -> str:
        code = str(pedido["_situacao"])
        return SITUACOES[code] if self.config.get_bool("situacao_as_label") else code

    def _pedido_out(self, pedido: dict[str, Any]) -> Any:
        return self._render({**pedido, "situacao": self._situacao_out(pedido)})

    # ----------------------------------------------------------------- pedido.obter
    def _obter(self, params: dict[str, str]) -> Response:
        return self._ok(pedido=self._pedido_out(self._pedido(params)))

    # ----------------------------------------------------------------- pedido.incluir
    def _incluir(self, params: dict[str, str]) -> Response:
        raw = params.get("pedido", "")
        if not raw.strip():
            raise TinyFailure(10, "parâmetro pedido não informado", 1)
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as error:
            raise TinyFailure(3, f"JSON mal formado ou inválido: {error}", 1) from error
        if isinstance(document, dict) and isinstance(document.get("pedidos"), list):
            entries = [item.get("pedido") if isinstance(item, dict) else None for item in document["pedidos"]]
        elif isinstance(document, dict) and "pedido" in document:
            entries = [document["pedido"]]
        else:
            raise TinyFailure(3, 'JSON mal formado ou inválido: esperado {"pedido": {…}}', 1)
        registros = [self._incluir_um(sequencia, entry) for sequencia, entry in enumerate(entries, start=1)]
        failed = sum(1 for registro in registros if registro["registro"]["status"] == "Erro")
        if failed == 0:
            return self._ok(registros=registros)
        processing = 2 if failed == len(registros) else 4
        return self._envelope(processing, "Erro" if processing == 2 else "OK", registros=registros)

    def _incluir_um(self, sequencia: int, entry: Any) -> dict[str, Any]:
        try:
            if not isinstance(entry, dict):
                raise TinyFailure(31, "pedido deve ser um objeto")
            pedido = self._parse_pedido(entry)
        except TinyFailure as failure:
            return {
                "registro": self._render(
                    {
                        "sequencia": sequencia,
                        "status": "Erro",
                        "codigo_erro": failure.code,
                        "erros": [{"erro": failure.message}],
                    }
                )
            }
        if self.faults.take("drop_order_creation", "POST", "/api2/pedido.incluir") is not None:
            # Answer as if stored, spend the id and number, keep nothing: "pedido não integrado".
            ghost_id, ghost_number = self._allocate_ids()
            return {
                "registro": self._render(
                    {"sequencia": sequencia, "status": "OK", "id": ghost_id, "numero": ghost_number}
                )
            }
        self._store_new(pedido)
        return {
            "registro": self._render(
                {"sequencia": sequencia, "status": "OK", "id": pedido["id"], "numero": pedido["numero"]}
            )
        }

    def _allocate_ids(self) -> tuple[int, int]:
        pedido_id, numero = self.state.next_pedido_id, self.state.next_numero
        self.state.next_pedido_id += 1
        self.state.next_numero += 1
        return pedido_id, numero

    def _store_new(self, pedido: dict[str, Any]) -> None:
        pedido["id"], pedido["numero"] = self._allocate_ids()
        self.state.pedidos[pedido["id"]] = pedido
        self._notify(pedido, "inclusao_pedido")

    def _parse_pedido(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Validate one ``pedido`` of pedido.incluir and build the stored record (no ids yet)."""
        cliente_in = entry.get("cliente")
        if not isinstance(cliente_in, dict) or not _text(cliente_in.get("nome")).strip():
            raise TinyFailure(31, "cliente.nome: campo obrigatório")
        document = _text(cliente_in.get("cpf_cnpj")).strip()
        document_digits = ""
        if document:
            try:
                document_digits = parse_tax_document(document).number
            except FiscalError as error:
                raise TinyFailure(31, f"cliente.cpf_cnpj inválido: {error.detail}") from error
        itens_in = entry.get("itens")
        if not isinstance(itens_in, list) or not itens_in:
            raise TinyFailure(31, "itens: informe ao menos um item")
        itens = [self._parse_item(position, raw) for position, raw in enumerate(itens_in, start=1)]
        ecommerce_number = _text(entry.get("numero_pedido_ecommerce")).strip()
        rejects_duplicates = self.config.get_bool("reject_duplicate_ecommerce_number")
        if rejects_duplicates and any(
            ecommerce_number and pedido["numero_ecommerce"] == ecommerce_number
            for pedido in self.state.pedidos.values()
        ):
            raise TinyFailure(
                30, f"Registro em duplicidade: pedido do e-commerce {ecommerce_number} já existe"
            )
        situacao = situacao_code(_text(entry.get("situacao")) or "aberto")
        if situacao is None:
            raise TinyFailure(31, f"situacao inválida: {entry.get('situacao')!r}")
        data_pedido = _text(entry.get("data_pedido")).strip() or br_date(brasilia_now())
        data_prevista = _text(entry.get("data_prevista")).strip()
        for name, value in (("data_pedido", data_pedido), ("data_prevista", data_prevista)):
            if value:
                try:
                    parse_br_date(value)
                except ValueError:
                    raise TinyFailure(31, f"{name}: data inválida {value!r} (use dd/mm/aaaa)") from None
        cliente = self._cliente(cliente_in, document_digits)
        frete = _decimal(entry.get("valor_frete"), "valor_frete")
        desconto = _decimal(entry.get("valor_desconto"), "valor_desconto")
        outras = _decimal(entry.get("outras_despesas"), "outras_despesas")
        total_produtos = sum(
            (item["item"]["quantidade"] * item["item"]["valor_unitario"] for item in itens), Decimal(0)
        )
        total = (total_produtos + frete + outras - desconto).quantize(_CENT)
        forma_pagamento = _text(entry.get("forma_pagamento"))
        parcelas = self._parcelas(entry.get("parcelas"), total, data_pedido, forma_pagamento)
        endereco_entrega = (
            entry.get("endereco_entrega") if isinstance(entry.get("endereco_entrega"), dict) else {}
        )
        now = brasilia_now()
        return {
            "id": 0,
            "numero": 0,
            "numero_ecommerce": ecommerce_number,
            "data_pedido": data_pedido,
            "data_prevista": data_prevista,
            "data_faturamento": "",
            "data_envio": "",
            "data_entrega": "",
            "id_lista_preco": 0,
            "descricao_lista_preco": "",
            "cliente": cliente,
            "endereco_entrega": {key: _text(value) for key, value in (endereco_entrega or {}).items()},
            "itens": itens,
            "parcelas": parcelas,
            "marcadores": [],
            "condicao_pagamento": _text(entry.get("condicao_pagamento")),
            "forma_pagamento": forma_pagamento,
            "meio_pagamento": _text(entry.get("meio_pagamento")),
            "nome_transportador": _text(entry.get("nome_transportador")),
            "frete_por_conta": _text(entry.get("frete_por_conta")) or "R",
            "valor_frete": frete,
            "valor_desconto": desconto,
            "outras_despesas": outras,
            "total_produtos": total_produtos,
            "total_pedido": total,
            "numero_ordem_compra": _text(entry.get("numero_ordem_compra")),
            "deposito": "",
            "ecommerce": {
                "id": 0,
                "numeroPedidoEcommerce": ecommerce_number,
                "numeroPedidoCanalVenda": "",
                "nomeEcommerce": _text(entry.get("nome_ecommerce"))
                or (ECOMMERCE_NAME if ecommerce_number else ""),
            },
            "forma_envio": _text(entry.get("forma_envio")),
            "forma_frete": _text(entry.get("forma_frete")),
            "situacao": "",
            "obs": _text(entry.get("obs")),
            "obs_interna": _text(entry.get("obs_internas") or entry.get("obs_interna")),
            "id_vendedor": 0,
            "nome_vendedor": "",
            "codigo_rastreamento": "",
            "url_rastreamento": "",
            "id_nota_fiscal": 0,
            "_situacao": situacao,
            "_created_at": now,
            "_updated_at": now,
        }

    def _cliente(self, data: dict[str, Any], document_digits: str) -> dict[str, Any]:
        contact_key = document_digits or _text(data.get("nome")).strip().lower()
        if contact_key not in self.state.contatos:
            self.state.contatos[contact_key] = self.state.next_contato_id
            self.state.next_contato_id += 1
        fields = (
            "nome_fantasia",
            "ie",
            "rg",
            "endereco",
            "numero",
            "complemento",
            "bairro",
            "cep",
            "cidade",
            "uf",
        )
        cliente = {
            "codigo": _text(data.get("codigo")),
            "nome": _text(data.get("nome")).strip(),
            **{name: _text(data.get(name)) for name in fields},
            "tipo_pessoa": _text(data.get("tipo_pessoa")) or ("J" if len(document_digits) == 14 else "F"),
            "cpf_cnpj": _text(data.get("cpf_cnpj")).strip(),
            "pais": _text(data.get("pais")) or "Brasil",
            "fone": _text(data.get("fone")),
            "email": _text(data.get("email")),
            "_document_digits": document_digits,
            "_id_contato": self.state.contatos[contact_key],
        }
        return cliente

    @staticmethod
    def _parse_item(position: int, raw: Any) -> dict[str, Any]:
        item = raw.get("item") if isinstance(raw, dict) else None
        if not isinstance(item, dict):
            raise TinyFailure(31, f'itens[{position}]: esperado {{"item": {{…}}}}')
        description = _text(item.get("descricao")).strip()
        if not description:
            raise TinyFailure(31, f"itens[{position}].descricao: campo obrigatório")
        quantity = _decimal(item.get("quantidade"), f"itens[{position}].quantidade")
        unit_price = _decimal(item.get("valor_unitario"), f"itens[{position}].valor_unitario")
        if quantity <= 0:
            raise TinyFailure(31, f"itens[{position}].quantidade deve ser maior que zero")
        if unit_price < 0:
            raise TinyFailure(31, f"itens[{position}].valor_unitario não pode ser negativo")
        return {
            "item": {
                "id_produto": 0,
                "codigo": _text(item.get("codigo")),
                "descricao": description,
                "unidade": _text(item.get("unidade")) or "UN",
                "quantidade": quantity,
                "valor_unitario": unit_price,
                "info_adicional": _text(item.get("info_adicional")),
            }
        }

    @staticmethod
    def _parcelas(raw: Any, total: Decimal, data_pedido: str, forma_pagamento: str) -> list[dict[str, Any]]:
        if isinstance(raw, list) and raw:
            parcelas = []
            for position, entry in enumerate(raw, start=1):
                parcela = entry.get("parcela") if isinstance(entry, dict) else None
                if not isinstance(parcela, dict):
                    raise TinyFailure(31, f'parcelas[{position}]: esperado {{"parcela": {{…}}}}')
                parcelas.append(
                    {
                        "parcela": {
                            "dias": int(_decimal(parcela.get("dias"), "dias")),
                            "data": _text(parcela.get("data")),
                            "valor": _decimal(parcela.get("valor"), "valor"),
                            "obs": _text(parcela.get("obs")),
                            "forma_pagamento": _text(parcela.get("forma_pagamento")) or forma_pagamento,
                            "meio_pagamento": _text(parcela.get("meio_pagamento")),
                        }
                    }
                )
            return parcelas
        return [
            {
                "parcela": {
                    "dias": 0,
                    "data": data_pedido,
                    "valor": total,
                    "obs": "",
                    "forma_pagamento": forma_pagamento,
                    "meio_pagamento": "",
                }
            }
        ]

    # ----------------------------------------------------------------- situação, tracking
    def _alterar_situacao(self, params: dict[str, str]) -> Response:
        pedido = self._pedido(params)
        code = situacao_code(params.get("situacao", ""))
        if code is None:
            raise TinyFailure(31, f"situacao inválida: {params.get('situacao', '')!r}")
        self._change_situacao(pedido, code)
        return self._ok()

    def _change_situacao(self, pedido: dict[str, Any], code: str, when: datetime | None = None) -> bool:
        """Move ``pedido`` to ``code``, fill the matching date, notify; ``False`` if unchanged."""
        if pedido["_situacao"] == code:
            return False
        now = when or brasilia_now()
        dates = {"faturado": "data_faturamento", "enviado": "data_envio", "entregue": "data_entrega"}
        if code in dates and not pedido[dates[code]]:
            pedido[dates[code]] = br_date(now)
        pedido["_situacao"] = code
        pedido["_updated_at"] = now
        self._notify(pedido, "atualizacao_pedido")
        return True

    def _cadastrar_rastreamento(self, params: dict[str, str]) -> Response:
        pedido = self._pedido(params)
        code = params.get("codigo_rastreamento", "").strip()
        if not code:
            raise TinyFailure(10, "parâmetro codigo_rastreamento não informado", 1)
        data_envio = params.get("data_envio", "").strip()
        if data_envio:
            try:
                parse_br_date(data_envio)
            except ValueError:
                raise TinyFailure(31, f"data_envio inválida {data_envio!r} (use dd/mm/aaaa)") from None
            pedido["data_envio"] = data_envio
        pedido["codigo_rastreamento"] = code
        pedido["url_rastreamento"] = params.get("url_rastreamento", "").strip()
        pedido["_updated_at"] = brasilia_now()
        return self._ok()

    # ----------------------------------------------------------------- notas fiscais
    def _gerar_nota(self, params: dict[str, str]) -> Response:
        pedido = self._pedido(params)
        modelo = params.get("modelo", "NFe").strip() or "NFe"
        if modelo.upper() not in ("NFE", "NFCE"):
            raise TinyFailure(31, f"modelo inválido {modelo!r} (use NFe ou NFCe)")
        nota = self._issue(pedido, modelo=modelo, with_xml=self.config.get_bool("include_nfe_xml"))
        registro = {"idNotaFiscal": nota["id"], "numero": nota["numero"], "serie": nota["serie"]}
        return self._ok(registros=[{"registro": self._render(registro)}])

    def _issue(
        self, pedido: dict[str, Any], *, modelo: str = "NFe", with_xml: bool, when: datetime | None = None
    ) -> dict[str, Any]:
        """Authorize an NF-e for ``pedido`` (valid key, optional nfeProc) and make it "faturado"."""
        if pedido["_situacao"] == "cancelado":
            raise TinyFailure(31, "Pedido cancelado não pode ser faturado")
        if pedido["id_nota_fiscal"]:
            raise TinyFailure(30, "Já existe nota fiscal emitida para este pedido")
        issued_at = (when or brasilia_now()).astimezone(BRASILIA)
        state = self.state
        numero = state.next_nota_numero
        state.next_nota_numero += 1
        model = "65" if modelo.upper() == "NFCE" else "55"
        series = self.config.get_int("nfe_series")
        key = build_nfe_key(
            cuf=UF_CODES[self.config.get_str("account_uf")],
            year=issued_at.year,
            month=issued_at.month,
            emitter_document=self.config.get_str("account_cnpj"),
            model=model,
            series=series,
            number=numero,
            emission_type="1",
            code=f"{state.rng.randrange(10_000_000, 100_000_000)}",
        )
        nota_id = state.next_nota_id
        state.next_nota_id += 1
        cliente = pedido["cliente"]
        nota: dict[str, Any] = {
            "id": nota_id,
            "tipo_nota": "S",
            "natureza_operacao": "Venda de mercadorias",
            "modelo": model,
            "numero": numero,
            "serie": series,
            "numero_ecommerce": pedido["numero_ecommerce"],
            "data_emissao": br_date(issued_at),
            "data_saida": br_date(issued_at),
            "hora_saida": issued_at.strftime("%H:%M:%S"),
            "situacao": "Autorizada",
            "cliente": {
                name: cliente[name]
                for name in (
                    "nome",
                    "tipo_pessoa",
                    "cpf_cnpj",
                    "endereco",
                    "numero",
                    "complemento",
                    "bairro",
                    "cep",
                )
            }
            | {
                "cidade": cliente["cidade"],
                "uf": cliente["uf"],
                "fone": cliente["fone"],
                "email": cliente["email"],
            },
            "itens": [dict(item) for item in pedido["itens"]],
            "valor_produtos": pedido["total_produtos"],
            "valor_frete": pedido["valor_frete"],
            "valor_desconto": pedido["valor_desconto"],
            "valor_nota": pedido["total_pedido"],
            "valor": pedido["total_pedido"],
            "chave_acesso": key,
            "id_pedido": pedido["id"],
            "numero_pedido": pedido["numero"],
        }
        if with_xml:
            nota["xml_nfe"] = self._nfe_xml(key, pedido, issued_at)
        state.notas[nota_id] = nota
        pedido["id_nota_fiscal"] = nota_id
        if not self._change_situacao(pedido, "faturado", issued_at):
            pedido["_updated_at"] = issued_at
        return nota

    def _nfe_xml(self, key: str, pedido: dict[str, Any], issued_at: datetime) -> str:
        digits = pedido["cliente"]["_document_digits"]
        lines = [
            (
                item["item"]["codigo"] or f"ITEM-{position}",
                item["item"]["descricao"],
                item["item"]["quantidade"],
                item["item"]["valor_unitario"],
            )
            for position, item in enumerate(pedido["itens"], start=1)
        ]
        return build_nfe_xml(
            key,
            total=pedido["total_pedido"],
            lines=lines,
            recipient_cpf=digits if len(digits) == 11 else None,
            recipient_cnpj=digits if len(digits) == 14 else None,
            recipient_name=pedido["cliente"]["nome"],
            emitter_name=self.config.get_str("account_name"),
            issued_at=issued_at,
        )

    def _nota(self, params: dict[str, str]) -> dict[str, Any]:
        raw_id = params.get("id", "").strip()
        if not raw_id:
            raise TinyFailure(10, "parâmetro id não informado", 1)
        nota = self.state.notas.get(int(raw_id)) if raw_id.isdigit() else None
        if nota is None:
            raise TinyFailure(self.config.get_int("not_found_error_code"), "Nota fiscal não localizada")
        return nota

    def _nota_obter(self, params: dict[str, str]) -> Response:
        return self._ok(nota_fiscal=self._render(self._nota(params)))

    def _nota_obter_xml(self, params: dict[str, str]) -> Response:
        nota = self._nota(params)
        if "xml_nfe" not in nota:
            raise TinyFailure(32, "XML da nota fiscal não disponível")
        return self._ok(xml_nfe=nota["xml_nfe"])

    # ----------------------------------------------------------------- webhook
    def _notify(self, pedido: dict[str, Any], tipo: str) -> None:
        if self._seeding:
            return  # the seed is history: nothing of it is announced
        cliente = pedido["cliente"]
        dados = {
            "id": pedido["id"],
            "numero": pedido["numero"],
            "data": pedido["data_pedido"],
            "idPedidoEcommerce": pedido["numero_ecommerce"],
            "codigoSituacao": pedido["_situacao"],
            "descricaoSituacao": SITUACOES[pedido["_situacao"]],
            "idContato": cliente["_id_contato"],
            "idNotaFiscal": pedido["id_nota_fiscal"],
            "nomeEcommerce": pedido["ecommerce"]["nomeEcommerce"],
            "formaEnvio": {"id": "", "descricao": pedido["forma_envio"]},
            "cliente": {"nome": cliente["nome"], "cpfCnpj": cliente["cpf_cnpj"]},
        }
        payload = {
            "versao": self.config.get_str("webhook_version"),
            "cnpj": self.config.get_str("account_cnpj"),
            "tipo": tipo,
            "dados": dados,
        }
        self.send_webhook(tipo, payload)

    # ----------------------------------------------------------------- seed
    def new_state(self, seed: bool) -> TinyState:
        state = TinyState()
        return self.seed_through_live_paths(state, self._seed) if seed else state

    def _seed(self) -> None:
        """The paid demo orders, as the ERP received them from the shop."""
        now = brasilia_now()
        situacoes = {"delivered": "entregue", "in_transit": "enviado", None: "aprovado"}
        for demo in DEMO_ORDERS:
            if demo.status != "paid":
                continue
            placed = now - timedelta(days=demo.days_ago, hours=3)
            pedido = self._parse_pedido(
                _pedido_json(demo.customer, demo.lines, demo.shipping, str(demo.number), demo.payment_method)
            )
            pedido["data_pedido"] = br_date(placed)
            pedido["_situacao"] = "aprovado"
            pedido["id"], pedido["numero"] = self._allocate_ids()
            self.state.pedidos[pedido["id"]] = pedido
            if demo.shipment is not None and demo.tracking_code is not None:
                self._issue(
                    pedido, with_xml=self.config.get_bool("include_nfe_xml"), when=placed + timedelta(days=1)
                )
                pedido["codigo_rastreamento"] = demo.tracking_code
                pedido["url_rastreamento"] = tracking_url("correios", demo.tracking_code) or ""
                pedido["data_envio"] = br_date(placed + timedelta(days=2))
                pedido["_situacao"] = situacoes[demo.shipment]
            if pedido["_situacao"] == "entregue":
                pedido["data_entrega"] = br_date(placed + timedelta(days=6))
            pedido["_updated_at"] = placed + timedelta(days=2)

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
        lines = [(product_by_sku(str(item["sku"])), item.get("qty", 1), item.get("price")) for item in items]
        try:
            entry = _pedido_json(
                customer_from_json(body.get("customer")),
                [(product, qty) for product, qty, _ in lines],
                _decimal(body.get("valor_frete", "15.00"), "valor_frete"),
                str(body.get("numero_ecommerce", "")),
                str(body.get("forma_pagamento", "pix")),
                prices=[price for _, _, price in lines],
            )
            if "situacao" in body:
                entry["situacao"] = str(body["situacao"])
            pedido = self._parse_pedido(entry)
        except TinyFailure as failure:
            raise ControlError(400, "invalid", failure.message) from failure
        if days := days_ago(body):
            pedido["data_pedido"] = br_date(brasilia_now() - timedelta(days=days))
        self._store_new(pedido)
        return Response.json({"pedido": self._pedido_out(pedido)}, 201)

    def _control_invoice(self, request: Request) -> Response:
        pedido = self._control_pedido(request)
        body = control_body(request)
        modelo = str(body.get("modelo", "NFe"))
        with_xml = body.get("xml", self.config.get_bool("include_nfe_xml"))
        try:
            nota = self._issue(pedido, modelo=modelo, with_xml=bool(with_xml))
        except TinyFailure as failure:
            raise ControlError(409, "conflict", failure.message) from failure
        return Response.json({"nota_fiscal": self._render(nota), "pedido": self._pedido_out(pedido)})

    def _control_ship(self, request: Request) -> Response:
        pedido = self._control_pedido(request)
        body = control_body(request)
        if pedido["_situacao"] == "cancelado":
            raise ControlError(409, "conflict", "pedido cancelado")
        code = str(body.get("codigo_rastreamento") or "")
        if not code:
            code = correios_code(self.state.next_tracking_serial, str(body.get("prefix", "AA")))
            self.state.next_tracking_serial += 1
        pedido["codigo_rastreamento"] = code
        pedido["url_rastreamento"] = str(body.get("url_rastreamento") or tracking_url("correios", code) or "")
        pedido["nome_transportador"] = pedido["nome_transportador"] or "Correios"
        pedido["data_envio"] = br_date(brasilia_now())
        if not self._change_situacao(pedido, "enviado"):
            pedido["_updated_at"] = brasilia_now()
        return Response.json({"pedido": self._pedido_out(pedido)})

    def _control_move(self, request: Request, code: str) -> Response:
        pedido = self._control_pedido(request)
        self._change_situacao(pedido, code)
        return Response.json({"pedido": self._pedido_out(pedido)})

    def _control_deliver(self, request: Request) -> Response:
        return self._control_move(request, "entregue")

    def _control_cancel(self, request: Request) -> Response:
        return self._control_move(request, "cancelado")

    def _control_situacao(self, request: Request) -> Response:
        code = situacao_code(str(control_body(request).get("situacao", "")))
        if code is None:
            raise ControlError(400, "invalid", f"situacao must be one of {', '.join(SITUACOES)}")
        return self._control_move(request, code)


def _pedido_json(
    customer: Customer,
    lines: list[tuple[Any, Any]],
    shipping: Decimal,
    ecommerce_number: str,
    payment_method: str,
    prices: list[Any] | None = None,
) -> dict[str, Any]:
    """A pedido.incluir ``pedido`` object as Malote's connector would build it."""
    address = customer.address
    return {
        "cliente": {
            "nome": customer.full_name,
            "tipo_pessoa": "J" if customer.is_company else "F",
            "cpf_cnpj": customer.document,
            "endereco": address.street,
            "numero": address.number,
            "complemento": address.complement,
            "bairro": address.district,
            "cep": address.cep,
            "cidade": address.city,
            "uf": address.uf,
            "fone": customer.phone,
            "email": customer.email,
        },
        "itens": [
            {
                "item": {
                    "codigo": product.sku,
                    "descricao": product.name,
                    "unidade": "UN",
                    "quantidade": str(qty),
                    "valor_unitario": str(
                        product.price if not prices or prices[index] is None else prices[index]
                    ),
                }
            }
            for index, (product, qty) in enumerate(lines)
        ],
        "numero_pedido_ecommerce": ecommerce_number,
        "valor_frete": str(shipping),
        "forma_pagamento": payment_method,
        "forma_envio": "Correios",
        "nome_transportador": "Correios",
    }
