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

from malote.core import fastsql

M = TypeVar("M", bound=models.Model)


class RowKeyedQuery(Generic[M]):
    """A queryset without parameters, compiled once per database vendor (``fastsql.fixed_plan``
    under ``name``), whose model instances are reused while the raw rows it returns stay the same."""

    def __init__(self, name: str, build: Callable[[], QuerySet[M]]) -> None:
        self._name = name
        self._build = build
        # (alias, raw rows) and the instances built from them, swapped in one assignment so that
        # threads sharing the process always see a matching pair.
        self._cached: tuple[tuple[str, list[tuple[Any, ...]]], list[M]] | None = None

    def __call__(self) -> list[M]:
        plan = fastsql.fixed_plan(self._name, self._build)
        rows = [tuple(row) for row in fastsql.rows(plan[0], plan[1])]
        key = (connection.alias, rows)
        cached = self._cached
        if cached is not None and cached[0] == key:
            return list(cached[1])
        built: list[M] = fastsql.instances(plan, rows)
        self._cached = (key, built)
        return list(built)
