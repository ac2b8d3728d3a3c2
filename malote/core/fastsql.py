"""Pre-built SQL for the few statements on the transition hot path.

Compiling a queryset costs Django several hundred microseconds, more than SQLite takes to run
the statement; at a thousand transitions a second that is the whole budget. These helpers build
each statement's SQL once per model and column set (quoted for the connection's vendor) and pass
values through the model fields' own ``get_db_prep_save``, so conversions (aware datetimes,
JSON, decimals) are exactly the ORM's. They skip signals and ``auto_now`` magic, so callers give
every timestamp explicitly. Use them only where the ORM's cost shows in a benchmark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import QuerySet

M = TypeVar("M", bound=models.Model)


def _cursor() -> Any:
    """A cursor of the default connection, reused from one statement to the next: creating Django's
    cursor wrapper costs as much as running a small statement. A new one is made when the database
    connection was replaced or when query logging was switched (debug cursors record statements)."""
    db = connections[DEFAULT_DB_ALIAS]
    kept = getattr(db, "_fastsql_cursor", None)
    if kept is not None and kept[0] is db.connection and kept[0] is not None and kept[1] == db.queries_logged:
        return kept[2]
    cursor = db.cursor()
    db._fastsql_cursor = (db.connection, db.queries_logged, cursor)  # type: ignore[attr-defined]
    return cursor


@lru_cache(maxsize=512)
def _qmark(sql: str) -> str:
    """``sql`` in sqlite3's parameter style, as Django's SQLite cursor converts it on every call."""
    return _FORMAT_QMARK.sub("?", sql).replace("%%", "%")


_FORMAT_QMARK = re.compile(r"(?<!%)%s")


def _raw_cursor(db: Any) -> Any:
    kept = getattr(db, "_fastsql_raw", None)
    if kept is not None and kept[0] is db.connection and kept[0] is not None:
        return kept[1]
    db.ensure_connection()
    raw = db.connection.cursor()
    db._fastsql_raw = (db.connection, raw)
    return raw


def _run(sql: str, params: list[Any], db: Any = None) -> Any:
    """Execute one statement and return the cursor (for ``fetchall``/``rowcount``).

    On SQLite, when nothing observes statements (no debug cursor, no execute wrapper), the driver's
    own cursor runs it: Django's cursor layer costs more than SQLite's work for these small
    statements. The checks that layer makes are kept: a broken transaction is refused, and driver
    errors come out as Django's (``IntegrityError``…). Otherwise, and on other databases, Django's
    cursor runs it, so tests that count queries and execute wrappers see every statement."""
    db = db or connections[DEFAULT_DB_ALIAS]
    if db.vendor != "sqlite" or db.queries_logged or db.execute_wrappers:
        cursor = _cursor()
        cursor.execute(sql, params)
        return cursor
    raw = _raw_cursor(db)
    db.validate_no_broken_transaction()
    with db.wrap_database_errors:
        raw.execute(_qmark(sql), params)
    return raw


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
    cursor = _run(plan[0], plan[1])
    return instances(plan, cursor.fetchall())


@cache
def _fields(model: type[models.Model], names: tuple[str, ...]) -> tuple[models.Field[Any, Any], ...]:
    return tuple(_field(model, name) for name in names)


# Fields whose ``get_db_prep_save`` returns a value of one exact type unchanged. Exact classes only:
# a subclass (an encrypted text field, say) may convert, so it takes the general path. Integers
# pass unchanged only where the backend does not wrap them (PostgreSQL types them for psycopg).
_TEXT_FIELDS = (models.CharField, models.TextField, models.EmailField, models.SlugField)
_INTEGER_FIELDS = (
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
)


# Markers of ``_as_is`` for values the SQLite backend converts in a known, simple way.
_AWARE_DATETIME = object()
_JSON = object()


@cache
def _as_is(model: type[models.Model], names: tuple[str, ...], vendor: str) -> tuple[Any, ...]:
    """Per field: the exact type of value that goes to the database as it is, a marker of a simple
    conversion done here exactly as the backend does it (SQLite only), or ``None``."""
    db = connections[DEFAULT_DB_ALIAS]
    plain_integers = type(db.ops).adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value
    sqlite = vendor == "sqlite"
    as_is: list[Any] = []
    for field in _fields(model, names):
        target = field.target_field if isinstance(field, models.ForeignKey) else field
        kind = type(target)
        if kind in _TEXT_FIELDS:
            as_is.append(str)
        elif kind is models.BooleanField:
            as_is.append(bool)
        elif kind in _INTEGER_FIELDS and plain_integers:
            as_is.append(int)
        elif kind is models.DateTimeField and sqlite and settings.USE_TZ:
            as_is.append(_AWARE_DATETIME)  # DatabaseOperations.adapt_datetimefield_value
        elif kind is models.JSONField and sqlite:
            as_is.append(_JSON)  # BaseDatabaseOperations.adapt_json_value
        else:
            as_is.append(None)
    return tuple(as_is)


def _prepared(field: models.Field[Any, Any], plain: Any, value: Any, db: Any) -> Any:
    if value is None or type(value) is plain:
        return value
    if plain is _AWARE_DATETIME and type(value) is datetime and value.tzinfo is not None:
        return str(value.astimezone(db.timezone).replace(tzinfo=None))
    if plain is _JSON and type(value) in (dict, list):
        return json.dumps(value, cls=cast("models.JSONField[Any]", field).encoder)
    return field.get_db_prep_save(value, db)


def _params(model: type[models.Model], values: dict[str, Any], db: Any) -> list[Any]:
    """The values as the database takes them, as the ORM prepares them. Plain values of plain fields
    skip Django's per-value conversion (a large share of the hot path's CPU went there), and the
    others get the connection itself rather than the ``connection`` proxy."""
    names = tuple(values)
    fields = _fields(model, names)
    as_is = _as_is(model, names, db.vendor)
    return [
        _prepared(field, plain, value, db)
        for field, plain, value in zip(fields, as_is, values.values(), strict=True)
    ]


def prep(model: type[models.Model], field: str, value: Any) -> Any:
    """A value as the database stores it in ``model.field`` (for hand-written statements)."""
    db = connections[DEFAULT_DB_ALIAS]
    return _prepared(_field(model, field), _as_is(model, (field,), db.vendor)[0], value, db)


def insert(model: type[models.Model], **values: Any) -> None:
    """INSERT one row with exactly these field values (defaults are not filled in)."""
    db = connections[DEFAULT_DB_ALIAS]
    sql = _insert_sql(model, tuple(values), db.vendor)
    _run(sql, _params(model, values, db), db)


@cache
def _insert_next_sql(
    model: type[models.Model], columns: tuple[str, ...], counter: str, scope: str, vendor: str
) -> str:
    table = _q(model._meta.db_table)
    names = ", ".join(_column(model, c) for c in (*columns, counter))
    counted = f"COALESCE(MAX({_column(model, counter)}), 0) + 1"
    return (
        f"INSERT INTO {table} ({names}) SELECT {', '.join(['%s'] * len(columns))}, {counted}"
        f" FROM {table} WHERE {_column(model, scope)} = %s"
    )


def insert_next(model: type[models.Model], counter: str, scope: tuple[str, Any], **values: Any) -> None:
    """INSERT one row whose ``counter`` is one more than the highest among the rows sharing its
    ``scope`` (field, value), in one statement. The caller serializes writers of one scope (holds a
    lock on what the scope belongs to), as it would around a separate ``MAX`` read."""
    field, value = scope
    db = connections[DEFAULT_DB_ALIAS]
    sql = _insert_next_sql(model, tuple(values), counter, field, db.vendor)
    _run(sql, [*_params(model, values, db), prep(model, field, value)], db)


def update(model: type[models.Model], pk: Any, **values: Any) -> int:
    """UPDATE the row with primary key ``pk``; returns the number of rows changed."""
    db = connections[DEFAULT_DB_ALIAS]
    sql = _update_sql(model, tuple(values), db.vendor)
    cursor = _run(sql, [*_params(model, values, db), pk], db)
    return int(cursor.rowcount)


def lock(model: type[M], pk: Any) -> M | None:
    """Read one row by primary key, locked ``FOR UPDATE`` where the database supports it.

    Call inside ``transaction.atomic()``. Values pass through Django's converters, so the
    instance is the one the ORM would build.
    """
    db = connections[DEFAULT_DB_ALIAS]
    sql, compiler, converters, names = _lock_plan(model, db.vendor)
    cursor = _run(sql, [pk], db)
    found = cursor.fetchall()
    if not found:
        return None
    row = next(iter(compiler.apply_converters(found, converters))) if converters else found[0]
    return model.from_db(db.alias, names, row)


def rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cursor = _run(sql, list(params))
    return list(cursor.fetchall())


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run one statement; returns the number of rows it changed."""
    cursor = _run(sql, list(params))
    return int(cursor.rowcount)
