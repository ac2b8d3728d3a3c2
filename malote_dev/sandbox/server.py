"""Serve a fake over real HTTP on loopback, and the Python API tests use: :func:`start_fake`.

The gateway is a minimal WSGI server on :class:`http.server.ThreadingHTTPServer` (one thread per
connection, ``Connection: close`` after every answer). It exists instead of ``wsgiref`` for one
reason: the ``drop`` fault must close the socket without writing a single byte, which ``wsgiref``
cannot do (it always writes a 500). An app signals that by raising
:class:`~malote_dev.sandbox.router.DropConnection`.

Example::

    with start_fake("tiny", webhook_url="http://127.0.0.1:9000/hooks/tiny") as tiny:
        tiny.faults.set("drop_order_creation", count=1)
        ...  # point the Tiny connector at tiny.api_url with tiny.credentials["token"]
        assert tiny.calls.filter("POST", "/api2/pedido.incluir")
        assert tiny.webhooks.wait_for(1)
"""

from __future__ import annotations

import importlib
import io
import logging
import socketserver
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Literal, overload
from urllib.parse import unquote, urlsplit

from malote_dev.sandbox.app import FakeApp, StateT
from malote_dev.sandbox.calls import CallLog
from malote_dev.sandbox.faults import FaultController
from malote_dev.sandbox.jumpseller import JumpsellerApp, JumpsellerState
from malote_dev.sandbox.pagarme import PagarmeApp, PagarmeState
from malote_dev.sandbox.router import DropConnection
from malote_dev.sandbox.tiny import TinyApp, TinyState
from malote_dev.sandbox.webhooks import WebhookLog

logger = logging.getLogger("malote_dev.sandbox")

FakeKind = Literal[
    "jumpseller", "tiny", "pagarme", "skyhub", "vtex", "mercadolivre", "bling", "adyen", "zendesk"
]

# Fakes added after the first three are imported when first started (``module:Class``).
LAZY_FAKE_APPS: dict[str, str] = {
    "skyhub": "malote_dev.sandbox.skyhub:SkyHubApp",
    "vtex": "malote_dev.sandbox.vtex:VtexApp",
    "mercadolivre": "malote_dev.sandbox.mercadolivre:MercadoLivreApp",
    "bling": "malote_dev.sandbox.bling:BlingApp",
    "adyen": "malote_dev.sandbox.adyen:AdyenApp",
    "zendesk": "malote_dev.sandbox.zendesk:ZendeskApp",
}

FAKE_APPS: dict[str, Callable[..., FakeApp[Any]]] = {
    "jumpseller": JumpsellerApp,
    "tiny": TinyApp,
    "pagarme": PagarmeApp,
}

_CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class _GatewayHandler(BaseHTTPRequestHandler):
    """Turns one HTTP request into a WSGI call and writes the answer (or nothing, on a drop)."""

    protocol_version = "HTTP/1.1"
    server: _FakeHTTPServer
    # A client that connects and never sends a request must not pin a thread forever.
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line; the fakes keep their own call log."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        target = urlsplit(self.path)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(target.path, encoding="latin-1"),
            "QUERY_STRING": target.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": self.server.server_name,
            "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _serve(self) -> None:
        self.close_connection = True
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        try:
            result = self.server.app(self._environ(self._read_body()), start_response)
            payload = b"".join(result)
        except DropConnection:
            return  # nothing written: socketserver closes the socket and the client sees EOF
        except _CONNECTION_ERRORS:
            return
        except Exception:
            logger.exception("sandbox gateway: the app crashed")
            captured["status"], captured["headers"] = "500 Internal Server Error", []
            payload = b"sandbox crashed"
        code, _, reason = str(captured["status"]).partition(" ")
        try:
            self.send_response(int(code), reason)
            for name, value in captured["headers"]:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except _CONNECTION_ERRORS:
            pass  # the client gave up (e.g. the timeout fault outlived its read timeout)

    # http.server dispatches on these exact names.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815


class _FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Do not join handler threads on close: one may be holding an answer for a timeout fault.
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: FakeApp[Any]) -> None:
        self.app = app
        super().__init__(address, _GatewayHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], _CONNECTION_ERRORS):
            logger.exception("sandbox server: error while serving %s", client_address)


