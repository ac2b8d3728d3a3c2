"""Jumpseller fake: products, variants and stock (OpenAPI ``Product``/``Variant`` conformance)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.jumpseller import JumpsellerState
from malote_dev.sandbox.seed import PRODUCTS
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver, jumpseller_auth, validate_jumpseller

Fake = RunningFake[JumpsellerState]


def _get(http: httpx.Client, fake: Fake, path: str, **params: Any) -> httpx.Response:
    return http.get(f"{fake.api_url}{path}", params=params, auth=jumpseller_auth(fake))


def _put(http: httpx.Client, fake: Fake, path: str, root: str, fields: dict[str, Any]) -> httpx.Response:
    return http.put(f"{fake.api_url}{path}", json={root: fields}, auth=jumpseller_auth(fake))


def test_the_seed_skus_are_products_valid_against_the_openapi(jumpseller: Fake, http: httpx.Client) -> None:
    listed = _get(http, jumpseller, "/products.json").json()
    validate_jumpseller(listed, "Product", array=True)
    assert [item["product"]["sku"] for item in listed] == [product.sku for product in PRODUCTS]
    first = listed[0]["product"]
    assert (first["id"], first["price"], first["stock"], first["stock_unlimited"]) == (3001, 49.9, 100, False)
    assert first["variants"] == [] and first["created_at"].endswith(" UTC")
    page_two = _get(http, jumpseller, "/products.json", limit=4, page=2).json()
    assert [item["product"]["id"] for item in page_two] == [3005, 3006, 3007, 3008]
    assert _get(http, jumpseller, "/products/count.json").json() == {"count": 10}
    one = _get(http, jumpseller, "/products/3005.json")
    validate_jumpseller(one.json(), "Product")
    assert one.json()["product"]["sku"] == "MOCHILA-URBANA"
    missing = _get(http, jumpseller, "/products/1.json")
    assert missing.status_code == 404
    validate_jumpseller(missing.json(), "NotFound")


def test_search_finds_products_by_sku_name_and_variant_sku(jumpseller: Fake, http: httpx.Client) -> None:
    found = _get(http, jumpseller, "/products/search.json", query="chinelo-42", fields="sku").json()
    validate_jumpseller(found, "Product", array=True)
    assert [item["product"]["id"] for item in found] == [3001]
    by_name = _get(http, jumpseller, "/products/search.json", query="praia").json()
    assert [item["product"]["id"] for item in by_name] == [3001, 3007]
    assert _get(http, jumpseller, "/products/search.json", query="listrada", fields="sku").json() == []
    assert _get(http, jumpseller, "/products/search.json", query="praia", status="disabled").json() == []

    http.post(
        f"{jumpseller.api_url}/products/3002/variants.json",
        json={
            "variant": {
                "sku": "CAMISETA-BRANCA-G",
                "stock": 4,
                "options": [{"name": "Tamanho", "value": "G"}],
            }
        },
        auth=jumpseller_auth(jumpseller),
    )
    via_variant = _get(
        http, jumpseller, "/products/search.json", query="BRANCA-G", fields="sku,variants"
    ).json()
    assert [item["product"]["id"] for item in via_variant] == [3002]
    assert _get(http, jumpseller, "/products/search.json", query="BRANCA-G", fields="sku").json() == []

    no_query = _get(http, jumpseller, "/products/search.json")
    assert no_query.status_code == 404
    validate_jumpseller(no_query.json(), "NotFound")


def test_put_sets_the_stock_once_and_hooks_only_real_changes(
    jumpseller: Fake, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    answer = _put(http, jumpseller, "/products/3001.json", "product", {"stock": 37, "id": 1, "weight": 9})
    assert answer.status_code == 200
    validate_jumpseller(answer.json(), "Product")
    product = answer.json()["product"]
    assert (product["id"], product["stock"], product["weight"]) == (3001, 37, 0.3)
    assert jumpseller.state.products[3001]["stock"] == 37

    again = _put(http, jumpseller, "/products/3001.json", "product", {"stock": 37})
    assert again.status_code == 200
    renamed = _put(http, jumpseller, "/products/3001.json", "product", {"name": "Chinelo 42"})
    assert renamed.json()["product"]["name"] == "Chinelo 42"
    received = receiver.wait_for(2)
    assert [item.headers["jumpseller-event"] for item in receiver.settle()] == [
        "product_stock_updated",
        "product_updated",
    ]
    validate_jumpseller(received[0].json, "Product")
    assert received[0].json["product"]["stock"] == 37


@pytest.mark.parametrize(
    "fields",
    [{"stock": -1}, {"stock": "3"}, {"stock": True}, {"stock": 2.5}, {"stock_unlimited": "yes"},
     {"status": "gone"}, {"price": -1}, {"name": " "}],
)  # fmt: skip
def test_invalid_product_values_get_422(jumpseller: Fake, http: httpx.Client, fields: dict[str, Any]) -> None:
    response = _put(http, jumpseller, "/products/3001.json", "product", fields)
    assert response.status_code == 422
    validate_jumpseller(response.json(), "BadParams")
    assert jumpseller.state.products[3001]["stock"] == 100


def test_malformed_product_requests(jumpseller: Fake, http: httpx.Client) -> None:
    auth = jumpseller_auth(jumpseller)
    url = f"{jumpseller.api_url}/products/3001.json"
    assert http.put(url, data={"product[stock]": "1"}, auth=auth).status_code == 415
    assert http.put(url, json={"stock": 1}, auth=auth).status_code == 400
    assert _put(http, jumpseller, "/products/999.json", "product", {"stock": 1}).status_code == 404
    assert http.put(url, json={"product": {"stock": 1}}).status_code == 401


def test_name_and_price_on_put_are_a_switch(receiver: WebhookReceiver, http: httpx.Client) -> None:
    with start_fake("jumpseller", product_put_requires_name_and_price=True) as fake:
        assert _put(http, fake, "/products/3001.json", "product", {"stock": 5}).status_code == 422
        full = _put(
            http, fake, "/products/3001.json", "product", {"name": "Chinelo", "price": 49.9, "stock": 5}
        )
        assert full.json()["product"]["stock"] == 5


def test_variants_have_their_own_stock(jumpseller: Fake, http: httpx.Client) -> None:
    auth = jumpseller_auth(jumpseller)
    created = http.post(
        f"{jumpseller.api_url}/products/3002/variants.json",
        json={
            "variant": {
                "sku": "CAMISETA-BRANCA-G",
                "stock": 4,
                "options": [{"name": "Tamanho", "value": "G"}],
            }
        },
        auth=auth,
    )
    assert created.status_code == 200
    validate_jumpseller(created.json(), "Variant")
    variant = created.json()["variant"]
    assert (variant["id"], variant["sku"], variant["stock"], variant["price"]) == (
        5001,
        "CAMISETA-BRANCA-G",
        4,
        79.9,
    )
    assert variant["options"][0]["value"] == "G"

    listed = _get(http, jumpseller, "/products/3002/variants.json").json()
    validate_jumpseller(listed, "Variant", array=True)
    updated = _put(http, jumpseller, "/products/3002/variants/5001.json", "variant", {"stock": 9})
    validate_jumpseller(updated.json(), "Variant")
    assert updated.json()["variant"]["stock"] == 9
    one = _get(http, jumpseller, "/products/3002/variants/5001.json").json()
    assert one["variant"]["stock"] == 9
    product = _get(http, jumpseller, "/products/3002.json").json()
    validate_jumpseller(product, "Product")
    assert product["product"]["stock"] == 100 and product["product"]["variants"][0]["stock"] == 9
    assert [record.event for record in jumpseller.webhooks.wait_for(2)] == [
        "product_updated",
        "product_stock_updated",
    ]

    assert _get(http, jumpseller, "/products/3002/variants/4242.json").status_code == 404
    assert (
        _put(http, jumpseller, "/products/3003/variants/5001.json", "variant", {"stock": 1}).status_code
        == 404
    )
    assert _get(http, jumpseller, "/products/1/variants.json").status_code == 404
    assert (
        _put(http, jumpseller, "/products/3002/variants/5001.json", "variant", {"stock": -2}).status_code
        == 422
    )


def test_the_product_schema_check_is_not_vacuous(jumpseller: Fake) -> None:
    import jsonschema  # type: ignore[import-untyped]

    product = jumpseller.state.products[3001]
    for broken in (
        {**product, "stock": "100"},
        {**product, "status": "gone"},
        {**product, "variants": [{"stock": "1"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_jumpseller({"product": broken}, "Product")
