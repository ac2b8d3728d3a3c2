"""Test helpers: a webhook receiver, HTTP shortcuts per fake and Jumpseller's OpenAPI validator."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest

from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.specs import not_found, vendor_spec

JUMPSELLER_OPENAPI = vendor_spec("jumpseller-openapi.json", "MALOTE_JUMPSELLER_OPENAPI")


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A tiny HTTP server that records every POST and answers ``status`` (200 by default)."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[Received] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = urlsplit(self.path)
                record = Received(
                    target.path, target.query, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with receiver._changed:
                    receiver.received.append(record)
                    receiver._changed.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01})
        self._thread.daemon = True
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.received)

    def settle(self, quiet: float = 0.2) -> list[Received]:
        """Wait until nothing new arrived for ``quiet`` seconds (to prove there is no extra one)."""
        seen = -1
        while seen != len(self.received):
            seen = len(self.received)
            time.sleep(quiet)
        return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)


def client(timeout: float = 5.0) -> httpx.Client:
    """An httpx client that ignores proxy settings from the environment."""
    return httpx.Client(timeout=timeout, trust_env=False)


def jumpseller_auth(fake: RunningFake[Any]) -> tuple[str, str]:
    return fake.credentials["login"], fake.credentials["authtoken"]


def pagarme_auth(fake: RunningFake[Any]) -> tuple[str, str]:
    return fake.credentials["secret_key"], ""


def tiny_call(http: httpx.Client, fake: RunningFake[Any], service: str, **params: Any) -> dict[str, Any]:
    """POST a Tiny service with the token and formato=json; returns ``retorno``."""
    data = {"token": fake.credentials["token"], "formato": "json", **params}
    response = http.post(f"{fake.api_url}/{service}.php", data=data)
    assert response.status_code == 200, response.text
    retorno: dict[str, Any] = response.json()["retorno"]
    return retorno


# ----------------------------------------------------------------- Jumpseller OpenAPI
def _walk(schema: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    if isinstance(schema.get("properties"), dict):
        schema["properties"] = {name: _nullable(sub) for name, sub in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        schema["items"] = _walk(schema["items"])
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Jumpseller writes ``null`` for every empty value ("All empty value are replaced with null",
    info.description) but the OpenAPI 3.0 file never says ``nullable``: allow null per property."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    schema = _walk(schema)
    if isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
    if isinstance(schema.get("enum"), list):
        schema["enum"] = [*schema["enum"], None]
    return schema


@cache
def _jumpseller_components() -> dict[str, Any]:
    if not JUMPSELLER_OPENAPI.is_file():
        pytest.skip(not_found("jumpseller-openapi.json", "MALOTE_JUMPSELLER_OPENAPI"))
    spec = json.loads(JUMPSELLER_OPENAPI.read_text())
    schemas = copy.deepcopy(spec["components"]["schemas"])
    # Vendor defect: document_type is "type: integer" with the enum ["0 - credit note", "1 - invoice"]
    # (strings), which no value can satisfy; the API takes and returns 0 or 1.
    schemas["DocumentFields"]["properties"]["document_type"]["enum"] = [0, 1]
    return {"schemas": {name: _walk(schema) for name, schema in schemas.items()}}


def validate_jumpseller(instance: Any, schema_name: str, *, array: bool = False) -> None:
    """Validate ``instance`` against ``#/components/schemas/<schema_name>`` (or an array of it)."""
    reference = {"$ref": f"#/components/schemas/{schema_name}"}
    schema = {"type": "array", "items": reference} if array else reference
    jsonschema.Draft7Validator({**schema, "components": _jumpseller_components()}).validate(instance)