class RunningFake(Generic[StateT]):
    """A fake being served; stop it with :meth:`stop` or use it as a context manager.

    ``url`` is the server root (``http://127.0.0.1:8101``); ``api_url`` adds the vendor's base
    path, i.e. what replaces ``https://api.jumpseller.com/v1``, ``https://api.tiny.com.br/api2``
    or ``https://api.pagar.me/core/v5`` in a connector's settings.
    """

    def __init__(
        self, kind: FakeKind, app: FakeApp[StateT], server: _FakeHTTPServer, thread: threading.Thread
    ) -> None:
        self.kind = kind
        self.app = app
        self._server = server
        self._thread = thread
        self._stopped = False

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return self.app.base_url

    @property
    def api_url(self) -> str:
        return self.app.api_url

    @property
    def state(self) -> StateT:
        """The in-memory store (read it under ``fake.app.lock`` when the fake is busy)."""
        return self.app.state

    @property
    def faults(self) -> FaultController:
        return self.app.faults

    @property
    def calls(self) -> CallLog:
        return self.app.calls

    @property
    def webhooks(self) -> WebhookLog:
        return self.app.webhooks

    @property
    def credentials(self) -> dict[str, str]:
        return self.app.credentials()

    @property
    def config(self) -> dict[str, Any]:
        return self.app.config.to_json()

    def configure(self, **settings: Any) -> None:
        """Change settings at run time (same as ``POST /_sandbox/config``)."""
        with self.app.lock:
            self.app.config.update(settings)

    def reset(self, seed: bool | None = None) -> None:
        """Same as ``POST /_sandbox/reset``."""
        self.app.reset(seed)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook was sent (held ones excluded)."""
        return self.app.dispatcher.wait_idle(timeout)

    def stop(self) -> None:
        """Stop serving; idempotent. Held answers are cut short, queued webhooks get 2 s."""
        if self._stopped:
            return
        self._stopped = True
        self.app.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2.0)

    def __enter__(self) -> RunningFake[StateT]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningFake {self.kind} {self.url}>"


def _lazy_fake_app(kind: str) -> Callable[..., FakeApp[Any]] | None:
    target = LAZY_FAKE_APPS.get(kind)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    factory: Callable[..., FakeApp[Any]] = getattr(importlib.import_module(module_name), class_name)
    return factory


@overload
def start_fake(
    kind: Literal["skyhub", "vtex", "mercadolivre", "bling", "adyen", "zendesk"],
    *,
    port: int = ...,
    seed: bool = ...,
    host: str = ...,
    **config: Any,
) -> RunningFake[Any]: ...


@overload
def start_fake(
    kind: Literal["jumpseller"], *, port: int = ..., seed: bool = ..., host: str = ..., **config: Any
) -> RunningFake[JumpsellerState]: ...


@overload
def start_fake(
    kind: Literal["tiny"], *, port: int = ..., seed: bool = ..., host: str = ..., **config: Any
) -> RunningFake[TinyState]: ...


@overload
def start_fake(
    kind: Literal["pagarme"], *, port: int = ..., seed: bool = ..., host: str = ..., **config: Any
) -> RunningFake[PagarmeState]: ...


def start_fake(
    kind: FakeKind, *, port: int = 0, seed: bool = True, host: str = "127.0.0.1", **config: Any
) -> RunningFake[Any]:
    """Start the ``kind`` fake on ``host:port`` (0 = any free port) and return at once.

    ``config`` sets the fake's settings (see each fake's docstring and ``GET /_sandbox``);
    an unknown name raises :class:`~malote_dev.sandbox.app.ConfigError`. ``seed`` loads the demo data.
    """
    factory = FAKE_APPS.get(kind) or _lazy_fake_app(kind)
    if factory is None:
        raise ValueError(f"unknown fake {kind!r} (known: {', '.join([*FAKE_APPS, *LAZY_FAKE_APPS])})")
    app = factory(seed=seed, config=config)
    try:
        server = _FakeHTTPServer((host, port), app)
    except OSError:
        app.stop()
        raise
    app.base_url = f"http://{host}:{server.server_port}"
    # A short poll makes stop() return within ~10 ms (tests start and stop hundreds of fakes).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=f"sandbox-{kind}", daemon=True
    )
    thread.start()
    return RunningFake(kind, app, server, thread)
