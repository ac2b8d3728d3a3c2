"""The tiny router and HTTP primitives."""

from __future__ import annotations

import io

from malote_dev.sandbox.router import Request, Response, Router, compile_template, status_line


def _ok(request: Request) -> Response:
    return Response.json({"ok": True})


def test_templates_match_whole_paths_with_typed_parameters() -> None:
    pattern = compile_template("/v1/orders/{id:int}.json")
    match = pattern.match("/v1/orders/10001.json")
    assert match is not None and match.group("id") == "10001"
    assert pattern.match("/v1/orders/count.json") is None
    assert pattern.match("/v1/orders/10001.json/extra") is None
    service = compile_template("/api2/{service}.php").match("/api2/pedido.obter.php")
    assert service is not None and service.group("service") == "pedido.obter"


def test_resolve_reports_allowed_methods_when_only_the_method_differs() -> None:
    router = Router()
    router.add("GET", "/v1/hooks/{id:int}.json", _ok)
    router.add("DELETE", "/v1/hooks/{id:int}.json", _ok)
    found = router.resolve("GET", "/v1/hooks/3.json")
    assert found.handler is _ok and found.params == {"id": "3"}
    refused = router.resolve("POST", "/v1/hooks/3.json")
    assert refused.handler is None and refused.allowed == ("GET", "DELETE")
    assert router.resolve("GET", "/v1/nothing.json").allowed == ()


def test_request_from_environ_reads_headers_query_and_form_body() -> None:
    body = b"token=abc&formato=json&pedido=%7B%7D"
    request = Request.from_environ(
        {
            "REQUEST_METHOD": "post",
            "PATH_INFO": "/api2/pedido.incluir.php",
            "QUERY_STRING": "formato=xml&status_filters[]=paid&status_filters[]=canceled",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_IDEMPOTENCY_KEY": "k-1",
            "wsgi.input": io.BytesIO(body),
        }
    )
    assert request.method == "POST"
    assert request.headers["idempotency-key"] == "k-1"
    assert request.args("status_filters[]") == ["paid", "canceled"]
    assert request.form() == {"formato": "json", "status_filters[]": "paid", "token": "abc", "pedido": "{}"}


def test_response_helpers() -> None:
    response = Response.json({"a": "ç"}, 201, [("X-One", "1")])
    response.set_header("x-one", "2")
    assert response.header("X-ONE") == "2"
    assert response.parsed() == {"a": "ç"}
    assert status_line(429) == "429 Too Many Requests"
    assert status_line(599) == "599 Unknown"
