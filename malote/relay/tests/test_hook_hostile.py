"""Hostile input on ``POST /hooks/<channel>`` (issue 12, webhooks): oversized and chunked bodies,
nesting, every parser failure and wrong types, signed as each vendor signs, never answer 500;
duplicate keys come from signed content only; no secret header is stored and no query-string
token is logged."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client, override_settings
from gunicorn.config import Config
from gunicorn.glogging import Logger
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from malote.channels.models import Channel
from malote.connectors import signing
from malote.connectors.payload import MAX_DEPTH, UnreadableBody, load_json
from malote.gunicorn_config import QuerylessLogger, logger_class
from malote.relay.tests.signed_hooks import CODES, SECRET, make_channels, post_signed, signed
from malote.relay.views import stored_headers
from malote.sync.models import InboxEvent

pytestmark = pytest.mark.django_db

NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def channels() -> dict[str, Channel]:
    return make_channels()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def assert_coded_refusal(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code


def assert_not_a_server_error(response: Any) -> None:
    """Below 500, and a refusal is coded JSON. The one 5xx allowed is 503 ``upstream_unavailable``:
    the body was readable and verified, and reading its system back failed (here, a closed port),
    so the sender should retry."""
    status = response.status_code
    if status >= 400:
        assert response["Content-Type"] == "application/json", response.content[:300]
        assert isinstance(response.json().get("code"), str), response.content[:300]
    assert status < 500 or (status == 503 and response.json()["code"] == "upstream_unavailable"), (
        status,
        response.content[:300],
    )


# --- the parser --------------------------------------------------------------------------------


def test_load_json_reads_nesting_up_to_the_limit() -> None:
    assert load_json(_nested(MAX_DEPTH)) == load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    assert load_json(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 100_000])
def test_load_json_refuses_nesting_past_the_limit(depth: int) -> None:
    with pytest.raises(UnreadableBody) as caught:
        load_json(_nested(depth))
    assert caught.value.code == "webhook_body_too_deep"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe{}",
        b"\xef\xbb\xbf{}",  # a UTF-8 BOM
        b"",
        b"{",
        b"<xml/>",
        b"a=1&b=2",
        b"NaN",
        b'{"a": Infinity}',
        b'{"a": 1e999999}',
        b'{"a": -1e999999}',
        b'{"a": ' + b"9" * 5000 + b"}",
        b'{"a": "\\u0000"}',
        b'{"\\ud800": 1}',
    ],
)
def test_load_json_refuses_what_cannot_be_read_safely(body: bytes) -> None:
    with pytest.raises(UnreadableBody) as caught:
        load_json(body)
    assert caught.value.code == "webhook_body_not_json"


# --- nesting and size on every hook ----------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_a_deeply_nested_body_is_400_on_every_hook(channels: dict[str, Channel], code: str) -> None:
    assert_coded_refusal(post_signed(code, NESTED), 400, "webhook_body_too_deep")
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize("code", ["adyen", "mercadolivre"])
def test_unsigned_nesting_on_hooks_that_parse_to_verify_is_400(
    channels: dict[str, Channel], code: str
) -> None:
    response = Client().post(f"/hooks/{code}", data=NESTED, content_type="application/json")
    assert_coded_refusal(response, 400, "webhook_body_too_deep")


def test_unsigned_nesting_on_a_hook_that_verifies_first_is_401(channels: dict[str, Channel]) -> None:
    response = Client().post("/hooks/jumpseller", data=NESTED, content_type="application/json")
    assert_coded_refusal(response, 401, "webhook_signature_missing")


def _webhook_event(event_id: str = "evt-1", **extra: Any) -> bytes:
    return json.dumps(
        {"id": event_id, "type": "order.status", "external_id": "X1", "status": "paid", **extra}
    ).encode()


@pytest.mark.parametrize("code", CODES)
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_body_over_the_limit_is_413_json(channels: dict[str, Channel], code: str) -> None:
    body = json.dumps({"padding": "x" * 5000}).encode()
    assert_coded_refusal(post_signed(code, body), 413, "webhook_too_large")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_body_within_the_limit_is_read(channels: dict[str, Channel]) -> None:
    body = _webhook_event(note="x" * (4096 - len(_webhook_event()) - 20))
    assert len(body) <= 4096
    response = post_signed("webhook", body)
    assert response.status_code == 200, response.content
    assert InboxEvent.objects.filter(source="webhook", event_id="evt-1").exists()


def _chunked(body: bytes) -> Any:
    """POST ``body`` to ``/hooks/webhook`` as gunicorn hands a chunked request to Django: no
    Content-Length, the input marked terminated."""
    environ: dict[str, Any] = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
    }
    headers = {signing.HEADER: signing.sign(SECRET, body)}
    return Client().generic(
        "POST", "/hooks/webhook", b"", content_type="application/json", headers=headers, **environ
    )


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_chunked_body_over_the_limit_is_413(channels: dict[str, Channel]) -> None:
    assert_coded_refusal(_chunked(_webhook_event(note="x" * 5000)), 413, "webhook_too_large")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_chunked_body_within_the_limit_is_read(channels: dict[str, Channel]) -> None:
    response = _chunked(_webhook_event())
    assert response.status_code == 200, response.content
    assert InboxEvent.objects.filter(source="webhook", event_id="evt-1").exists()


def test_a_token_in_a_readable_query_is_checked(channels: dict[str, Channel]) -> None:
    response = Client().post(f"/hooks/tiny?token={SECRET}&x=1", data=b"{}", content_type="application/json")
    assert_coded_refusal(response, 422, "malformed_webhook")  # verified, then read: no dados


def test_a_query_with_too_many_parameters_is_400_json(channels: dict[str, Channel]) -> None:
    query = "&".join(f"p{n}=1" for n in range(1001))
    response = Client().post(
        f"/hooks/tiny?token={SECRET}&{query}", data=b"{}", content_type="application/json"
    )
    assert_coded_refusal(response, 400, "webhook_query_invalid")


# --- duplicate keys from signed content only --------------------------------------------------


def _jumpseller_hook(body: bytes, event: str) -> Any:
    request = signed("jumpseller", body)
    headers = {**request.headers, "Jumpseller-Event": event}
    return Client().post("/hooks/jumpseller", data=body, content_type="application/json", headers=headers)


def test_a_jumpseller_body_replayed_under_another_event_is_a_duplicate(channels: dict[str, Channel]) -> None:
    body = json.dumps({"order": {"id": 7, "status": "Abandoned"}}).encode()
    assert _jumpseller_hook(body, "order_updated").status_code == 200
    for event in ("order_paid", "order_shipped", "order_canceled", "anything"):
        answer = _jumpseller_hook(body, event)
        assert answer.status_code == 200 and answer.json()["results"] == ["duplicate"], answer.content
    assert InboxEvent.objects.filter(source="jumpseller").count() == 1


def test_a_changed_jumpseller_body_is_a_new_event(channels: dict[str, Channel]) -> None:
    for status in ("Abandoned", "Pending Payment"):
        body = json.dumps({"order": {"id": 7, "status": status}}).encode()
        assert _jumpseller_hook(body, "order_updated").status_code == 200
    assert InboxEvent.objects.filter(source="jumpseller").count() == 2


# --- header secrets never stored --------------------------------------------------------------

SECRET_HEADERS = {
    "Authorization": "Basic dXNlcjpwYXNz",
    "Cookie": "sessionid=abc",
    "X-Malote-Hook-Secret": "vtex-hook-secret",
    "X-Vtex-Api-Appkey": "vtexappkey-acme",
    "X-Vtex-Api-Apptoken": "vtex-app-token",
    "X-Hub-Signature": "sha256=deadbeef",
    "X-Webhook-Asymmetric-Signature": "alg=RS256; kid=k; signature=abc",
    "Jumpseller-Hmac-Sha256": "c2lnbmF0dXJl",
    "X-Bling-Signature-256": "sha256=beef",
    "X-Custom-Secret-Name": "a secret under a name the channel chose",
}


def test_only_harmless_headers_are_kept() -> None:
    harmless = {
        "Content-Type": "application/json",
        "User-Agent": "VTEX-Hook",
        "Jumpseller-Event": "order_paid",
    }
    assert stored_headers({**harmless, **SECRET_HEADERS}) == harmless


@pytest.mark.parametrize(
    ("code", "body"),
    [
        ("webhook", _webhook_event()),  # taken in at once
        ("mercadolivre", json.dumps({"_id": "n1", "topic": "orders_v2", "resource": "/orders/1"}).encode()),
    ],  # stored unread (answers before reading)
)
def test_secret_headers_are_not_stored_with_the_event(
    channels: dict[str, Channel], code: str, body: bytes
) -> None:
    request = signed(code, body)
    response = Client().post(
        f"/hooks/{code}",
        data=request.body,
        content_type="application/json",
        headers={**SECRET_HEADERS, "User-Agent": "vendor/1.0", **request.headers},
    )
    assert response.status_code == 200, response.content
    stored = InboxEvent.objects.get(source=code).headers
    assert stored.get("User-Agent") == "vendor/1.0"
    kept = json.dumps(stored).lower()
    for value in (*SECRET_HEADERS.values(), SECRET):
        assert value.lower() not in kept
    assert not any("signature" in name.lower() for name in stored)


# --- query-string tokens never logged ---------------------------------------------------------


def test_a_tiny_token_is_not_in_django_logs(
    channels: dict[str, Channel], caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-token-0123456789"
    with caplog.at_level(logging.DEBUG):
        refused = Client().post(f"/hooks/tiny?token={wrong}", data=b"{}", content_type="application/json")
        unreadable = Client().post(
            f"/hooks/tiny?token={SECRET}", data=NESTED, content_type="application/json"
        )
    assert (refused.status_code, unreadable.status_code) == (401, 400)
    messages = [record.getMessage() for record in caplog.records]
    assert any("/hooks/tiny" in message for message in messages), messages  # the requests were logged
    assert not any(wrong in message or SECRET in message for message in messages), messages


def _access_line(logger_type: type[Any], tmp_path: Path) -> str:
    log_file = tmp_path / f"{logger_type.__name__}.log"
    cfg = Config()
    cfg.set("accesslog", str(log_file))
    cfg.set("access_log_format", '"%(r)s" %(q)s %(U)s %(f)s %({raw_uri}e)s %({query_string}e)s')
    logger = logger_type(cfg)
    response = SimpleNamespace(status="401 Unauthorized", sent=93, headers=[])
    request = SimpleNamespace(headers=[("REFERER", "https://erp.example/?token=tok-in-referer")])
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/hooks/tiny?token=tok-in-url",
        "PATH_INFO": "/hooks/tiny",
        "QUERY_STRING": "token=tok-in-url",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
    }
    logger.access(response, request, environ, timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.close()
    return log_file.read_text()


def test_gunicorn_default_logger_would_log_the_token(tmp_path: Path) -> None:
    assert "tok-in-url" in _access_line(Logger, tmp_path)


def test_the_configured_gunicorn_logger_logs_no_query(tmp_path: Path) -> None:
    cfg = Config()
    cfg.set("logger_class", logger_class)
    assert cfg.logger_class is QuerylessLogger
    line = _access_line(QuerylessLogger, tmp_path)
    assert '"POST /hooks/tiny?… HTTP/1.1"' in line and "/hooks/tiny" in line
    assert "tok-in" not in line


# --- no hostile input answers 500 -------------------------------------------------------------

HOSTILE_BODIES = [
    b"",
    b"\xff\xfe\x00{",
    b"\xc3\x28",
    NESTED,
    _nested(MAX_DEPTH + 1),
    b"[" * 5000,
    b'{"a": 1e999999}',
    b'{"id": NaN}',
    b'{"id": ' + b"1" * 5000 + b"}",
    b'"just a string"',
    b"[]",
    b"[{}]",
    b"0",
    b"null",
    b"true",
    b"{}",
    b'{"id": "\\u0000"}',
    b'{"id": "\\udfff"}',
    b"<?xml version='1.0'?><pedido><id>1</id></pedido>",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    b"dados%5Bid%5D=1&dados%5BcodigoSituacao%5D=aprovado",
    b"data=%7B%22id%22%3A1%7D&event=order.created",
    # Known shapes with wrong types in every field.
    b'{"id": {}, "type": [], "order": "x", "facts": 1, "created_at": {}}',
    b'{"order": []}',
    b'{"order": {"id": {}, "status": [], "shipment_status_enum": {}}}',
    b'{"OrderId": [], "State": {}, "CurrentChange": [], "Origin": "x"}',
    b'{"OrderId": "1", "State": "x", "Origin": {"Account": {}}}',
    b'{"dados": []}',
    b'{"dados": {"id": {"a": 1}, "codigoSituacao": [], "idNotaFiscal": {}}}',
    b'{"event": {}, "data": []}',
    b'{"event": "order.deleted", "data": {"id": [1]}}',
    b'{"id": "e", "type": {}, "data": "x"}',
    b'{"id": "e", "type": "charge.paid", "data": {"charges": 5, "order": []}}',
    b'{"notificationItems": {}}',
    b'{"notificationItems": [1, "x", null]}',
    b'{"notificationItems": [{"NotificationRequestItem": {"pspReference": {}, "eventCode": []}}]}',
    b'{"notificationItems": [{"NotificationRequestItem": '
    b'{"pspReference": "p", "eventCode": "X", "amount": 5, "success": {}}}]}',
    b'{"resource": {}, "topic": [], "_id": {}}',
    b'{"resource": "/orders/1/2/3", "topic": "orders_v2", "_id": ""}',
]


@pytest.mark.parametrize("code", CODES)
def test_hostile_bodies_never_answer_500(channels: dict[str, Channel], code: str) -> None:
    for body in HOSTILE_BODIES:
        for content_type in ("application/json", "application/x-www-form-urlencoded"):
            assert_not_a_server_error(post_signed(code, body, content_type=content_type))


# Every field a connector reads, for generated bodies that look like its notifications.
SHAPES: dict[str, dict[str, list[str]]] = {
    "webhook": {"": ["id", "type", "order", "external_id", "status", "facts", "created_at"]},
    "jumpseller": {"order": ["id", "status", "status_enum", "shipment_status_enum", "products", "customer"]},
    "vtex": {"": ["OrderId", "State", "CurrentChange", "Origin", "hookConfig"]},
    "tiny": {"dados": ["id", "codigoSituacao", "descricaoSituacao", "idNotaFiscal", "numero"]},
    "bling": {"": ["event", "data"], "data": ["id"]},
    "pagarme": {
        "": ["id", "type", "data", "created_at"],
        "data": ["id", "status", "charges", "order", "amount"],
    },
    "adyen": {"item": ["pspReference", "originalReference", "eventCode", "success", "amount", "eventDate"]},
    "mercadolivre": {"": ["_id", "resource", "topic", "sent", "received"]},
}
WORDS = [
    "order.created",
    "order.paid",
    "order.deleted",
    "invoice.created",
    "charge.paid",
    "charge.refunded",
    "AUTHORISATION",
    "CANCELLATION",
    "orders_v2",
    "shipments",
    "/orders/1",
    "paid",
    "canceled",
    "true",
]
junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(WORDS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _fields(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, junk))


def _shaped(code: str) -> st.SearchStrategy[bytes]:
    shape = SHAPES[code]
    if code == "adyen":
        item = _fields(shape["item"])
        body = st.builds(
            lambda items: {"notificationItems": [{"NotificationRequestItem": i} for i in items]},
            st.lists(item, min_size=1, max_size=2),
        )
    else:
        top = _fields(shape.get("", []))
        nested = {key: _fields(names) for key, names in shape.items() if key}
        body = st.builds(lambda t, n: {**t, **n}, top, st.fixed_dictionaries({}, optional=nested))
    return body.map(lambda value: json.dumps(value).encode())


@pytest.mark.parametrize("code", CODES)
def test_generated_bodies_never_answer_500(channels: dict[str, Channel], code: str) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(_shaped(code), junk.map(lambda value: json.dumps(value).encode())))
    def check(body: bytes) -> None:
        assert_not_a_server_error(post_signed(code, body))

    check()
