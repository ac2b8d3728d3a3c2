"""Pre-built SQL for the few statements on the transition hot path.

Compiling a queryset costs Django several hundred microseconds, more than SQLite takes to run
the statement; at a thousand transitions a second that is the whole budget. These helpers build
each statement's SQL once per model and column set (quoted for the connection's vendor) and pass
values through the model fields' own ``get_db_prep_save``, so conversions (aware datetimes,
JSON, decimals) are exactly the ORM's. They skip signals and ``auto_now`` magic, so callers give
every timestamp explicitly. Use them only where the ORM's cost shows in a benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import QuerySet

M = TypeVar("M", bound=models.Model)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):  # reverse relations have no column
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _column(model: type[models.Model], name: str) -> str:
    return _q(str(_field(model, name).column))


@cache
def _insert_sql(model: type[models.Model], columns: tuple[str, ...], vendor: str) -> str:
    table = _q(model._meta.db_table)
    names = ", ".join(_column(model, c) for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"


@cache
def _update_sql(model: type[models.Model], columns: tuple[str, ...], vendor: str) -> str:
    table = _q(model._meta.db_table)
    sets = ", ".join(f"{_column(model, c)} = %s" for c in columns)
    return f"UPDATE {table} SET {sets} WHERE {_column(model, model._meta.pk.name)} = %s"


@cache
def _lock_plan(model: type[models.Model], vendor: str) -> tuple[str, Any, list[Any], list[str]]:
    """Django's own SQL and value converters for "this row by pk, FOR UPDATE", compiled once.

    Must first run inside a transaction (Django refuses to compile FOR UPDATE outside one).
    """
    query = model._default_manager.filter(pk=0).order_by().select_for_update().query
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    if tuple(params) != (0,):  # the statement must take the primary key as its only parameter
        raise RuntimeError(f"unexpected parameters for the lock query of {model.__name__}: {params}")
    converters = compiler.get_converters([column for column, _, _ in compiler.select])
    names = [field.attname for field in model._meta.concrete_fields]
    return sql, compiler, converters, names


FixedPlan = tuple[str, list[Any], Any, Any, list[str], type[models.Model]]
_FIXED_PLANS: dict[tuple[str, str], FixedPlan] = {}


def fixed_plan(name: str, build: Callable[[], QuerySet[Any]]) -> FixedPlan:
    """SQL, parameters, compiler, converters, field names and model of a queryset whose parameters
    never change, compiled by Django once per vendor and kept under ``name``."""
    key = (name, connection.vendor)
    plan = _FIXED_PLANS.get(key)
    if plan is None:
        queryset = build()
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        names = [field.attname for field in queryset.model._meta.concrete_fields]
        plan = _FIXED_PLANS[key] = (sql, list(params), compiler, converters, names, queryset.model)
    return plan


def instances(plan: FixedPlan, found: Sequence[Sequence[Any]]) -> list[Any]:
    """Model instances from the raw rows of ``plan``'s query, as the ORM would build them."""
    _, _, compiler, converters, names, model = plan
    rows = list(compiler.apply_converters(found, converters)) if converters else found
    return [model.from_db(connection.alias, names, list(row)) for row in rows]


def fixed_query(name: str, build: Callable[[], QuerySet[M]]) -> list[M]:
    """Run a queryset whose parameters never change (see ``fixed_plan``); rows come back as model
    instances, as the ORM would build them."""
    plan = fixed_plan(name, build)
    with connection.cursor() as cursor:
        cursor.execute(plan[0], plan[1])
        return instances(plan, cursor.fetchall())


@cache
def _fields(model: type[models.Model], names: tuple[str, ...]) -> tuple[models.Field[Any, Any], ...]:
    return tuple(_field(model, name) for name in names)


def _params(model: type[models.Model], values: dict[str, Any]) -> list[Any]:
    fields = _fields(model, tuple(values))
    return [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]


def prep(model: type[models.Model], field: str, value: Any) -> Any:
    """A value as the database stores it in ``model.field`` (for hand-written comparisons)."""
    return _field(model, field).get_db_prep_save(value, connection)


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
    """Read one row by primary key, locked ``FOR UPDATE`` where the database supports it.

    Call inside ``transaction.atomic()``. Values pass through Django's converters, so the
    instance is the one the ORM would build.
    """
    sql, compiler, converters, names = _lock_plan(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        found = cursor.fetchall()
    if not found:
        return None
    row = next(iter(compiler.apply_converters(found, converters))) if converters else found[0]
    return model.from_db(connection.alias, names, row)


def rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run one statement; returns the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return int(cursor.rowcount)
