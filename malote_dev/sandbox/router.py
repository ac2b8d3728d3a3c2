"""HTTP primitives and a tiny path router shared by the fakes (no web framework).

:class:`Request` is built from a WSGI environ; handlers return a :class:`Response`. A
:class:`Router` maps ``(method, path template)`` to handlers; templates use ``{name}`` (one path
segment, non-greedy, so ``/orders/{id}.json`` works) and ``{name:int}`` (digits only).

Two exceptions carry meaning across layers: :class:`DropConnection` asks the HTTP gateway to close
the socket without writing any answer (the ``drop`` fault), :class:`BadRequest` turns into the
vendor's 400 answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class DropConnection(Exception):
    """Raised by an app so the server closes the connection without writing any response."""


class BadRequest(Exception):
    """The request cannot be understood (bad JSON, wrong content type…); ``str()`` is the reason."""


def _header_name(environ_key: str) -> str:
    return environ_key[5:].replace("_", "-").lower()


@dataclass
class Request:
    """One HTTP request: header names are lower-case, the body is raw bytes."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> Request:
        """Read a WSGI environ (PEP 3333: ``PATH_INFO`` is latin-1-decoded bytes)."""
        raw_path = str(environ.get("PATH_INFO") or "/")
        path = raw_path.encode("latin-1").decode("utf-8", "replace")
        headers = {_header_name(key): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        stream = environ.get("wsgi.input")
        body = stream.read(length) if stream is not None and length > 0 else b""
        query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
        return cls(
            method=str(environ.get("REQUEST_METHOD") or "GET").upper(),
            path=path,
            query=query,
            headers=headers,
            body=body,
        )

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First query-string value of ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """Every query-string value of ``name`` (``status_filters[]`` may repeat)."""
        return list(self.query.get(name, []))

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON; an empty body is ``None``. Raises :class:`BadRequest`."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadRequest(f"body is not valid JSON: {error}") from error

    def form(self) -> dict[str, str]:
        """Query-string parameters overlaid with an ``x-www-form-urlencoded`` body (body wins)."""
        merged = {name: values[0] for name, values in self.query.items() if values}
        if self.body and self.content_type in ("", "application/x-www-form-urlencoded"):
            text = self.body.decode("utf-8", "replace")
            for name, values in parse_qs(text, keep_blank_values=True).items():
                if values:
                    merged[name] = values[0]
        return merged


@dataclass
class Response:
    """An HTTP answer; build it with :meth:`json` or :meth:`text`."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Iterable[tuple[str, str]] | None = None) -> Response:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return cls(status, body, [("Content-Type", JSON_CONTENT_TYPE), *(headers or [])])

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, text.encode("utf-8"), [("Content-Type", content_type)])

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def set_header(self, name: str, value: str) -> None:
        """Replace every header called ``name`` with one ``value``."""
        wanted = name.lower()
        self.headers = [(key, val) for key, val in self.headers if key.lower() != wanted]
        self.headers.append((name, value))

    def parsed(self) -> Any:
        """The body parsed as JSON (for logs and replays); ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None


def status_line(status: int) -> str:
    """``"404 Not Found"`` for 404; unknown codes get a generic phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


Handler = Callable[[Request], Response]

_PARAMETER = re.compile(r"\{(\w+)(?::(int))?\}")


def compile_template(template: str) -> re.Pattern[str]:
    """Turn ``/v1/orders/{id:int}.json`` into an anchored regular expression with named groups."""
    parts: list[str] = []
    position = 0
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        body = "[0-9]+" if match.group(2) == "int" else "[^/]+?"
        parts.append(f"(?P<{match.group(1)}>{body})")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts) + r"\Z")


@dataclass(frozen=True)
class Resolution:
    """Outcome of :meth:`Router.resolve`: a handler, or the methods the path would accept."""

    handler: Handler | None
    params: dict[str, str]
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Ordered list of routes; the first route whose method and template match wins."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        self._routes.append(_Route(method.upper(), template, compile_template(template), handler))

    def resolve(self, method: str, path: str) -> Resolution:
        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method == method.upper():
                return Resolution(route.handler, match.groupdict(), ())
            allowed.append(route.method)
        return Resolution(None, {}, tuple(dict.fromkeys(allowed)))

    def describe(self) -> list[str]:
        """``"METHOD /template"`` lines, for the control index page."""
        return [f"{route.method} {route.template}" for route in self._routes]
