"""Channel instances kept per process, rebuilt only when their rows change.

Routing reads the enabled channels on every order transition. Building ``Channel`` instances
(Django's converters, ``Model.__init__``, decrypting credentials) costs several times more than
reading the rows. So the rows are still read every time, in the caller's transaction — a channel
saved by any process, or changed by a bulk ``update()`` that sends no signal, is seen at once,
exactly as before — and the instances are rebuilt only when the rows differ from the last read.
Callers get the shared instances and must not modify them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connection, models
from django.db.models import QuerySet

M = TypeVar("M", bound=models.Model)


class RowKeyedQuery(Generic[M]):
    """A queryset without parameters, compiled once per database vendor, whose model instances are
    reused while the raw rows it returns stay the same."""

    def __init__(self, build: Callable[[], QuerySet[M]]) -> None:
        self._build = build
        self._plans: dict[str, tuple[str, list[Any], Any, Any, list[str], type[M]]] = {}
        # (alias, raw rows) and the instances built from them, swapped in one assignment so that
        # threads sharing the process always see a matching pair.
        self._cached: tuple[tuple[str, list[tuple[Any, ...]]], list[M]] | None = None

    def _plan(self) -> tuple[str, list[Any], Any, Any, list[str], type[M]]:
        plan = self._plans.get(connection.vendor)
        if plan is None:
            queryset = self._build()
            compiler = queryset.query.get_compiler(connection=connection)
            sql, params = compiler.as_sql()
            converters = compiler.get_converters([column for column, _, _ in compiler.select])
            names = [field.attname for field in queryset.model._meta.concrete_fields]
            plan = (sql, list(params), compiler, converters, names, queryset.model)
            self._plans[connection.vendor] = plan
        return plan

    def __call__(self) -> list[M]:
        sql, params, compiler, converters, names, model = self._plan()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = [tuple(row) for row in cursor.fetchall()]
        key = (connection.alias, rows)
        cached = self._cached
        if cached is not None and cached[0] == key:
            return list(cached[1])
        converted = compiler.apply_converters(rows, converters) if converters else rows
        instances = [model.from_db(connection.alias, names, list(row)) for row in converted]
        self._cached = (key, instances)
        return list(instances)
