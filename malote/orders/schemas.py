"""Input schemas of the canonical order and of every transition.

Field rules raise ``PydanticCustomError`` with the stable code of the failed rule, so the API
answers ``{"code": "cpf_check_digit", "field": "customer.document", …}``. Rules that need the
order itself (totals, the NF-e XML against the order) live in the commands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.utils import timezone
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from malote import fiscal
from malote.orders.errors import OrdersErrorCode
from malote.orders.statuses import CancelReason, OrderStatus, PaymentMethod


def _coded(func: Callable[[str], Any]) -> Callable[[str], Any]:
    """Turn a fiscal validator's ``FiscalError`` into a pydantic error carrying the same code."""

    def validate(value: str) -> Any:
        try:
            return func(value)
        except fiscal.FiscalError as exc:
            raise PydanticCustomError(exc.code, exc.detail) from None

    return validate


def _no_timestamp(value: Any) -> Any:
    # pydantic would read a number (or a numeric string) as a Unix timestamp and a bool as 0 or 1;
    # every caller sends ISO 8601 text, so those are refused as the wrong type. Other text goes on
    # to pydantic's parser and its own codes.
    if isinstance(value, datetime) or (isinstance(value, str) and not _NUMBER.match(value)):
        return value
    raise PydanticCustomError("datetime_type", "Send an ISO 8601 date-time (YYYY-MM-DDTHH:MM:SS±HH:MM).")


def json_integer(value: Any) -> Any:
    # A whole number as JSON Schema counts one (5 or 5.0); never a bool or a numeric string, which
    # pydantic would otherwise read as 1/0 and 5.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        raise PydanticCustomError("int_from_float", "Send a whole number, without a fractional part.")
    raise PydanticCustomError("int_type", "Send a whole number (a JSON integer).")


# An integer field that refuses true, false and "5" (OpenAPI "type": "integer").
WholeNumber = Annotated[int, BeforeValidator(json_integer)]


def _aware(value: datetime) -> datetime:
    # Naive times are read in the shop's zone (America/Sao_Paulo), as Brazilian systems send them.
    try:
        aware = timezone.make_aware(value) if timezone.is_naive(value) else value
        aware.astimezone(UTC)
    except (OverflowError, ValueError):
        raise PydanticCustomError(
            OrdersErrorCode.DATETIME_OUT_OF_RANGE, "The date-time cannot be represented in UTC."
        ) from None
    if not 1970 <= aware.year <= 2200:
        raise PydanticCustomError(
            OrdersErrorCode.DATETIME_OUT_OF_RANGE, "The date-time must fall between 1970 and 2200."
        )
    return aware


# Text that is a number, which pydantic would read as a Unix timestamp (_no_timestamp).
_NUMBER = re.compile(r"\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$")
# The OpenAPI form of the rules below: a date-time between 1970 and 2200 (_aware), a CPF or CNPJ as
# the mask allows it (its check digits are checked by the server), a CEP, a UF, a money string.
YEAR_1970_TO_2200 = r"^(19[7-9][0-9]|20[0-9]{2}|21[0-9]{2}|2200)-"
DOCUMENT_PATTERN = (
    r"^\s*([0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}"
    r"|[0-9A-Za-z]{2}\.?[0-9A-Za-z]{3}\.?[0-9A-Za-z]{3}/?[0-9A-Za-z]{4}-?[0-9]{2})\s*$"
)
CEP_PATTERN = r"^\s*[0-9]{5}-?[0-9]{3}\s*$"
# Any letter case, as fiscal.normalize_uf upper-cases: "sp" is SP.
UF_PATTERN = (
    r"^\s*(" + "|".join("".join(f"[{c}{c.lower()}]" for c in uf) for uf in sorted(fiscal.UF_CODES)) + r")\s*$"
)
MONEY_TEXT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"

# Empty, or one @ between non-blank parts and a dot after it.
EMAIL_PATTERN = r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"
# 44 positions, blanks anywhere ignored: 6 digits, the emitter (12 of 0-9/A-Z) and 26 digits.
NFE_KEY_PATTERN = r"^\s*([0-9]\s*){6}([0-9A-Za-z]\s*){12}([0-9]\s*){26}$"
_EMAIL = re.compile(EMAIL_PATTERN)


def _email(value: str) -> str:
    if value and not _EMAIL.match(value):
        raise PydanticCustomError(OrdersErrorCode.EMAIL_INVALID, "Not a valid e-mail address.")
    return value.lower()


