"""Pre-built SQL for the few statements on the transition hot path.

Compiling a queryset costs Django several hundred microseconds, more than SQLite takes to run
the statement; at a thousand transitions a second that is the whole budget. These helpers build
each statement's SQL once per model and column set (quoted for the connection's vendor) and pass
values through the model fields' own ``get_db_prep_save``, so conversions (aware datetimes,
JSON, decimals) are exactly the ORM's. They skip signals and ``auto_now`` magic, so callers give
every timestamp explicitly. Use them only where the ORM's cost shows in a benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _insert_sql(model: type[models.Model], columns: tuple[str, ...], vendor: str) -> str:
    table = _q(model._meta.db_table)
    names = ", ".join(_q(model._meta.get_field(c).column) for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"


@cache
def _update_sql(model: type[models.Model], columns: tuple[str, ...], vendor: str) -> str:
    table = _q(model._meta.db_table)
    sets = ", ".join(f"{_q(model._meta.get_field(c).column)} = %s" for c in columns)
    return f"UPDATE {table} SET {sets} WHERE {_q(model._meta.pk.column)} = %s"  # type: ignore[union-attr]


@cache
def _lock_sql(model: type[models.Model], vendor: str) -> str:
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    table = _q(model._meta.db_table)
    return f"SELECT * FROM {table} WHERE {_q(model._meta.pk.column)} = %s{lock}"  # type: ignore[union-attr]


def _params(model: type[models.Model], values: dict[str, Any]) -> list[Any]:
    return [model._meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]  # type: ignore[union-attr]


def prep(model: type[models.Model], field: str, value: Any) -> Any:
    """A value as the database stores it in ``model.field`` (for hand-written comparisons)."""
    return model._meta.get_field(field).get_db_prep_save(value, connection)  # type: ignore[union-attr]


def insert(model: type[models.Model], **values: Any) -> None:
    """INSERT one row with exactly these field values (defaults are not filled in)."""
    sql = _insert_sql(model, tuple(values), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(model, values))


def update(model: type[models.Model], pk: Any, **values: Any) -> int:
    """UPDATE the row with primary key ``pk``; returns the number of rows changed."""
    sql = _update_sql(model, tuple(values), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_params(model, values), pk])
        return int(cursor.rowcount)


def lock(model: type[M], pk: Any) -> M | None:
    """Read one row by primary key, locked ``FOR UPDATE`` where the database supports it."""
    found = list(model._default_manager.raw(_lock_sql(model, connection.vendor), [pk]))
    return found[0] if found else None


def rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run one statement; returns the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return int(cursor.rowcount)
