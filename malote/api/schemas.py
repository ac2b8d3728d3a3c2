"""Response schemas of the API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, JsonValue

from malote.api.errors import openapi_codes
from malote.orders.schemas import WholeNumber, json_integer

# Every code the API can answer, as the enum of ErrorOut.code (malote/api/errors.py).
ERROR_CODES: list[JsonValue] = [*openapi_codes()]

# Bounds of every integer the API reads, so that no value reaches the database out of its range
# (a bigint holds at most 2^63 - 1) and none answers 500: beyond them the answer is 422.
MAX_ID = 2**63 - 1
MAX_OFFSET = 10_000_000
MAX_QUANTITY = 100_000_000

# An id in a body: a JSON integer (no bool, no numeric string) from 1 to MAX_ID.
Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(json_integer)]


class ErrorOut(Schema):
    code: str = Field(
        description="Stable snake_case code: Malote's (catalogue: docs/error-codes.md) or, for a 422 from"
        " schema validation, pydantic's error type (missing, extra_forbidden, string_too_long…).",
        json_schema_extra={"enum": ERROR_CODES},
    )
    detail: str
    field: str | None = None


def error_responses(*statuses: int) -> dict[int, Any]:
    """``response=`` entries for the given error statuses, plus 400 (a body or query the API cannot
    parse), 401 (no valid token), 403 (the role lacks the permission) and 422 (schema validation),
    which every operation can answer."""
    return dict.fromkeys(sorted({400, 401, 403, 422, *statuses}), ErrorOut)


class LineOut(Schema):
    position: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    total: Decimal


class CustomerOut(Schema):
    name: str
    email: str
    phone: str
    document: str
    document_formatted: str


class AddressOut(Schema):
    street: str = ""
    number: str = ""
    complement: str = ""
    district: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = "BR"


class PaymentOut(Schema):
    method: str
    gateway: str
    transaction_id: str
    installments: int
    amount: Decimal
    status: str
    due_date: date | None
    expires_at: datetime | None
    paid_at: datetime | None


class InvoiceTaxReformItemOut(Schema):
    """One item's IBSCBS group (NT 2025.002-RTC); rates and values as written in the XML."""

    item_number: int
    code: str
    description: str
    cst: str
    class_code: str = Field(description="cClassTrib")
    base: str | None
    ibs_state_rate: str | None
    ibs_state_value: str | None
    ibs_municipal_rate: str | None
    ibs_municipal_value: str | None
    ibs_value: str | None
    cbs_rate: str | None
    cbs_value: str | None


class InvoiceEventOut(Schema):
    type: Literal["cancellation", "correction"] = Field(
        description="cancellation (110111) or correction, the carta de correção (110110)"
    )
    code: Literal["110111", "110110"] = Field(description="tpEvento")
    sequence: int = Field(description="nSeqEvento; the CC-e with the highest one holds")
    protocol: str = Field(description="the event's SEFAZ protocol")
    registered_at: datetime = Field(description="dhRegEvento")
    text: str = Field(description="the justification (xJust) or the correction (xCorrecao)")
    has_xml: bool


class InvoiceOut(Schema):
    key: str
    key_formatted: str
    number: int
    series: int
    issued_at: datetime
    has_xml: bool
    authorization_protocol: str
    authorization_status: str
    purpose: Literal["", "1", "2", "3", "4", "5", "6"] = Field(
        description="finNFe: 1 normal, 2 complementar, 3 ajuste, 4 devolução, 5 nota de crédito, "
        "6 nota de débito; empty until the XML is read"
    )
    direction: Literal["", "0", "1"] = Field(description="tpNF: 0 entrada, 1 saída; empty without the XML")
    referenced_key: str = Field(description="the key a return (finNFe 4) gives back; empty otherwise")
    ibs_cbs_base: Decimal | None = Field(description="IBSCBSTot/vBCIBSCBS; null when the NF-e has no group")
    ibs_state_total: Decimal | None
    ibs_municipal_total: Decimal | None
    ibs_total: Decimal | None
    cbs_total: Decimal | None
    tax_reform_items: list[InvoiceTaxReformItemOut]
    canceled: bool = Field(description="SEFAZ registered the NF-e's cancellation (event 110111)")
    events: list[InvoiceEventOut] = Field(description="SEFAZ events on the NF-e, in the order registered")


class ShipmentOut(Schema):
    status: str
    carrier: str
    method: str
    tracking_code: str
    tracking_url: str
    collection_code: str
    shipped_at: datetime | None
    delivered_at: datetime | None
    problem: str


class LinkOut(Schema):
    id: int
    channel: str
    external_id: str
    state: str
    remote_status: str
    remote_canonical_status: str
    remote_status_at: datetime | None
    expected_status: str
    last_synced_at: datetime | None
    last_error: str
    divergence: dict[str, Any] | None
    divergent_since: datetime | None


class TransitionOut(Schema):
    name: str
    label: str
    target: str | None
    allowed: bool
    reason: str | None = None


class OrderSummaryOut(Schema):
    id: int
    number: str
    channel: str
    external_id: str
    placed_at: datetime
    status: str
    status_label: str
    customer_name: str
    total: Decimal
    currency: str
    payment_method: str


class OrderOut(OrderSummaryOut):
    created_at: datetime
    updated_at: datetime
    status_path: list[str]
    stock_state: str
    cancel_reason: str
    subtotal: Decimal
    shipping_price: Decimal
    discount: Decimal
    tax: Decimal
    shipping_method: str
    marketplace: str
    customer: CustomerOut
    billing_address: AddressOut
    shipping_address: AddressOut
    lines: list[LineOut]
    payment: PaymentOut | None
    payments: list[PaymentOut]
    invoice: InvoiceOut | None
    invoices: list[InvoiceOut]
    invoice_xml_pending: bool = Field(
        description="Invoiced without the NF-e XML while a channel of the order takes only the XML:"
        " that channel waits for POST /orders/{id}/invoice/xml."
    )
    links: list[LinkOut]
    shipments: list[ShipmentOut]
    available_transitions: list[str]


class OrderPageOut(Schema):
    items: list[OrderSummaryOut]
    next_cursor: str | None


class EventOut(Schema):
    id: int
    type: str
    transition: str
    from_status: str
    to_status: str
    actor_kind: str
    actor_label: str
    data: dict[str, Any]
    created_at: datetime


class StockOut(Schema):
    sku: str
    name: str
    physical: int
    reserved: int
    available: int
    low_stock_threshold: int
    updated_at: datetime


class StockIn(Schema):
    """Set the physical quantity of a SKU (an adjustment or an inventory count)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # false, true or "5" is not a quantity (pydantic's lax mode would read them as 0, 1 and 5).
    physical: WholeNumber = Field(ge=0, le=MAX_QUANTITY)
    reason: Literal["adjustment", "inventory_count"] = "adjustment"
    note: str = Field(default="", max_length=255)
    name: str | None = Field(default=None, max_length=200)


class StockMovementOut(Schema):
    sku: str
    reason: str
    physical_delta: int
    reserved_delta: int
    order_number: str | None
    note: str
    actor: str
    created_at: datetime
