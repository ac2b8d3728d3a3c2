"""The demo store shared by the three fakes: ten SKUs, four Brazilian customers, six orders.

Every document is valid (CPF/CNPJ check digits) and every CEP lies in its UF's Correios range;
``test_seed.py`` checks both with :mod:`malote.fiscal`. No real person's data: the CPFs are the
well-known test numbers. :func:`customer_from_json` builds an ad-hoc customer for the control
APIs, so tests can place orders for anybody.

:data:`DEMO_ORDERS` is one story told by the three systems: the storefront (Jumpseller) holds all
six orders, the gateway (Pagar.me) the ones that reached payment, the ERP (Tiny) the paid ones,
with the same numbers, totals and Correios tracking codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from malote.fiscal import s10_check_digit

#: The Tiny account (the ERP's own company, issuer of its NF-e) and the shop's legal name.
ACCOUNT_CNPJ = "11222333000181"
ACCOUNT_NAME = "Malote Demo Comércio Ltda"

STATE_NAMES = {
    "SP": "São Paulo",
    "RJ": "Rio de Janeiro",
    "MG": "Minas Gerais",
    "RS": "Rio Grande do Sul",
    "PR": "Paraná",
    "SC": "Santa Catarina",
    "BA": "Bahia",
    "PE": "Pernambuco",
    "DF": "Distrito Federal",
}


@dataclass(frozen=True)
class Product:
    id: int
    sku: str
    name: str
    price: Decimal
    weight_kg: Decimal


@dataclass(frozen=True)
class Address:
    street: str
    number: str
    complement: str
    district: str
    city: str
    uf: str
    cep: str

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.uf, self.uf)

    @property
    def cep_digits(self) -> str:
        return "".join(char for char in self.cep if char.isdigit())


@dataclass(frozen=True)
class Customer:
    key: str
    name: str
    surname: str
    email: str
    phone: str
    document: str
    address: Address

    @property
    def full_name(self) -> str:
        return f"{self.name} {self.surname}".strip()

    @property
    def document_digits(self) -> str:
        return "".join(char for char in self.document if char.isdigit())

    @property
    def is_company(self) -> bool:
        return len(self.document_digits) == 14


PRODUCTS: tuple[Product, ...] = (
    Product(3001, "CHINELO-42", "Chinelo de praia 42", Decimal("49.90"), Decimal("0.30")),
    Product(3002, "CAMISETA-BRANCA-M", "Camiseta algodão branca M", Decimal("79.90"), Decimal("0.20")),
    Product(3003, "CANECA-CERAMICA", "Caneca de cerâmica 300 ml", Decimal("39.90"), Decimal("0.40")),
    Product(3004, "BONE-AZUL", "Boné azul aba curva", Decimal("59.90"), Decimal("0.15")),
    Product(3005, "MOCHILA-URBANA", "Mochila urbana 20 L", Decimal("189.90"), Decimal("0.80")),
    Product(3006, "GARRAFA-TERMICA", "Garrafa térmica 500 ml", Decimal("99.90"), Decimal("0.45")),
    Product(3007, "TOALHA-PRAIA", "Toalha de praia listrada", Decimal("69.90"), Decimal("0.50")),
    Product(3008, "OCULOS-SOL", "Óculos de sol polarizado", Decimal("149.90"), Decimal("0.10")),
    Product(3009, "MEIAS-KIT-3", "Kit 3 pares de meias", Decimal("34.90"), Decimal("0.15")),
    Product(3010, "CAFE-MOIDO-500G", "Café moído 500 g", Decimal("29.90"), Decimal("0.50")),
)

CUSTOMERS: tuple[Customer, ...] = (
    Customer(
        "maria",
        "Maria",
        "Souza",
        "maria.souza@example.com",
        "11999990001",
        "529.982.247-25",
        Address("Rua das Flores", "100", "ap 12", "Centro", "São Paulo", "SP", "01001-000"),
    ),
    Customer(
        "joao",
        "João",
        "Pereira",
        "joao.pereira@example.com",
        "21988880002",
        "111.444.777-35",
        Address("Avenida Rio Branco", "156", "sala 301", "Centro", "Rio de Janeiro", "RJ", "20040-003"),
    ),
    Customer(
        "ana",
        "Ana",
        "Costa",
        "ana.costa@example.com",
        "51977770003",
        "123.456.789-09",
        Address("Rua dos Andradas", "1000", "", "Centro Histórico", "Porto Alegre", "RS", "90020-008"),
    ),
    Customer(
        "comercial",
        "Comercial Exemplo",
        "Ltda",
        "compras@comercial-exemplo.example.com",
        "31966660004",
        "12.345.678/0001-95",
        Address("Avenida Afonso Pena", "1500", "loja 2", "Centro", "Belo Horizonte", "MG", "30130-005"),
    ),
)

_PRODUCTS_BY_SKU = {product.sku: product for product in PRODUCTS}
_CUSTOMERS_BY_KEY = {customer.key: customer for customer in CUSTOMERS}


class SeedError(ValueError):
    """An unknown SKU or customer key, or an unusable ad-hoc customer."""


def product_by_sku(sku: str) -> Product:
    try:
        return _PRODUCTS_BY_SKU[sku]
    except KeyError:
        raise SeedError(f"unknown SKU {sku!r} (known: {', '.join(_PRODUCTS_BY_SKU)})") from None


def customer_by_key(key: str) -> Customer:
    try:
        return _CUSTOMERS_BY_KEY[key]
    except KeyError:
        raise SeedError(f"unknown customer {key!r} (known: {', '.join(_CUSTOMERS_BY_KEY)})") from None


def customer_from_json(data: str | Mapping[str, Any] | None) -> Customer:
    """A seed customer by key (``"maria"``), the first one for ``None``, or an ad-hoc one.

    Ad-hoc form: ``{"name", "surname"?, "email"?, "phone"?, "document", "address"?: {"street",
    "number", "complement", "district", "city", "uf", "cep"}}``; missing address fields are taken
    from the first seed customer.
    """
    if data is None:
        return CUSTOMERS[0]
    if isinstance(data, str):
        return customer_by_key(data)
    if not isinstance(data, Mapping) or not data.get("name"):
        raise SeedError("customer must be a seed key or an object with at least a name")
    base = CUSTOMERS[0]
    address_data = data.get("address") or {}
    if not isinstance(address_data, Mapping):
        raise SeedError("customer.address must be an object")
    address = Address(
        street=str(address_data.get("street", base.address.street)),
        number=str(address_data.get("number", base.address.number)),
        complement=str(address_data.get("complement", "")),
        district=str(address_data.get("district", base.address.district)),
        city=str(address_data.get("city", base.address.city)),
        uf=str(address_data.get("uf", base.address.uf)),
        cep=str(address_data.get("cep", base.address.cep)),
    )
    return Customer(
        key=str(data.get("key", "custom")),
        name=str(data["name"]),
        surname=str(data.get("surname", "")),
        email=str(data.get("email", "cliente@example.com")),
        phone=str(data.get("phone", "11900000000")),
        document=str(data.get("document", "")),
        address=address,
    )


def correios_code(serial: int, prefix: str = "AA") -> str:
    """A valid UPU S10 Correios tracking code (``AA12345678?BR``) for a serial number."""
    serial8 = f"{serial % 100_000_000:08d}"
    return f"{prefix}{serial8}{s10_check_digit(serial8)}BR"


@dataclass(frozen=True)
class DemoOrder:
    """One order of the demo story; ``status`` and ``shipment`` use Jumpseller's enum values."""

    number: int
    days_ago: int
    customer_key: str
    items: tuple[tuple[str, int], ...]
    payment_method: str
    status: str
    shipment: str | None = None
    shipping: Decimal = Decimal("15.00")

    @property
    def customer(self) -> Customer:
        return customer_by_key(self.customer_key)

    @property
    def lines(self) -> list[tuple[Product, int]]:
        return [(product_by_sku(sku), qty) for sku, qty in self.items]

    @property
    def subtotal(self) -> Decimal:
        return sum((product.price * qty for product, qty in self.lines), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping

    @property
    def tracking_code(self) -> str | None:
        """Shipped orders carry the same Correios code in every system."""
        return correios_code(10_000_000 + self.number) if self.shipment else None


DEMO_ORDERS: tuple[DemoOrder, ...] = (
    DemoOrder(
        10001, 20, "joao", (("CAMISETA-BRANCA-M", 3), ("BONE-AZUL", 1)), "credit_card", "paid", "delivered"
    ),
    DemoOrder(10002, 10, "comercial", (("GARRAFA-TERMICA", 10),), "boleto", "canceled"),
    DemoOrder(10003, 5, "maria", (("CHINELO-42", 2), ("MEIAS-KIT-3", 1)), "pix", "paid", "in_transit"),
    DemoOrder(10004, 3, "maria", (("OCULOS-SOL", 1),), "pix", "abandoned"),
    DemoOrder(10005, 2, "joao", (("MOCHILA-URBANA", 1),), "boleto", "pending_payment"),
    DemoOrder(10006, 1, "ana", (("CANECA-CERAMICA", 2), ("CAFE-MOIDO-500G", 2)), "credit_card", "paid"),
)
