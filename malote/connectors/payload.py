"""Reading a webhook body as JSON without trusting it: the one parser every connector uses.

A body from the network may be anything: not UTF-8, not JSON, nested a hundred thousand levels
deep (Python's parser recurses and would raise ``RecursionError``), holding ``NaN`` or a number
too large for a float, or strings with NUL or lone surrogates that no database column takes.
:func:`load_json` turns every one of those into :class:`UnreadableBody` (a ``ValueError``
carrying a ``ConnectorErrorCode``), which the webhook view answers 400 before any other work.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from malote.connectors.errors import ConnectorErrorCode

# Vendors' notifications nest a dozen levels at most (an order, its lines, their taxes…).
MAX_DEPTH = 32
# Strings a database cannot store: NUL (PostgreSQL text and jsonb) and lone UTF-16 surrogates
# (not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnreadableBody(ValueError):
    """The body is not JSON Malote can read safely; ``code`` says why, ``detail`` for people."""

    def __init__(self, detail: str, *, code: ConnectorErrorCode = ConnectorErrorCode.WEBHOOK_BODY_NOT_JSON):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``body`` (UTF-8 JSON) as Python values, or ``UnreadableBody``.

    Refused: invalid UTF-8 (a BOM too), invalid JSON, ``NaN``/``Infinity``, numbers beyond a float
    (``1e999999``) or beyond Python's integer-digits limit, strings with NUL or lone surrogates,
    and nesting deeper than ``max_depth`` (arrays and objects; a scalar is depth 0).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableBody("The body is not UTF-8.") from None
    try:
        data = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise UnreadableBody(
            f"The JSON is nested deeper than {max_depth} levels.",
            code=ConnectorErrorCode.WEBHOOK_BODY_TOO_DEEP,
        ) from None
    except ValueError as exc:  # JSONDecodeError, a refused number or constant
        raise UnreadableBody(f"The body is not valid JSON: {str(exc)[:120]}") from None
    _check(data, max_depth)
    return data


def _check(data: Any, max_depth: int) -> None:
    """Walk ``data`` without recursion: depth within ``max_depth``, every string storable."""
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                raise UnreadableBody("A string holds NUL or a lone surrogate.")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth + 1 > max_depth:
            raise UnreadableBody(
                f"The JSON is nested deeper than {max_depth} levels.",
                code=ConnectorErrorCode.WEBHOOK_BODY_TOO_DEEP,
            )
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        else:
            pending.extend((item, depth + 1) for item in value)
