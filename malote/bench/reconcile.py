"""Benchmark: being written."""

from typing import Any


def run(orders: int, **options: Any) -> dict[str, Any]:
    raise NotImplementedError
