"""Fault injection: the controller's counters and filters, then every kind seen by a real client."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from malote_dev.sandbox.faults import FaultController, FaultError
from malote_dev.sandbox.jumpseller import JumpsellerState
from malote_dev.sandbox.pagarme import PagarmeState
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import (
    WebhookReceiver,
    client,
    jumpseller_auth,
    pagarme_auth,
    tiny_call,
)
from malote_dev.sandbox.tiny import TinyState

ALL_KINDS = frozenset(
    {"latency_ms", "error_5xx", "rate_limit", "timeout", "drop", "webhook_duplicate", "webhook_off"}
)


# ----------------------------------------------------------------- the controller
def test_a_fault_applies_to_exactly_count_matching_events() -> None:
    faults = FaultController(ALL_KINDS)
    faults.set("error_5xx", count=2, method="put", path_prefix="/v1/orders")
    assert faults.take("error_5xx", "GET", "/v1/orders/1.json") is None  # wrong method
    assert faults.take("error_5xx", "PUT", "/v1/hooks/1.json") is None  # wrong path
    first = faults.take("error_5xx", "PUT", "/v1/orders/1.json")
    assert first is not None and first.remaining == 1 and first.params == {"status": 500}
    assert faults.take("error_5xx", "PUT", "/v1/orders/2.json") is not None
    assert faults.take("error_5xx", "PUT", "/v1/orders/3.json") is None
    assert faults.active() == []


def test_set_replaces_the_same_kind_and_filters_and_keeps_others() -> None:
    faults = FaultController(ALL_KINDS)
    faults.set("latency_ms", count=5, ms=10)
    faults.set("latency_ms", count=1, ms=20)
    faults.set("latency_ms", count=3, method="GET", ms=30)
    assert [(fault.remaining, fault.params["ms"]) for fault in faults.active()] == [(1, 20), (3, 30)]
    faults.clear("latency_ms")
    assert faults.active() == []


@pytest.mark.parametrize(
    ("kind", "count", "params"),
    [
        ("nope", 1, {}),
        ("drop_order_creation", 1, {}),  # Tiny only
        ("error_5xx", 0, {}),
        ("error_5xx", 1, {"status": 418}),
        ("timeout", 1, {"ms": 5}),
        ("latency_ms", 1, {"ms": "slow"}),
    ],
)
def test_invalid_fault_specifications_are_refused(kind: str, count: int, params: dict[str, Any]) -> None:
    with pytest.raises(FaultError):
        FaultController(ALL_KINDS).set(kind, count, **params)


def test_clearing_runs_the_on_clear_hook() -> None:
    cleared: list[bool] = []
    faults = FaultController(ALL_KINDS, on_clear=lambda: cleared.append(True))
    faults.clear()
    assert cleared == [True]


# ----------------------------------------------------------------- API faults over HTTP
def _get_orders(http: httpx.Client, fake: RunningFake[JumpsellerState]) -> httpx.Response:
    return http.get(f"{fake.api_url}/orders.json", auth=jumpseller_auth(fake))


def test_latency_delays_the_answer(jumpseller: RunningFake[JumpsellerState], http: httpx.Client) -> None:
    jumpseller.faults.set("latency_ms", ms=250)
    started = time.monotonic()
    assert _get_orders(http, jumpseller).status_code == 200
    assert time.monotonic() - started >= 0.25
    assert jumpseller.calls[-1].faults == ["latency_ms"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_jumpseller_5xx_has_a_message_body(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client, status: int
) -> None:
    jumpseller.faults.set("error_5xx", status=status)
    response = _get_orders(http, jumpseller)
    assert response.status_code == status
    assert isinstance(response.json()["message"], str)
    assert _get_orders(http, jumpseller).status_code == 200  # the counter is spent


def test_5xx_has_no_effect(pagarme: RunningFake[PagarmeState], http: httpx.Client) -> None:
    before = len(pagarme.state.orders)
    pagarme.faults.set("error_5xx", status=503, method="POST")
    body = {
        "items": [{"amount": 1000, "description": "x", "quantity": 1}],
        "customer": {"name": "A", "email": "a@example.com"},
        "payments": [{"payment_method": "pix"}],
    }
    response = http.post(f"{pagarme.api_url}/orders", json=body, auth=pagarme_auth(pagarme))
    assert response.status_code == 503 and response.json() == {"message": "An error has occurred."}
    assert len(pagarme.state.orders) == before


def test_tiny_5xx_is_an_html_page(tiny: RunningFake[TinyState], http: httpx.Client) -> None:
    tiny.faults.set("error_5xx", status=502)
    response = http.post(
        f"{tiny.api_url}/pedido.obter.php", data={"token": "x", "formato": "json", "id": "1"}
    )
    assert response.status_code == 502 and response.headers["content-type"].startswith("text/html")


def test_jumpseller_rate_limit_sends_retry_after_and_zero_remaining(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client
) -> None:
    jumpseller.faults.set("rate_limit", retry_after=7, banned=True)
    response = _get_orders(http, jumpseller)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Jumpseller-PerSecondRateLimit-Remaining"] == "0"
    assert response.headers["Jumpseller-PerMinuteRateLimit-Remaining"] == "0"
    assert "Jumpseller-BannedByRateLimit-Reset" in response.headers


def test_pagarme_rate_limit_sends_retry_after(pagarme: RunningFake[PagarmeState], http: httpx.Client) -> None:
    pagarme.faults.set("rate_limit", retry_after=3)
    response = http.get(f"{pagarme.api_url}/orders", auth=pagarme_auth(pagarme))
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_tiny_rate_limit_is_its_own_throttle_answer_unless_http_is_asked(
    tiny: RunningFake[TinyState], http: httpx.Client
) -> None:
    tiny.faults.set("rate_limit")
    retorno = tiny_call(http, tiny, "pedidos.pesquisa", situacao="aprovado")
    assert retorno["status"] == "Erro" and retorno["codigo_erro"] == "6"
    assert "bloqueada" in retorno["erros"][0]["erro"].lower()
    tiny.faults.set("rate_limit", http=True, retry_after=2)
    response = http.post(f"{tiny.api_url}/pedidos.pesquisa.php", data={"token": "t", "formato": "json"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"


def test_timeout_holds_the_answer_but_the_write_lands(pagarme: RunningFake[PagarmeState]) -> None:
    pagarme.faults.set("timeout", seconds=3)
    charge_id = next(iter(pagarme.state.charges))
    with client(timeout=0.3) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.delete(f"{pagarme.api_url}/charges/{charge_id}", auth=pagarme_auth(pagarme))
    assert pagarme.state.charges[charge_id]["status"] == "canceled"


def test_drop_closes_the_connection_without_an_answer(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client
) -> None:
    jumpseller.faults.set("drop", method="PUT")
    with pytest.raises(httpx.TransportError):
        http.put(
            f"{jumpseller.api_url}/orders/10005.json",
            json={"order": {"status": "Paid"}},
            auth=jumpseller_auth(jumpseller),
        )
    assert jumpseller.state.orders[10005]["status_enum"] == "pending_payment"
    assert jumpseller.calls[-1].status is None and jumpseller.calls[-1].dropped


def test_drop_with_effect_applies_the_request_and_loses_the_answer(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client
) -> None:
    jumpseller.faults.set("drop", effect=True)
    with pytest.raises(httpx.TransportError):
        http.put(
            f"{jumpseller.api_url}/orders/10005.json",
            json={"order": {"status": "Paid"}},
            auth=jumpseller_auth(jumpseller),
        )
    assert jumpseller.state.orders[10005]["status_enum"] == "paid"


def test_faults_are_set_and_cleared_through_the_control_api(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client
) -> None:
    answer = http.post(
        f"{jumpseller.url}/_sandbox/faults",
        json={"kind": "error_5xx", "count": 3, "status": 503, "path_prefix": "/v1/hooks"},
    )
    assert answer.status_code == 200
    assert answer.json()["fault"] == {
        "kind": "error_5xx",
        "remaining": 3,
        "method": None,
        "path_prefix": "/v1/hooks",
        "params": {"status": 503},
    }
    assert _get_orders(http, jumpseller).status_code == 200  # filtered out
    assert http.get(f"{jumpseller.api_url}/hooks.json", auth=jumpseller_auth(jumpseller)).status_code == 503
    assert http.get(f"{jumpseller.url}/_sandbox/faults").json()["faults"][0]["remaining"] == 2
    assert http.delete(f"{jumpseller.url}/_sandbox/faults").json() == {"faults": []}
    assert http.post(f"{jumpseller.url}/_sandbox/faults", json={"kind": "bogus"}).status_code == 400


def test_the_control_api_is_never_faulted(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client
) -> None:
    jumpseller.faults.set("error_5xx", count=10)
    assert http.get(f"{jumpseller.url}/_sandbox/config").status_code == 200
    assert jumpseller.faults.active()[0].remaining == 10


# ----------------------------------------------------------------- webhook faults
def _place_jumpseller_orders(http: httpx.Client, fake: RunningFake[JumpsellerState], count: int) -> list[int]:
    ids = []
    for _ in range(count):
        answer = http.post(f"{fake.url}/_sandbox/orders", json={"payment_method": "boleto"})
        ids.append(answer.json()["order"]["id"])
    return ids


def test_webhook_duplicate_sends_the_same_body_twice(
    jumpseller: RunningFake[JumpsellerState], receiver: WebhookReceiver, http: httpx.Client
) -> None:
    jumpseller.faults.set("webhook_duplicate")
    _place_jumpseller_orders(http, jumpseller, 2)
    received = receiver.wait_for(3)
    assert len(receiver.settle()) == 3
    assert received[0].body == received[1].body and received[0].headers == received[1].headers
    assert received[2].body != received[0].body
    assert [record.copy for record in jumpseller.webhooks] == [1, 2, 1]


def test_webhook_reorder_sends_the_next_n_in_reverse(
    jumpseller: RunningFake[JumpsellerState], receiver: WebhookReceiver, http: httpx.Client
) -> None:
    jumpseller.faults.set("webhook_reorder", count=3)
    ids = _place_jumpseller_orders(http, jumpseller, 4)
    received = receiver.wait_for(4)
    assert [item.json["order"]["id"] for item in received] == [ids[2], ids[1], ids[0], ids[3]]


def test_clearing_faults_releases_a_partial_reorder_batch(
    jumpseller: RunningFake[JumpsellerState], receiver: WebhookReceiver, http: httpx.Client
) -> None:
    jumpseller.faults.set("webhook_reorder", count=5)
    ids = _place_jumpseller_orders(http, jumpseller, 2)
    assert receiver.settle() == [] and jumpseller.app.dispatcher.held == 2
    jumpseller.faults.clear()
    assert [item.json["order"]["id"] for item in receiver.wait_for(2)] == [ids[1], ids[0]]


def test_webhook_off_records_but_does_not_send(
    pagarme: RunningFake[PagarmeState], receiver: WebhookReceiver, http: httpx.Client
) -> None:
    pagarme.faults.set("webhook_off", count=2)
    http.post(
        f"{pagarme.url}/_sandbox/orders", json={"payment_method": "pix"}
    )  # order.created + charge.created
    assert receiver.settle() == []
    assert [(record.event, record.suppressed) for record in pagarme.webhooks] == [
        ("order.created", True),
        ("charge.created", True),
    ]


@pytest.mark.parametrize("any_fake", ["jumpseller", "tiny", "pagarme"], indirect=True)
def test_every_fake_accepts_every_common_fault_kind(any_fake: RunningFake[Any]) -> None:
    for kind in ("latency_ms", "error_5xx", "rate_limit", "timeout", "drop", "webhook_reorder"):
        any_fake.faults.set(kind)
    assert len(any_fake.faults.active()) == 6
