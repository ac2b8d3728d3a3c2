"""Bling fake: bearer auth and the token endpoint, error envelope, situações per account, contatos,
pedidos (create, read, list with filters and pages, situação), NF-e with valid keys, signed
webhooks, the operator's control API and the faults."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from malote.fiscal import check_nfe_xml_against_key, parse_nfe_key, parse_nfe_xml
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.bling import BlingState
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver

Fake = RunningFake[BlingState]


@pytest.fixture
def bling(receiver: WebhookReceiver) -> Iterator[Fake]:
    with start_fake("bling", webhook_url=f"{receiver.url}/hooks/bling") as fake:
        yield fake


def _auth(fake: Fake, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or fake.credentials['access_token']}"}


def _get(http: httpx.Client, fake: Fake, path: str, **params: Any) -> httpx.Response:
    return http.get(f"{fake.api_url}{path}", params=params, headers=_auth(fake))


def _post(http: httpx.Client, fake: Fake, path: str, body: Any = None) -> httpx.Response:
    return http.post(f"{fake.api_url}{path}", json=body, headers=_auth(fake))


def _contato(http: httpx.Client, fake: Fake, document: str = "52998224725") -> int:
    response = _post(
        http, fake, "/contatos", {"nome": "Maria Souza", "numeroDocumento": document, "tipo": "F"}
    )
    assert response.status_code == 201, response.text
    contato_id: int = response.json()["data"]["id"]
    return contato_id


def _pedido_body(contato_id: int, numero_loja: str = "20001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "numeroLoja": numero_loja,
        "data": "2026-11-20",
        "contato": {"id": contato_id},
        "itens": [
            {"codigo": "CHINELO-42", "unidade": "UN", "quantidade": 2, "valor": 49.9, "descricao": "Chinelo"},
            {"codigo": "BONE-AZUL", "quantidade": 1, "valor": "59.90", "descricao": "Boné"},
        ],
        "desconto": {"valor": 10, "unidade": "REAL"},
        "transporte": {"fretePorConta": 0, "frete": 15, "etiqueta": {"nome": "Maria Souza", "uf": "SP"}},
        "parcelas": [{"dataVencimento": "2026-11-23", "valor": 164.7, "formaPagamento": {"id": 1}}],
    }
    body.update(overrides)
    return body


def _create(http: httpx.Client, fake: Fake, numero_loja: str = "20001", **overrides: Any) -> int:
    contato_id = _contato(http, fake)
    response = _post(http, fake, "/pedidos/vendas", _pedido_body(contato_id, numero_loja, **overrides))
    assert response.status_code == 201, response.text
    pedido_id: int = response.json()["data"]["id"]
    return pedido_id


def _signature(fake: Fake, body: bytes) -> str:
    secret = fake.credentials["client_secret"].encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# ----------------------------------------------------------------- auth
@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"], ids=["missing", "unknown", "basic"])
def test_calls_without_a_valid_bearer_token_are_401(
    bling: Fake, http: httpx.Client, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = http.get(f"{bling.api_url}/pedidos/vendas", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_token"
    assert _get(http, bling, "/pedidos/vendas").status_code == 200


def test_refresh_token_renews_access_and_rotates(bling: Fake, http: httpx.Client) -> None:
    creds = bling.credentials
    http.post(f"{bling.url}/_sandbox/oauth/expire")
    assert _get(http, bling, "/pedidos/vendas").status_code == 401
    url = f"{bling.api_url}/oauth/token"
    form = {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}
    wrong_client = http.post(url, data=form, auth=(creds["client_id"], "wrong"))
    assert wrong_client.status_code == 401 and wrong_client.json()["error"]["type"] == "invalid_client"
    renewed = http.post(url, data=form, auth=(creds["client_id"], creds["client_secret"]))
    assert renewed.status_code == 200, renewed.text
    tokens = renewed.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 21600
    assert tokens["refresh_token"] != creds["refresh_token"]
    assert _get(http, bling, "/pedidos/vendas").status_code == 401
    response = http.get(f"{bling.api_url}/pedidos/vendas", headers=_auth(bling, tokens["access_token"]))
    assert response.status_code == 200
    reused = http.post(url, data=form, auth=(creds["client_id"], creds["client_secret"]))
    assert reused.status_code == 400 and reused.json()["error"]["type"] == "invalid_grant"


# ----------------------------------------------------------------- situações
def test_situacoes_are_served_per_account_module(bling: Fake, http: httpx.Client) -> None:
    (module,) = _get(http, bling, "/situacoes/modulos").json()["data"]
    assert module["nome"] == "Vendas"
    rows = _get(http, bling, f"/situacoes/modulos/{module['id']}").json()["data"]
    assert {row["nome"]: row["id"] for row in rows}["Atendido"] == 9
    assert _get(http, bling, "/situacoes/modulos/1").status_code == 404
    assert _get(http, bling, "/situacoes/12").json()["data"]["nome"] == "Cancelado"


def test_another_account_has_other_ids_and_custom_situacoes(http: httpx.Client) -> None:
    with start_fake("bling", seed=False, situacoes={"Em aberto": 101, "Atendido": 102}) as fake:
        rows = _get(http, fake, "/situacoes/modulos/98310").json()["data"]
        assert [(row["id"], row["nome"]) for row in rows] == [(101, "Em aberto"), (102, "Atendido")]
        added = http.post(f"{fake.url}/_sandbox/situacoes", json={"nome": "Enviado", "idHerdado": 102})
        assert added.status_code == 201
        custom = added.json()["situacao"]
        pedido_id = _create(http, fake)
        assert _get(http, fake, f"/pedidos/vendas/{pedido_id}").json()["data"]["situacao"] == {
            "id": 101,
            "valor": 0,
        }
        patched = http.patch(
            f"{fake.api_url}/pedidos/vendas/{pedido_id}/situacoes/{custom['id']}", headers=_auth(fake)
        )
        assert patched.status_code == 204
        situacao = _get(http, fake, f"/pedidos/vendas/{pedido_id}").json()["data"]["situacao"]
        assert situacao == {"id": custom["id"], "valor": 1}, "inherits Atendido's meaning"


# ----------------------------------------------------------------- contatos and pedidos
def test_contatos_are_created_and_found_by_document(bling: Fake, http: httpx.Client) -> None:
    contato_id = _contato(http, bling, "987.654.321-00")
    found = _get(http, bling, "/contatos", numeroDocumento="98765432100").json()["data"]
    assert [(row["id"], row["numeroDocumento"]) for row in found] == [(contato_id, "98765432100")]
    assert _get(http, bling, "/contatos", numeroDocumento="24681357928").json()["data"] == []
    invalid = _post(http, bling, "/contatos", {"nome": "X", "numeroDocumento": "987.654.321-01"})
    assert invalid.status_code == 400 and invalid.json()["error"]["type"] == "VALIDATION_ERROR"
    assert _post(http, bling, "/contatos", {"numeroDocumento": "24681357928"}).status_code == 400


def test_create_then_read_an_order_with_a_signed_webhook(
    bling: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    pedido_id = _create(http, bling)
    pedido = _get(http, bling, f"/pedidos/vendas/{pedido_id}").json()["data"]
    assert (pedido["numeroLoja"], pedido["totalProdutos"], pedido["total"]) == ("20001", 159.7, 164.7)
    assert pedido["situacao"] == {"id": 6, "valor": 0} and pedido["notaFiscal"] == {"id": 0}
    assert pedido["contato"]["numeroDocumento"] == "52998224725"
    assert pedido["parcelas"][0]["formaPagamento"] == {"id": 1}

    (hook,) = receiver.wait_for(1)
    assert hook.path == "/hooks/bling"
    assert hook.headers["x-bling-signature-256"] == _signature(bling, hook.body)
    assert hook.headers["x-bling-signature-256"] != _signature(bling, hook.body + b" ")
    body = hook.json
    assert set(body) == {"eventId", "date", "version", "event", "companyId", "data"}
    assert (body["event"], body["data"]["id"], body["data"]["situacao"]) == (
        "order.created",
        pedido_id,
        {"id": 6, "valor": 0},
    )


@pytest.mark.parametrize(
    ("overrides", "element"),
    [
        ({"contato": {"id": 1}}, "contato"),
        ({"itens": []}, "itens"),
        ({"itens": [{"descricao": "X", "quantidade": 0, "valor": 1}]}, "itens"),
        ({"data": "20/11/2026"}, "data"),
        ({"situacao": {"id": 99}}, "idSituacao"),
    ],
)
def test_order_validation_errors(
    bling: Fake, http: httpx.Client, overrides: dict[str, Any], element: str
) -> None:
    contato_id = _contato(http, bling)
    before = len(bling.state.pedidos)
    response = _post(http, bling, "/pedidos/vendas", _pedido_body(contato_id, **overrides))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "VALIDATION_ERROR" and error["fields"][0]["element"] == element
    assert len(bling.state.pedidos) == before


def test_a_repeated_numero_loja_is_accepted_unless_switched(bling: Fake, http: httpx.Client) -> None:
    assert _create(http, bling, "DUP") != _create(http, bling, "DUP")
    bling.configure(reject_duplicate_numero_loja=True)
    contato_id = _contato(http, bling)
    refused = _post(http, bling, "/pedidos/vendas", _pedido_body(contato_id, "DUP"))
    assert refused.status_code == 400 and refused.json()["error"]["fields"][0]["element"] == "numeroLoja"


def test_unknown_order_is_404_in_blings_envelope(bling: Fake, http: httpx.Client) -> None:
    response = _get(http, bling, "/pedidos/vendas/1")
    assert response.status_code == 404 and response.json()["error"]["type"] == "RESOURCE_NOT_FOUND"


def test_listing_filters_and_pages(bling: Fake, http: httpx.Client) -> None:
    contato_id = _contato(http, bling, "24681357928")
    ids = [
        _post(http, bling, "/pedidos/vendas", _pedido_body(contato_id, f"L{number}")).json()["data"]["id"]
        for number in range(5)
    ]
    found = _get(http, bling, "/pedidos/vendas", **{"numerosLojas[]": ["L1", "L3"]}).json()["data"]
    assert [row["numeroLoja"] for row in found] == ["L1", "L3"]
    assert set(found[0]) == {
        "id",
        "numero",
        "numeroLoja",
        "data",
        "dataSaida",
        "dataPrevista",
        "totalProdutos",
        "total",
        "contato",
        "situacao",
        "loja",
    }
    first = _get(http, bling, "/pedidos/vendas", limite=2, idContato=contato_id).json()["data"]
    third = _get(http, bling, "/pedidos/vendas", limite=2, pagina=3, idContato=contato_id).json()["data"]
    assert [row["id"] for row in first] == ids[:2] and [row["id"] for row in third] == ids[4:]
    by_situacao = _get(http, bling, "/pedidos/vendas", **{"idsSituacoes[]": ["9"]}).json()["data"]
    assert {row["numeroLoja"] for row in by_situacao} == {"10001", "10003"}
    future = _get(http, bling, "/pedidos/vendas", dataAlteracaoInicial="2999-01-01 00:00:00").json()
    assert future == {"data": []}
    assert _get(http, bling, "/pedidos/vendas", dataAlteracaoInicial="01/01/2026").status_code == 400
    with start_fake("bling", list_newest_first=True) as newest:
        rows = _get(http, newest, "/pedidos/vendas").json()["data"]
        assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)


def test_change_situacao_is_204_notifies_and_refuses_unknown_ids(
    bling: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    pedido_id = _create(http, bling)
    url = f"{bling.api_url}/pedidos/vendas/{pedido_id}/situacoes"
    assert http.patch(f"{url}/15", headers=_auth(bling)).status_code == 204
    assert http.patch(f"{url}/15", headers=_auth(bling)).status_code == 204
    unknown = http.patch(f"{url}/99", headers=_auth(bling))
    assert unknown.status_code == 400 and unknown.json()["error"]["fields"][0]["element"] == "idSituacao"
    events = [(item.json["event"], item.json["data"]["situacao"]["id"]) for item in receiver.wait_for(2)]
    assert events == [("order.created", 6), ("order.updated", 15)]
    assert len(receiver.settle()) == 2  # the repeated change was a no-op


# ----------------------------------------------------------------- NF-e
def test_generate_nfe_gives_a_valid_key_a_matching_xml_and_atendido(
    bling: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    pedido_id = _create(http, bling)
    generated = _post(http, bling, f"/pedidos/vendas/{pedido_id}/gerar-nfe")
    assert generated.status_code == 201
    nfe_id = generated.json()["data"]["idNotaFiscal"]
    nfe = _get(http, bling, f"/nfe/{nfe_id}").json()["data"]
    key = parse_nfe_key(nfe["chaveAcesso"])
    assert (key.model, key.series, key.number, key.emitter_document) == (
        "55",
        1,
        int(nfe["numero"]),
        "11222333000181",
    )
    assert nfe["situacao"] == 5 and nfe["numeroPedidoLoja"] == "20001" and nfe["valorNota"] == 164.7
    xml = http.get(nfe["xml"])
    assert xml.status_code == 200
    document = parse_nfe_xml(xml.text)
    check_nfe_xml_against_key(document, key.key)
    assert str(document.total) == "164.70" and document.recipient_document == "52998224725"
    pedido = _get(http, bling, f"/pedidos/vendas/{pedido_id}").json()["data"]
    assert pedido["notaFiscal"] == {"id": nfe_id} and pedido["situacao"]["id"] == 9

    again = _post(http, bling, f"/pedidos/vendas/{pedido_id}/gerar-nfe")
    assert again.status_code == 400 and "já possui" in again.json()["error"]["description"]
    assert _get(http, bling, "/nfe/1").status_code == 404
    events = [item.json["event"] for item in receiver.wait_for(3)]
    assert events == ["order.created", "invoice.created", "order.updated"]
    assert receiver.received[1].json["data"]["chaveAcesso"] == key.key


def test_nfe_generation_can_fail_like_bling_and_answer_bare(bling: Fake, http: httpx.Client) -> None:
    pedido_id = _create(http, bling)
    bling.configure(nfe_generation_error="Certificado digital não configurado")
    failed = _post(http, bling, f"/pedidos/vendas/{pedido_id}/gerar-nfe")
    assert failed.status_code == 400
    assert failed.json()["error"]["description"] == "Certificado digital não configurado"
    assert not bling.state.nfes or all(n["numeroPedidoLoja"] != "20001" for n in bling.state.nfes.values())
    bling.configure(nfe_generation_error=None, generate_nfe_wrapped=False, nfe_sets_situacao=None)
    bare = _post(http, bling, f"/pedidos/vendas/{pedido_id}/gerar-nfe").json()
    assert set(bare) == {"idNotaFiscal"}
    assert _get(http, bling, f"/pedidos/vendas/{pedido_id}").json()["data"]["situacao"]["id"] == 6


# ----------------------------------------------------------------- operator, seed, faults
def test_operator_places_changes_invoices_and_cancels(bling: Fake, http: httpx.Client) -> None:
    placed = http.post(
        f"{bling.url}/_sandbox/orders", json={"customer": "joao", "items": [{"sku": "BONE-AZUL", "qty": 2}]}
    )
    assert placed.status_code == 201
    pedido = placed.json()["pedido"]
    assert pedido["total"] == 134.8 and pedido["contato"]["numeroDocumento"] == "11144477735"
    control = f"{bling.url}/_sandbox/orders/{pedido['id']}"
    assert (
        http.post(f"{control}/situacao", json={"nome": "Em andamento"}).json()["pedido"]["situacao"]["id"]
        == 15
    )
    assert http.post(f"{control}/situacao", json={"id": 99}).status_code == 400
    invoiced = http.post(f"{control}/invoice").json()
    assert parse_nfe_key(invoiced["nfe"]["chaveAcesso"]).uf == "SP"
    assert http.post(f"{control}/invoice").status_code == 409
    assert http.post(f"{control}/cancel").json()["pedido"]["situacao"] == {"id": 12, "valor": 2}
    assert http.post(f"{bling.url}/_sandbox/orders/1/cancel").status_code == 404


def test_seeded_history_is_consistent(bling: Fake) -> None:
    by_number = {pedido["numeroLoja"]: pedido for pedido in bling.state.pedidos.values()}
    assert sorted(by_number) == ["10001", "10003", "10006"]
    shipped = by_number["10003"]
    nfe = bling.state.nfes[shipped["notaFiscal"]["id"]]
    assert parse_nfe_key(nfe["chaveAcesso"]).number == int(nfe["numero"])
    assert shipped["situacao"]["id"] == 9 and shipped["transporte"]["volumes"][0]["codigoRastreamento"]
    assert by_number["10006"]["situacao"]["id"] == 15 and by_number["10006"]["notaFiscal"]["id"] == 0
    assert bling.webhooks.all() == []  # the seed is not announced


def test_drop_order_creation_answers_201_but_stores_nothing(
    bling: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    contato_id = _contato(http, bling)
    bling.faults.set("drop_order_creation")
    ghost = _post(http, bling, "/pedidos/vendas", _pedido_body(contato_id, "LOST-1"))
    assert ghost.status_code == 201 and ghost.json()["data"]["id"]
    assert _get(http, bling, f"/pedidos/vendas/{ghost.json()['data']['id']}").status_code == 404
    assert _get(http, bling, "/pedidos/vendas", **{"numerosLojas[]": "LOST-1"}).json()["data"] == []
    kept = _post(http, bling, "/pedidos/vendas", _pedido_body(contato_id, "KEPT-1")).json()["data"]["id"]
    assert kept != ghost.json()["data"]["id"]
    assert [item.json["data"]["numeroLoja"] for item in receiver.wait_for(1)] == ["KEPT-1"]
    assert len(receiver.settle()) == 1


def test_base_faults_answer_in_blings_envelope(bling: Fake, http: httpx.Client) -> None:
    bling.faults.set("rate_limit", retry_after=3)
    limited = _get(http, bling, "/pedidos/vendas")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert limited.json()["error"]["type"] == "TOO_MANY_REQUESTS"
    bling.faults.set("error_5xx", status=503)
    failed = _get(http, bling, "/pedidos/vendas")
    assert failed.status_code == 503 and failed.json()["error"]["type"] == "SERVER_ERROR"
    bling.faults.set("drop")
    with pytest.raises(httpx.TransportError):
        _get(http, bling, "/pedidos/vendas")
    assert _get(http, bling, "/pedidos/vendas").status_code == 200


def test_webhook_duplicate_fault_sends_the_same_signed_body_twice(
    bling: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    bling.faults.set("webhook_duplicate")
    _create(http, bling)
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    assert first.headers["x-bling-signature-256"] == second.headers["x-bling-signature-256"]
