"""``fastsql``: the hot path's pre-built statements store exactly what the ORM would, and the
per-order counter of ``insert_next`` follows each order's own rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from malote.core import fastsql
from malote.orders.models import Order, OrderEvent
from malote.orders.statuses import OrderStatus
from malote.sync.models import OutboxMessage

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 29, 23, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (OutboxMessage, "destination", "erp:tiny"),
        (OutboxMessage, "attempts", 3),
        (OutboxMessage, "order", 7),  # a foreign key's plain id
        (OutboxMessage, "state", OrderStatus.PAID),  # a str subclass takes the ORM's path
        (OutboxMessage, "payload", {"status": "paid", "total": "10.00"}),
        (OutboxMessage, "created_at", AT),
        (
            OutboxMessage,
            "created_at",
            datetime(2026, 11, 29, 20, 21, 5, 123456, tzinfo=timezone(timedelta(hours=-3))),
        ),
        (OutboxMessage, "payload", [{"sku": "BONE-AZUL", "quantity": 12}, "ç"]),
        (OrderEvent, "data", {"at": "2026-11-29T23:21:00+00:00", "nested": {"n": [1, 2]}}),
        (OrderEvent, "actor_user", None),
        (Order, "total", Decimal("94.90")),
    ],
)
def test_prepared_values_are_the_orm_s(model: Any, field: str, value: Any) -> None:
    expected = model._meta.get_field(field).get_db_prep_save(value, connection)
    prepared = fastsql.prep(model, field, value)
    assert prepared == expected or str(prepared) == str(expected)
    assert type(prepared) is type(expected)


def test_a_numeric_string_for_an_integer_field_is_converted_not_passed_through() -> None:
    assert fastsql.prep(OutboxMessage, "attempts", "5") == 5  # the ORM's to_python, not "5"


def _enqueue_next(order_id: int | None, destination: str) -> None:
    fastsql.insert_next(
        OutboxMessage,
        "seq",
        ("order", order_id),
        destination=destination,
        key=f"order:{order_id}",
        order=order_id,
        kind="test",
        payload={},
        idempotency_key=f"{destination}-{order_id}-{OutboxMessage.objects.count()}",
        state="pending",
        attempts=0,
        next_attempt_at=AT,
        lease_owner="",
        last_error="",
        created_at=AT,
    )


def test_insert_next_numbers_each_order_from_its_own_rows(make_order: Any) -> None:
    first, second = make_order(), make_order()
    before = {
        o: list(OutboxMessage.objects.filter(order=o).values_list("seq", flat=True)) for o in (first, second)
    }
    for destination in ("erp:tiny", "email:customer", "channel:loja"):
        _enqueue_next(first.pk, destination)
    _enqueue_next(second.pk, "erp:tiny")
    start_first = max(before[first], default=0)
    start_second = max(before[second], default=0)
    assert list(OutboxMessage.objects.filter(order=first).order_by("id").values_list("seq", flat=True))[
        -3:
    ] == [
        start_first + 1,
        start_first + 2,
        start_first + 3,
    ]
    assert OutboxMessage.objects.filter(order=second).order_by("-id").values_list("seq", flat=True)[0] == (
        start_second + 1
    )


def _duplicate_key_insert(message_key: str) -> None:
    fastsql.insert(
        OutboxMessage,
        destination="erp:tiny",
        key="k",
        order=None,
        seq=0,
        kind="test",
        payload={},
        idempotency_key=message_key,
        state="pending",
        attempts=0,
        next_attempt_at=AT,
        lease_owner="",
        last_error="",
        created_at=AT,
    )


@pytest.mark.django_db(transaction=True)
def test_a_driver_error_comes_out_as_django_s_and_breaks_the_transaction_as_the_orm_would() -> None:
    from django.db import IntegrityError, transaction
    from django.db.transaction import TransactionManagementError

    _duplicate_key_insert("same")
    with transaction.atomic():
        # A failed block without its own savepoint leaves the transaction to be rolled back.
        with pytest.raises(IntegrityError), transaction.atomic(savepoint=False):
            _duplicate_key_insert("same")  # idempotency_key is unique
        # Forbidden: another statement in the broken transaction, as with Django's own cursor.
        with pytest.raises(TransactionManagementError):
            fastsql.rows("SELECT 1", [])
    assert fastsql.rows("SELECT COUNT(*) FROM sync_outboxmessage WHERE idempotency_key = %s", ["same"]) == [
        (1,)
    ]


def test_statements_stay_visible_to_query_counting(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2):
        fastsql.rows("SELECT 1", [])
        fastsql.execute("UPDATE sync_outboxmessage SET attempts = attempts WHERE id = %s", [0])


def test_a_literal_percent_survives_the_parameter_style() -> None:
    assert fastsql.rows("SELECT '100%%', %s", ["x"]) == [("100%", "x")]


def test_on_sqlite_the_driver_runs_the_statement_when_nothing_observes_it() -> None:
    import sqlite3

    from django.db import connection as db

    if db.vendor != "sqlite":
        pytest.skip("the driver's own cursor is SQLite's path; PostgreSQL keeps Django's")
    cursor = fastsql._run("SELECT 1", [])
    assert type(cursor) is sqlite3.Cursor  # not Django's wrapper
    with db.execute_wrapper(lambda execute, *args: execute(*args)):
        assert type(fastsql._run("SELECT 1", [])) is not sqlite3.Cursor
