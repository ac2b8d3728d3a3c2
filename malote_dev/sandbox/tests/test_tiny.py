"""Tiny fake: token, envelope and logical errors, every service, NF-e and webhooks."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from malote.fiscal import check_nfe_xml_against_key, parse_nfe_key, parse_nfe_xml, validate_tracking_code
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver, tiny_call
from malote_dev.sandbox.tiny import TinyState

Fake = RunningFake[TinyState]


def _pedido_json(numero_ecommerce: str = "20001", **overrides: Any) -> str:
    pedido: dict[str, Any] = {
        "cliente": {"nome": "Maria Souza", "cpf_cnpj": "529.982.247-25", "uf": "SP", "cep": "01001-000"},
        "itens": [
            {
                "item": {
                    "codigo": "CHINELO-42",
                    "descricao": "Chinelo",
                    "unidade": "UN",
                    "quantidade": 2,
                    "valor_unitario": "49.90",
                }
            },
            {"item": {"codigo": "BONE-AZUL", "descricao": "Boné", "quantidade": "1", "valor_unitario": 59.9}},
        ],
        "numero_pedido_ecommerce": numero_ecommerce,
        "valor_frete": "15.00",
        "forma_pagamento": "pix",
        "parcelas": [{"parcela": {"dias": 0, "valor": "174.70", "forma_pagamento": "pix"}}],
    }
    pedido.update(overrides)
    return json.dumps({"pedido": pedido})


def _incluir(
    http: httpx.Client, fake: Fake, numero_ecommerce: str = "20001", **overrides: Any
) -> dict[str, Any]:
    return tiny_call(http, fake, "pedido.incluir", pedido=_pedido_json(numero_ecommerce, **overrides))


# ----------------------------------------------------------------- token and envelope
def test_token_missing_or_invalid_is_a_logical_error_inside_http_200(tiny: Fake, http: httpx.Client) -> None:
    missing = http.post(
        f"{tiny.api_url}/pedidos.pesquisa.php", data={"formato": "json", "situacao": "aprovado"}
    )
    assert missing.status_code == 200
    assert missing.json()["retorno"] == {
        "status_processamento": "1",
        "status": "Erro",
        "codigo_erro": "1",
        "erros": [{"erro": "token não informado"}],
    }
    wrong = http.post(f"{tiny.api_url}/pedidos.pesquisa.php", data={"token": "x" * 64, "formato": "json"})
    assert wrong.json()["retorno"]["codigo_erro"] == "2"
    assert len(tiny.credentials["token"]) == 64


def test_query_string_parameters_work_and_formato_is_required(tiny: Fake, http: httpx.Client) -> None:
    token = tiny.credentials["token"]
    via_query = http.get(
        f"{tiny.api_url}/pedidos.pesquisa.php",
        params={"token": token, "formato": "JSON", "situacao": "enviado"},
    )
    assert via_query.json()["retorno"]["status"] == "OK"
    no_format = http.post(
        f"{tiny.api_url}/pedidos.pesquisa.php", data={"token": token, "situacao": "enviado"}
    )
    assert no_format.json()["retorno"]["codigo_erro"] == "10"


def test_unknown_services_are_404_and_the_php_suffix_is_optional(tiny: Fake, http: httpx.Client) -> None:
    assert http.post(f"{tiny.api_url}/pedido.apagar.php", data={"token": "x"}).status_code == 404
    token = tiny.credentials["token"]
    bare = http.post(
        f"{tiny.api_url}/pedido.obter", data={"token": token, "formato": "json", "id": "700000001"}
    )
    assert bare.json()["retorno"]["status"] == "OK"


# ----------------------------------------------------------------- pedidos.pesquisa
def test_search_by_situacao_dates_document_and_ecommerce_number(tiny: Fake, http: httpx.Client) -> None:
    shipped = tiny_call(http, tiny, "pedidos.pesquisa", situacao="enviado")
    assert shipped["status"] == "OK" and shipped["pagina"] == 1 and shipped["numero_paginas"] == 1
    (entry,) = shipped["pedidos"]
    assert entry["pedido"]["numero_ecommerce"] == "10003" and entry["pedido"]["situacao"] == "Enviado"
    assert entry["pedido"]["valor"] == "149.70"
    assert validate_tracking_code("correios", entry["pedido"]["codigo_rastreamento"])
    by_label = tiny_call(http, tiny, "pedidos.pesquisa", situacao="Faturado (atendido)")
    assert by_label["codigo_erro"] == "20"
    by_document = tiny_call(http, tiny, "pedidos.pesquisa", cpf_cnpj="11144477735")
    assert [item["pedido"]["numero_ecommerce"] for item in by_document["pedidos"]] == ["10001"]
    by_number = tiny_call(http, tiny, "pedidos.pesquisa", numeroEcommerce="10006")
    assert by_number["pedidos"][0]["pedido"]["situacao"] == "Aprovado"
    everything = tiny_call(http, tiny, "pedidos.pesquisa", dataInicial="01/01/2000", sort="DESC")
    assert [item["pedido"]["numero_ecommerce"] for item in everything["pedidos"]] == [
        "10006",
        "10003",
        "10001",
    ]
    future = tiny_call(http, tiny, "pedidos.pesquisa", dataInicial="01/01/2999")
    assert (future["status"], future["codigo_erro"]) == ("Erro", "20")
    recent = tiny_call(http, tiny, "pedidos.pesquisa", dataAtualizacao="01/01/2999 00:00:00")
    assert recent["codigo_erro"] == "20"


def test_search_errors(tiny: Fake, http: httpx.Client) -> None:
    assert tiny_call(http, tiny, "pedidos.pesquisa")["codigo_erro"] == "10"  # at least one filter
    assert tiny_call(http, tiny, "pedidos.pesquisa", situacao="aprovado", pagina="9")["codigo_erro"] == "23"
    assert tiny_call(http, tiny, "pedidos.pesquisa", dataInicial="2025-01-01")["codigo_erro"] == "31"


def test_search_pages_hold_fifty_orders(tiny: Fake, http: httpx.Client) -> None:
    for number in range(55):
        assert _incluir(http, tiny, f"P{number}")["status"] == "OK"
    first = tiny_call(http, tiny, "pedidos.pesquisa", situacao="aberto")
    second = tiny_call(http, tiny, "pedidos.pesquisa", situacao="aberto", pagina="2")
    assert (first["numero_paginas"], len(first["pedidos"]), len(second["pedidos"])) == (2, 50, 5)


# ----------------------------------------------------------------- pedido.obter / incluir
def test_include_then_get_an_order(tiny: Fake, http: httpx.Client, receiver: WebhookReceiver) -> None:
    retorno = _incluir(http, tiny)
    assert (retorno["status_processamento"], retorno["status"]) == ("3", "OK")
    (registro,) = [item["registro"] for item in retorno["registros"]]
    assert registro["sequencia"] == "1" and registro["status"] == "OK"
    pedido = tiny_call(http, tiny, "pedido.obter", id=registro["id"])["pedido"]
    assert pedido["numero"] == registro["numero"] and pedido["numero_ecommerce"] == "20001"
    assert (pedido["total_produtos"], pedido["valor_frete"], pedido["total_pedido"]) == (
        "159.70",
        "15.00",
        "174.70",
    )
    assert pedido["itens"][0]["item"] == {
        "id_produto": "0",
        "codigo": "CHINELO-42",
        "descricao": "Chinelo",
        "unidade": "UN",
        "quantidade": "2.00",
        "valor_unitario": "49.90",
        "info_adicional": "",
    }
    assert pedido["cliente"]["cpf_cnpj"] == "529.982.247-25" and pedido["cliente"]["tipo_pessoa"] == "F"
    assert (pedido["situacao"], pedido["codigo_rastreamento"], pedido["id_nota_fiscal"]) == (
        "Em aberto",
        "",
        "0",
    )

    (notification,) = receiver.wait_for(1)
    assert notification.path == "/hooks/tiny" and "x-hub-signature" not in notification.headers
    body = notification.json
    assert (body["tipo"], body["cnpj"], body["versao"]) == ("inclusao_pedido", "11222333000181", "1.0.0")
    assert body["dados"]["id"] == int(registro["id"]) and body["dados"]["idPedidoEcommerce"] == "20001"
    assert (body["dados"]["codigoSituacao"], body["dados"]["descricaoSituacao"]) == ("aberto", "Em aberto")
    assert body["dados"]["cliente"] == {"nome": "Maria Souza", "cpfCnpj": "529.982.247-25"}


def test_get_errors(tiny: Fake, http: httpx.Client) -> None:
    assert tiny_call(http, tiny, "pedido.obter")["codigo_erro"] == "10"
    unknown = tiny_call(http, tiny, "pedido.obter", id="123")
    assert (unknown["status"], unknown["codigo_erro"]) == ("Erro", "32")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cliente": {"cpf_cnpj": "529.982.247-25"}}, "cliente.nome"),
        ({"cliente": {"nome": "X", "cpf_cnpj": "529.982.247-26"}}, "cpf_cnpj"),
        ({"itens": []}, "itens"),
        ({"itens": [{"item": {"descricao": "X", "quantidade": 0, "valor_unitario": 1}}]}, "quantidade"),
        (
            {"itens": [{"item": {"descricao": "X", "quantidade": 1, "valor_unitario": "49,90"}}]},
            "valor_unitario",
        ),
        ({"situacao": "voando"}, "situacao"),
        ({"data_pedido": "2025-01-01"}, "data_pedido"),
    ],
)
def test_include_validation_errors_are_per_record(
    tiny: Fake, http: httpx.Client, overrides: dict[str, Any], message: str
) -> None:
    before = len(tiny.state.pedidos)
    retorno = _incluir(http, tiny, **overrides)
    assert (retorno["status_processamento"], retorno["status"]) == ("2", "Erro")
    registro = retorno["registros"][0]["registro"]
    assert registro["status"] == "Erro" and registro["codigo_erro"] == "31"
    assert message in registro["erros"][0]["erro"]
    assert len(tiny.state.pedidos) == before


def test_include_rejects_bad_json_and_a_missing_parameter(tiny: Fake, http: httpx.Client) -> None:
    assert tiny_call(http, tiny, "pedido.incluir", pedido="{nope")["codigo_erro"] == "3"
    assert tiny_call(http, tiny, "pedido.incluir", pedido='{"outra": 1}')["codigo_erro"] == "3"
    assert tiny_call(http, tiny, "pedido.incluir")["codigo_erro"] == "10"


def test_a_batch_with_one_bad_record_is_partially_processed(tiny: Fake, http: httpx.Client) -> None:
    good = json.loads(_pedido_json("B1"))
    bad: dict[str, Any] = {"pedido": {"cliente": {}, "itens": []}}
    retorno = tiny_call(http, tiny, "pedido.incluir", pedido=json.dumps({"pedidos": [good, bad]}))
    assert retorno["status_processamento"] == "4"
    assert [item["registro"]["status"] for item in retorno["registros"]] == ["OK", "Erro"]


def test_a_repeated_ecommerce_number_is_accepted_by_default(tiny: Fake, http: httpx.Client) -> None:
    first = _incluir(http, tiny, "DUP-1")["registros"][0]["registro"]
    second = _incluir(http, tiny, "DUP-1")["registros"][0]["registro"]
    assert first["id"] != second["id"]
    found = tiny_call(http, tiny, "pedidos.pesquisa", numeroEcommerce="DUP-1")
    assert len(found["pedidos"]) == 2


def test_rejecting_repeated_ecommerce_numbers_is_a_switch(http: httpx.Client) -> None:
    with start_fake("tiny", reject_duplicate_ecommerce_number=True, numbers_as_strings=False) as fake:
        assert _incluir(http, fake, "DUP-1")["status_processamento"] == 3
        retorno = _incluir(http, fake, "DUP-1")
        assert retorno["registros"][0]["registro"]["codigo_erro"] == 30


def test_drop_order_creation_answers_success_but_stores_nothing(
    tiny: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    tiny.faults.set("drop_order_creation")
    ghost = _incluir(http, tiny, "LOST-1")["registros"][0]["registro"]
    assert ghost["status"] == "OK" and ghost["id"] and ghost["numero"]
    assert tiny_call(http, tiny, "pedido.obter", id=ghost["id"])["codigo_erro"] == "32"
    assert tiny_call(http, tiny, "pedidos.pesquisa", numeroEcommerce="LOST-1")["codigo_erro"] == "20"
    kept = _incluir(http, tiny, "KEPT-1")["registros"][0]["registro"]
    assert kept["id"] != ghost["id"]
    assert [item.json["dados"]["idPedidoEcommerce"] for item in receiver.wait_for(1)] == ["KEPT-1"]
    assert len(receiver.settle()) == 1


# ----------------------------------------------------------------- situação, tracking, NF-e
def test_change_situacao_notifies_and_rejects_unknown_codes(
    tiny: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    pedido_id = _incluir(http, tiny)["registros"][0]["registro"]["id"]
    assert (
        tiny_call(http, tiny, "pedido.alterar.situacao", id=pedido_id, situacao="aprovado")["status"] == "OK"
    )
    assert (
        tiny_call(http, tiny, "pedido.alterar.situacao", id=pedido_id, situacao="aprovado")["status"] == "OK"
    )
    invalid = tiny_call(http, tiny, "pedido.alterar.situacao", id=pedido_id, situacao="pago")
    assert invalid["codigo_erro"] == "31"
    assert [item.json["tipo"] for item in receiver.wait_for(2)] == ["inclusao_pedido", "atualizacao_pedido"]
    assert len(receiver.settle()) == 2  # the repeated change was a no-op
    assert receiver.received[1].json["dados"]["codigoSituacao"] == "aprovado"


def test_tracking_code_registration(tiny: Fake, http: httpx.Client) -> None:
    pedido_id = _incluir(http, tiny)["registros"][0]["registro"]["id"]
    retorno = tiny_call(
        http,
        tiny,
        "pedido.cadastrar.codigo.rastreamento",
        id=pedido_id,
        codigo_rastreamento="AA123456785BR",
        data_envio="20/11/2026",
        url_rastreamento="https://rastreamento.correios.com.br/app/index.php?objetos=AA123456785BR",
    )
    assert retorno["status"] == "OK"
    pedido = tiny_call(http, tiny, "pedido.obter", id=pedido_id)["pedido"]
    assert (pedido["codigo_rastreamento"], pedido["data_envio"]) == ("AA123456785BR", "20/11/2026")
    missing = tiny_call(http, tiny, "pedido.cadastrar.codigo.rastreamento", id=pedido_id)
    assert missing["codigo_erro"] == "10"


def test_generating_an_nfe_gives_a_valid_key_and_matching_xml(tiny: Fake, http: httpx.Client) -> None:
    pedido_id = _incluir(
        http, tiny, cliente={"nome": "Comercial Exemplo Ltda", "cpf_cnpj": "12.345.678/0001-95"}
    )["registros"][0]["registro"]["id"]
    generated = tiny_call(http, tiny, "gerar.nota.fiscal.pedido", id=pedido_id, modelo="NFe")
    registro = generated["registros"][0]["registro"]
    assert registro["serie"] == "1" and registro["numero"]
    nota = tiny_call(http, tiny, "nota.fiscal.obter", id=registro["idNotaFiscal"])["nota_fiscal"]
    key = parse_nfe_key(nota["chave_acesso"])
    assert (key.model, key.series, key.number, key.emitter_document) == (
        "55",
        1,
        int(nota["numero"]),
        "11222333000181",
    )
    assert nota["valor"] == nota["valor_nota"] == "174.70" and nota["situacao"] == "Autorizada"
    document = parse_nfe_xml(nota["xml_nfe"])
    check_nfe_xml_against_key(document, key.key)
    assert str(document.total) == "174.70" and document.recipient_document == "12345678000195"
    xml_only = tiny_call(http, tiny, "nota.fiscal.obter.xml", id=registro["idNotaFiscal"])
    assert xml_only["xml_nfe"] == nota["xml_nfe"]
    pedido = tiny_call(http, tiny, "pedido.obter", id=pedido_id)["pedido"]
    assert (
        pedido["situacao"] == "Faturado (atendido)" and pedido["id_nota_fiscal"] == registro["idNotaFiscal"]
    )
    again = tiny_call(http, tiny, "gerar.nota.fiscal.pedido", id=pedido_id)
    assert again["codigo_erro"] == "30"
    assert tiny_call(http, tiny, "nota.fiscal.obter", id="1")["codigo_erro"] == "32"


# ----------------------------------------------------------------- the ERP operator
def test_operator_invoices_ships_and_delivers(
    tiny: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    pedido_id = int(_incluir(http, tiny)["registros"][0]["registro"]["id"])
    control = f"{tiny.url}/_sandbox/orders/{pedido_id}"
    invoiced = http.post(f"{control}/invoice", json={}).json()
    key = parse_nfe_key(invoiced["nota_fiscal"]["chave_acesso"])
    assert key.uf == "SP" and invoiced["pedido"]["situacao"] == "Faturado (atendido)"
    assert parse_nfe_xml(invoiced["nota_fiscal"]["xml_nfe"]).recipient_document == "52998224725"
    assert http.post(f"{control}/invoice", json={}).status_code == 409

    shipped = http.post(f"{control}/ship", json={}).json()["pedido"]
    code = validate_tracking_code("correios", shipped["codigo_rastreamento"])
    assert shipped["url_rastreamento"].endswith(code) and shipped["situacao"] == "Enviado"
    delivered = http.post(f"{control}/deliver").json()["pedido"]
    assert delivered["situacao"] == "Entregue" and delivered["data_entrega"]
    manual = http.post(f"{control}/situacao", json={"situacao": "nao_entregue"}).json()["pedido"]
    assert manual["situacao"] == "Não entregue"

    kinds = [(item.json["tipo"], item.json["dados"]["codigoSituacao"]) for item in receiver.wait_for(5)]
    assert kinds == [
        ("inclusao_pedido", "aberto"),
        ("atualizacao_pedido", "faturado"),
        ("atualizacao_pedido", "enviado"),
        ("atualizacao_pedido", "entregue"),
        ("atualizacao_pedido", "nao_entregue"),
    ]
    assert receiver.received[1].json["dados"]["idNotaFiscal"] == int(invoiced["nota_fiscal"]["id"])


def test_operator_places_and_cancels_an_order(tiny: Fake, http: httpx.Client) -> None:
    placed = http.post(
        f"{tiny.url}/_sandbox/orders", json={"customer": "joao", "items": [{"sku": "BONE-AZUL", "qty": 2}]}
    )
    assert placed.status_code == 201
    pedido = placed.json()["pedido"]
    assert pedido["total_pedido"] == "134.80" and pedido["cliente"]["cpf_cnpj"] == "111.444.777-35"
    canceled = http.post(f"{tiny.url}/_sandbox/orders/{pedido['id']}/cancel").json()["pedido"]
    assert canceled["situacao"] == "Cancelado"
    assert http.post(f"{tiny.url}/_sandbox/orders/{pedido['id']}/invoice").status_code == 409
    assert (
        http.post(f"{tiny.url}/_sandbox/orders/{pedido['id']}/situacao", json={"situacao": "x"}).status_code
        == 400
    )
    assert http.post(f"{tiny.url}/_sandbox/orders/1/deliver").status_code == 404


def test_seeded_history_is_consistent(tiny: Fake) -> None:
    by_number = {pedido["numero_ecommerce"]: pedido for pedido in tiny.state.pedidos.values()}
    assert sorted(by_number) == ["10001", "10003", "10006"]
    delivered = by_number["10001"]
    assert delivered["_situacao"] == "entregue" and delivered["id_nota_fiscal"]
    nota = tiny.state.notas[delivered["id_nota_fiscal"]]
    assert parse_nfe_key(nota["chave_acesso"]).number == nota["numero"]
    assert tiny.webhooks.all() == []  # the seed is not announced


# ----------------------------------------------------------------- switches
def test_numbers_and_situacao_switches(http: httpx.Client) -> None:
    with start_fake("tiny", numbers_as_strings=False, situacao_as_label=False) as fake:
        retorno = tiny_call(http, fake, "pedidos.pesquisa", situacao="enviado")
        assert retorno["status_processamento"] == 3
        pedido = retorno["pedidos"][0]["pedido"]
        assert isinstance(pedido["id"], int) and pedido["valor"] == 149.7 and pedido["situacao"] == "enviado"


def test_webhook_token_is_appended_to_the_url(receiver: WebhookReceiver, http: httpx.Client) -> None:
    url = f"{receiver.url}/tiny?loja=demo"
    with start_fake("tiny", webhook_url=url, webhook_token="s3cr3t") as fake:
        _incluir(http, fake)
        (received,) = receiver.wait_for(1)
        assert received.query == "loja=demo&token=s3cr3t"