def _document(value: str) -> str:
    return str(_coded(fiscal.parse_tax_document)(value).number)


Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=2, examples=["49.90"]),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 9_999_999_999.99},
                {"type": "string", "pattern": MONEY_TEXT_PATTERN},
            ],
            "examples": ["49.90"],
        }
    ),
]
AwareDatetime = Annotated[
    datetime,
    BeforeValidator(_no_timestamp),
    AfterValidator(_aware),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": YEAR_1970_TO_2200}),
]
Text = Annotated[str, Field(max_length=200)]


class Strict(BaseModel):
    """Every input schema: unknown fields refused, text stripped, no NUL characters anywhere."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it at the edge for every database alike.
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError(OrdersErrorCode.NUL_CHARACTER, "Text may not contain NUL characters.")
        return value


class CustomerIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: Annotated[
        str, Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN}), AfterValidator(_email)
    ] = ""
    phone: str = Field(default="", max_length=30)
    document: Annotated[
        str,
        Field(
            max_length=30,
            description="CPF or CNPJ, masked or not",
            json_schema_extra={"pattern": DOCUMENT_PATTERN},
        ),
        AfterValidator(_document),
    ]


class AddressIn(Strict):
    street: str = Field(min_length=1, max_length=200)
    number: str = Field(default="", max_length=20)
    complement: str = Field(default="", max_length=100)
    district: str = Field(default="", max_length=100)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(max_length=2, description="UF", json_schema_extra={"pattern": UF_PATTERN})
    postal_code: str = Field(max_length=10, description="CEP", json_schema_extra={"pattern": CEP_PATTERN})
    country: str = Field(default="BR", min_length=2, max_length=2)

    @field_validator("state")
    @classmethod
    def _uf(cls, value: str) -> str:
        return str(_coded(fiscal.normalize_uf)(value))

    @field_validator("postal_code")
    @classmethod
    def _cep(cls, value: str) -> str:
        return str(_coded(fiscal.normalize_cep)(value))


class ItemIn(Strict):
    sku: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    quantity: WholeNumber = Field(
        description="Units; must be positive",
        json_schema_extra={"minimum": 1, "maximum": 1_000_000},
    )
    unit_price: Money
    discount: Money = Decimal("0.00")

    @field_validator("quantity")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise PydanticCustomError(
                OrdersErrorCode.QUANTITY_NOT_POSITIVE, "Quantity must be a positive whole number."
            )
        if value > 1_000_000:
            raise PydanticCustomError(
                OrdersErrorCode.QUANTITY_TOO_LARGE, "Quantity must be at most 1,000,000."
            )
        return value


class ShippingIn(Strict):
    method: str = Field(default="", max_length=100)
    price: Money = Decimal("0.00")


class PaymentIn(Strict):
    method: PaymentMethod
    gateway: str = Field(default="", max_length=40)
    transaction_id: str = Field(default="", max_length=100)
    installments: WholeNumber = Field(default=1, ge=1, le=48)
    due_date: date | None = Field(default=None, description="Boleto due date")
    expires_at: AwareDatetime | None = Field(default=None, description="Pix expiry")


# A canonical order (2 × 49.90 + 15.00 shipping = 114.80): the API docs' example and the tests' base
# order.
ORDER_EXAMPLE: dict[str, Any] = {
    "channel": "site",
    "external_id": "02-704319102",
    "placed_at": "2026-11-20T14:03:00-03:00",
    "currency": "BRL",
    "customer": {
        "name": "Maria Souza",
        "email": "maria@example.com",
        "phone": "+5511999990000",
        "document": "529.982.247-25",
    },
    "billing_address": {
        "street": "Rua das Flores",
        "number": "100",
        "complement": "ap 12",
        "district": "Centro",
        "city": "São Paulo",
        "state": "SP",
        "postal_code": "01001-000",
        "country": "BR",
    },
    "items": [
        {
            "sku": "CHINELO-42",
            "name": "Chinelo de praia 42",
            "quantity": 2,
            "unit_price": "49.90",
            "discount": "0.00",
        }
    ],
    "shipping": {"method": "Correios SEDEX", "price": "15.00"},
    "discount": "0.00",
    "tax": "0.00",
    "total": "114.80",
    "payment": {
        "method": "boleto",
        "gateway": "pagarme",
        "transaction_id": "ch_123",
        "installments": 1,
        "due_date": "2026-11-23",
    },
}


class OrderIn(Strict):
    channel: str = Field(min_length=1, max_length=50, description="Code of a configured channel")
    external_id: str = Field(min_length=1, max_length=100, description="The order's id in that channel")
    placed_at: AwareDatetime
    currency: Literal["BRL"] = "BRL"
    status: Literal[OrderStatus.PENDING_PAYMENT, OrderStatus.PAID] = OrderStatus.PENDING_PAYMENT
    customer: CustomerIn
    billing_address: AddressIn
    shipping_address: AddressIn | None = Field(default=None, description="Defaults to the billing address")
    items: list[ItemIn] = Field(min_length=1, max_length=500)
    shipping: ShippingIn = ShippingIn()
    discount: Money = Decimal("0.00")
    tax: Money = Decimal("0.00")
    total: Money
    payment: PaymentIn
    marketplace: str = Field(
        default="",
        max_length=100,
        description="Sub-channel at a hub or marketplace (e.g. SkyHub's 'Magazine Luiza')",
    )

    model_config = ConfigDict(
        str_strip_whitespace=True,
        extra="forbid",
        json_schema_extra={"examples": [ORDER_EXAMPLE]},
    )


# --- transition inputs -------------------------------------------------------------------------


class NoInput(Strict):
    """Transitions that take no data."""


class ApprovePaymentIn(Strict):
    method: PaymentMethod | None = None
    gateway: str | None = Field(default=None, max_length=40)
    transaction_id: str | None = Field(default=None, max_length=100)
    amount: Money | None = None
    paid_at: AwareDatetime | None = None


class InvoiceIn(Strict):
    key: Annotated[
        str,
        Field(
            max_length=60,
            description="NF-e access key, 44 positions",
            json_schema_extra={"pattern": NFE_KEY_PATTERN},
        ),
    ]
    number: str = Field(max_length=9, pattern=r"^[0-9]{1,9}$", description="nNF")
    series: str = Field(max_length=3, pattern=r"^[0-9]{1,3}$", description="série")
    issued_at: AwareDatetime
    xml: str | None = Field(default=None, max_length=1_000_000, description="nfeProc or NFe, layout 4.00")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return str(_coded(fiscal.parse_nfe_key)(value).key)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if int(value) == 0:
            raise PydanticCustomError(OrdersErrorCode.INVOICE_NUMBER_ZERO, "The NF-e number cannot be zero.")
        return str(int(value))

    @field_validator("series")
    @classmethod
    def _series(cls, value: str) -> str:
        return str(int(value))


class ReadyToShipIn(Strict):
    collection_code: str | None = Field(default=None, max_length=64)
    carrier: str | None = Field(default=None, max_length=60)


def _sku_or_line(schema: dict[str, Any]) -> None:
    """The OpenAPI form of a part's line: ``sku`` or ``line`` (or both), each without null."""
    for name in ("sku", "line"):
        prop = schema["properties"][name]
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        if branches:
            prop.update(branches[0])
        prop.pop("default", None)
        # Bounds on an optional annotated integer come out under pydantic's own names.
        for bound, json_name in (("ge", "minimum"), ("le", "maximum")):
            if bound in prop:
                prop[json_name] = prop.pop(bound)
    schema["anyOf"] = [{"required": ["sku"]}, {"required": ["line"]}]


