"""``malote bench reconcile --orders N``: compare two systems' order listings of N orders each.

What is compared, exactly: an ERP listing in Tiny's ``pedidos.pesquisa`` format and a gateway
listing in Pagar.me's ``GET /orders`` format, both served over HTTP on loopback by a bench server
in a child process (records generated on the fly; the sandbox fakes filter and sort their whole
state on every page, which makes 1,000,000 orders at their 50/100-per-page sizes a matter of
hours, not seconds). The reconciler's side is the production code: the real ``TinyConnector`` and
``PagarmeConnector`` ``list_orders`` (HTTP, envelope parsing, ``ListedOrder``) iterated by
``malote.reconcile.integration.listing``, 1,000 orders per page (Tiny decides its page size; the
Pagar.me connector's ``list_page_size`` option is raised from its default 100). The comparison
keeps one set of references per side (Malote's order number = Tiny's ``numero_ecommerce`` =
Pagar.me's ``code``) and reports orders paid at the gateway missing in the ERP and ERP orders the
gateway does not know. The server drops a known share of orders on each side; ``correct`` says
whether the differences found are exactly those. No database is involved.

Prints seconds, peak memory of the reconciling process (``ru_maxrss``, with the baseline before
the run) and the counts, as JSON. Times are never asserted.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from malote.connectors.pagarme import PagarmeConnector
from malote.connectors.tiny import TinyConnector
from malote.reconcile.integration import listing

PAGE = 1000
TOKEN = "bench-token"
SECRET = "sk_test_bench"


def missing_in_erp(index: int) -> bool:
    return index % 1000 == 7


def missing_at_gateway(index: int) -> bool:
    return index % 1500 == 11


def _tiny_page(total: int, page: int) -> bytes:
    pages = (total + PAGE - 1) // PAGE
    start = (page - 1) * PAGE
    pedidos = [
        {
            "pedido": {
                "id": str(700_000_000 + i),
                "numero": str(1000 + i),
                "numero_ecommerce": f"M{i:07d}",
                "data_pedido": "20/11/2026",
                "data_prevista": "",
                "nome": "Maria Souza",
                "valor": "114.80",
                "id_vendedor": "0",
                "nome_vendedor": "",
                "situacao": "Aprovado",
                "codigo_rastreamento": "",
                "url_rastreamento": "",
            }
        }
        for i in range(start, min(start + PAGE, total))
        if not missing_in_erp(i)
    ]
    retorno = {"status_processamento": "3", "status": "OK", "pagina": page, "numero_paginas": pages}
    return json.dumps({"retorno": {**retorno, "pedidos": pedidos}}).encode()


def _pagarme_page(total: int, page: int, size: int) -> bytes:
    start = (page - 1) * size
    data = [
        {
            "id": f"or_{i:012d}",
            "code": f"M{i:07d}",
            "amount": 11480,
            "currency": "BRL",
            "status": "paid",
            "created_at": "2026-11-20T17:03:00Z",
            "updated_at": "2026-11-20T17:05:00Z",
            "charges": [{"id": f"ch_{i:012d}", "status": "paid", "payment_method": "pix"}],
        }
        for i in range(start, min(start + size, total))
        if not missing_at_gateway(i)
    ]
    more = start + size < total
    paging = {"total": total, "previous": None, "next": f"/orders?page={page + 1}" if more else None}
    return json.dumps({"data": data, "paging": paging}).encode()


class _Pages:
    """Renders the pages ahead of the client, at most ``WINDOW`` per listing, so the other
    system's own speed is not what the benchmark measures (it has the second core)."""

    WINDOW = 16

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = (total + PAGE - 1) // PAGE
        self.cond = threading.Condition()
        self.ready: dict[tuple[str, int], bytes] = {}
        self.taken = {"tiny": 0, "pagarme": 0}

    def produce(self) -> None:
        renders = (
            ("tiny", lambda p: _tiny_page(self.total, p)),
            ("pagarme", lambda p: _pagarme_page(self.total, p, PAGE)),
        )
        for kind, render in renders:
            for page in range(1, self.count + 1):
                body = render(page)
                with self.cond:
                    while page - self.taken[kind] > self.WINDOW:
                        self.cond.wait()
                    self.ready[(kind, page)] = body
                    self.cond.notify_all()

    def take(self, kind: str, page: int) -> bytes:
        if not 1 <= page <= self.count:
            return _tiny_page(self.total, page) if kind == "tiny" else _pagarme_page(self.total, page, PAGE)
        with self.cond:
            while (kind, page) not in self.ready:
                self.cond.wait()
            self.taken[kind] = max(self.taken[kind], page)
            self.cond.notify_all()
            return self.ready.pop((kind, page))


def _serve(total: int, ready: Any) -> None:
    pages = _Pages(total)
    threading.Thread(target=pages.produce, daemon=True).start()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _reply(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # Tiny: pedidos.pesquisa
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            self._reply(pages.take("tiny", int(form.get("pagina", ["1"])[0])))

        def do_GET(self) -> None:  # Pagar.me: GET /orders
            query = parse_qs(urlsplit(self.path).query)
            self._reply(pages.take("pagarme", int(query.get("page", ["1"])[0])))

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ready.send(server.server_address[1])
    server.serve_forever()


def _channel(code: str, url: str, **fields: Any) -> Any:
    return SimpleNamespace(code=code, base_url=url, status_map={}, options={}, **fields)


def run(orders: int, **options: Any) -> dict[str, Any]:
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    server = context.Process(target=_serve, args=(orders, sender), daemon=True)
    server.start()
    try:
        port = receiver.recv()
        base = f"http://127.0.0.1:{port}"
        tiny = _channel("tiny", f"{base}/api2", credentials={"token": TOKEN})
        gateway = _channel("pagarme", f"{base}/core/v5", credentials={"secret_key": SECRET})
        gateway.options = {"list_page_size": PAGE}
        started = time.perf_counter()
        with httpx.Client(timeout=30.0) as http:
            erp_refs = {order.reference for order in listing(TinyConnector(tiny, http=http), _since())}
            erp_seconds = time.perf_counter() - started
            missing_erp = 0
            seen_at_gateway: set[str] = set()
            for order in listing(PagarmeConnector(gateway, http=http), _since()):
                seen_at_gateway.add(order.reference)
                if order.reference not in erp_refs:
                    missing_erp += 1
            missing_gateway = len(erp_refs - seen_at_gateway)
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.join(5)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    expected_erp = sum(1 for i in range(orders) if missing_in_erp(i) and not missing_at_gateway(i))
    expected_gateway = sum(1 for i in range(orders) if missing_at_gateway(i) and not missing_in_erp(i))
    return {
        "orders_per_side": orders,
        "listed_erp": len(erp_refs),
        "listed_gateway": len(seen_at_gateway),
        "missing_in_erp": missing_erp,
        "missing_at_gateway": missing_gateway,
        "correct": missing_erp == expected_erp and missing_gateway == expected_gateway,
        "seconds": round(seconds, 2),
        "seconds_erp_listing": round(erp_seconds, 2),
        "pages_per_side": (orders + PAGE - 1) // PAGE,
        "peak_memory_mb": round(peak_kb / 1024, 1),
        "baseline_memory_mb": round(baseline_kb / 1024, 1),
        "compared": "Tiny pedidos.pesquisa vs Pagar.me GET /orders listings over HTTP, by order number",
    }


def _since() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 11, 1, tzinfo=UTC)
