"""The demo data is valid Brazilian data and tells one story across the three fakes."""

from __future__ import annotations

from decimal import Decimal

from malote.fiscal import cep_matches_uf, parse_tax_document, validate_tracking_code
from malote_dev.sandbox.seed import CUSTOMERS, DEMO_ORDERS, PRODUCTS, correios_code, customer_from_json


def test_customers_have_valid_documents_and_ceps_in_their_state() -> None:
    assert {"529.982.247-25", "111.444.777-35"} <= {customer.document for customer in CUSTOMERS}
    for customer in CUSTOMERS:
        document = parse_tax_document(customer.document)
        assert document.kind == ("cnpj" if customer.is_company else "cpf")
        assert cep_matches_uf(customer.address.cep, customer.address.uf), customer.key


def test_catalog_has_about_ten_distinct_skus() -> None:
    assert len({product.sku for product in PRODUCTS}) == len(PRODUCTS) == 10
    assert all(product.price > 0 for product in PRODUCTS)


def test_demo_orders_cover_every_storefront_status_with_valid_tracking_codes() -> None:
    assert {order.status for order in DEMO_ORDERS} == {"paid", "pending_payment", "canceled", "abandoned"}
    shipped = [order for order in DEMO_ORDERS if order.shipment]
    assert shipped and all(validate_tracking_code("correios", str(order.tracking_code)) for order in shipped)
    assert DEMO_ORDERS[0].total == DEMO_ORDERS[0].subtotal + Decimal("15.00")


def test_correios_codes_carry_the_s10_check_digit() -> None:
    assert correios_code(12345678) == "AA123456785BR"  # the UPU's own example
    assert validate_tracking_code("correios", correios_code(47000001, "QB")).startswith("QB")


def test_ad_hoc_customers_fill_missing_address_fields() -> None:
    customer = customer_from_json({"name": "Zé", "document": "111.444.777-35", "address": {"uf": "RJ"}})
    assert customer.address.uf == "RJ" and customer.address.street == CUSTOMERS[0].address.street
    assert customer_from_json("ana").name == "Ana"
    assert customer_from_json(None) == CUSTOMERS[0]
