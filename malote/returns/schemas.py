"""Input schemas of returns: opening one, each transition's input, the return NF-e.

Field rules answer with coded errors like the order schemas; rules that need the order (what
was shipped, paid and already returned) live in the commands.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from malote import fiscal
from malote.orders.schemas import NFE_KEY_PATTERN, Money, Strict, WholeNumber, _coded
from malote.returns.statuses import LineCondition, RequestedBy, ReturnReason

MAX_LINES = 500
MAX_QUANTITY = 1_000_000


class ReturnLineIn(Strict):
    position: WholeNumber = Field(
        ge=1, le=MAX_LINES, description="The order line's position (1 = first line)"
    )
    quantity: WholeNumber = Field(ge=1, le=MAX_QUANTITY, description="Units sent back")


class ReturnIn(Strict):
    reason: ReturnReason
    requested_by: RequestedBy = RequestedBy.OPERATOR
    channel: str = Field(
        default="", max_length=50, description="Code of the channel the customer asked through"
    )
    note: str = Field(default="", max_length=2000)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=MAX_LINES)


# --- transition inputs -------------------------------------------------------------------------


class NoInput(Strict):
    """Transitions that take no data."""


class RefuseIn(Strict):
    note: str = Field(min_length=1, max_length=2000, description="Why the return is refused")


class CancelReturnIn(Strict):
    note: str = Field(default="", max_length=2000)


class ReceivedLineIn(Strict):
    line: WholeNumber = Field(ge=1, le=2**63 - 1, description="The return line's id")
    quantity: WholeNumber = Field(
        ge=0, le=MAX_QUANTITY, description="Units that arrived (0 to the quantity asked)"
    )
    condition: LineCondition | None = Field(
        default=None, description="restock (back to the shelf) or damaged; needed when quantity > 0"
    )


class ReceiveIn(Strict):
    lines: list[ReceivedLineIn] = Field(min_length=1, max_length=MAX_LINES)
    note: str = Field(default="", max_length=2000)


class RequestRefundIn(Strict):
    amount: Money = Field(description="What goes back to the customer, at most what is left of the payment")


class ConfirmRefundIn(Strict):
    amount: Money | None = Field(default=None, description="Defaults to the amount asked")
    reference: str = Field(default="", max_length=100, description="The gateway's id of the refund")


class ReturnNfeIn(Strict):
    key: Annotated[
        str,
        Field(
            max_length=60,
            description="Access key of the return NF-e (finNFe 4), 44 positions",
            json_schema_extra={"pattern": NFE_KEY_PATTERN},
        ),
    ]
    xml: str | None = Field(default=None, max_length=1_000_000, description="nfeProc or NFe, layout 4.00")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        return str(_coded(fiscal.parse_nfe_key)(value).key)