class ShipLineIn(Strict):
    """Units of one order line in a part of the shipment: the line named by its SKU or position."""

    model_config = ConfigDict(json_schema_extra=_sku_or_line)

    sku: str | None = Field(default=None, min_length=1, max_length=60)
    line: WholeNumber | None = Field(
        default=None, description="The line's position (needed when the SKU is on two lines)", ge=1, le=500
    )
    quantity: WholeNumber = Field(description="Units of the line in this part", ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _named(self) -> ShipLineIn:
        if self.sku is None and self.line is None:
            raise PydanticCustomError(
                OrdersErrorCode.SHIPMENT_LINE_UNKNOWN, "Name the line by its sku or its position (line)."
            )
        return self


class ShipIn(Strict):
    carrier: str = Field(min_length=1, max_length=60, examples=["correios"])
    method: str = Field(min_length=1, max_length=100, examples=["SEDEX"])
    tracking_code: str = Field(min_length=1, max_length=64, examples=["AA123456785BR"])
    tracking_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    shipped_at: AwareDatetime | None = None
    lines: list[ShipLineIn] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Only these units leave in this part (partial shipment); without it, every unit left",
    )


class ReportDeliveryProblemIn(Strict):
    description: str = Field(min_length=1, max_length=2000)


class DeliverIn(Strict):
    delivered_at: AwareDatetime
    tracking_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Deliver only the part with this tracking code (the order is delivered with its last)",
    )


class CancelIn(Strict):
    reason: CancelReason
    note: str = Field(default="", max_length=2000)
    # What the operator said will happen to the order's authorized NF-e: canceled at SEFAZ (event
    # 110111, within 24 h of authorization) or undone by a return NF-e. Recorded on the timeline.
    nfe_action: Literal["cancel_nfe", "return_nfe"] | None = Field(
        default=None, description="For an invoiced order: cancel_nfe (event 110111) or return_nfe"
    )


class ReopenIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)
