"""Serving, the Python API and the common control API."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from malote_dev.sandbox import start_fake
from malote_dev.sandbox.app import ConfigError
from malote_dev.sandbox.jumpseller import JumpsellerState
from malote_dev.sandbox.server import RunningFake
from malote_dev.sandbox.tests.helpers import WebhookReceiver, client, jumpseller_auth, pagarme_auth, tiny_call
from malote_dev.sandbox.tiny import TinyState


def test_three_fakes_start_well_under_a_second_and_stop_cleanly(http: httpx.Client) -> None:
    started = time.perf_counter()
    fakes: list[RunningFake[Any]] = [start_fake("jumpseller"), start_fake("tiny"), start_fake("pagarme")]
    elapsed = time.perf_counter() - started
    try:
        assert elapsed < 1.0, elapsed
        assert len({fake.port for fake in fakes}) == 3
        assert [fake.api_url.removeprefix(fake.url) for fake in fakes] == ["/v1", "/api2", "/core/v5"]
        assert all(fake.url.startswith("http://127.0.0.1:") for fake in fakes)
    finally:
        for fake in fakes:
            fake.stop()
            fake.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        http.get(f"{fakes[0].url}/_sandbox")


def test_unknown_kind_and_unknown_setting_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fake"):
        start_fake("shopify")  # type: ignore[call-overload]
    with pytest.raises(ConfigError, match="unknown setting"):
        start_fake("tiny", tokn="x")
    with pytest.raises(ConfigError, match="must be bool"):
        start_fake("tiny", numbers_as_strings="yes")


def test_a_busy_port_raises_oserror() -> None:
    with start_fake("jumpseller") as first, pytest.raises(OSError):
        start_fake("jumpseller", port=first.port)


def test_unseeded_fakes_start_empty(http: httpx.Client) -> None:
    with start_fake("jumpseller", seed=False) as fake:
        assert http.get(f"{fake.api_url}/orders.json", auth=jumpseller_auth(fake)).json() == []
    with start_fake("pagarme", seed=False) as pagarme:
        assert http.get(f"{pagarme.api_url}/orders", auth=pagarme_auth(pagarme)).json()["data"] == []


def test_the_index_describes_the_fake(http: httpx.Client) -> None:
    with start_fake("tiny") as fake:
        index = http.get(f"{fake.url}/_sandbox").json()
        assert (index["kind"], index["api_url"]) == ("tiny", fake.api_url)
        assert index["credentials"] == fake.credentials
        assert "POST /api2/{service}.php" in index["routes"]["api"]
        assert "POST /_sandbox/orders/{id:int}/invoice" in index["routes"]["control"]
        assert index["settings"]["numbers_as_strings"].startswith("assumed: ")
        assert http.get(f"{fake.url}/_sandbox/nothing").status_code == 404
        assert http.delete(f"{fake.url}/_sandbox/config").status_code == 405


def test_config_is_read_and_changed_at_run_time(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client, receiver: WebhookReceiver
) -> None:
    config = http.get(f"{jumpseller.url}/_sandbox/config").json()
    assert config["webhook_url"] == f"{receiver.url}/hooks/jumpseller" and config["newest_first"] is True
    moved = http.post(f"{jumpseller.url}/_sandbox/config", json={"webhook_url": f"{receiver.url}/elsewhere"})
    assert moved.json()["webhook_url"].endswith("/elsewhere")
    assert http.post(f"{jumpseller.url}/_sandbox/config", json={"nope": 1}).status_code == 400
    assert http.post(f"{jumpseller.url}/_sandbox/config", json={"newest_first": "no"}).status_code == 400
    assert http.post(f"{jumpseller.url}/_sandbox/config", content=b"[1]").status_code == 400
    http.post(f"{jumpseller.url}/_sandbox/orders", json={})
    assert receiver.wait_for(1)[0].path == "/elsewhere"
    jumpseller.configure(webhook_url=None)
    http.post(f"{jumpseller.url}/_sandbox/orders", json={})
    recorded = jumpseller.webhooks.wait_for(2)
    assert recorded[1].url is None and recorded[1].status is None and not recorded[1].delivered
    assert len(receiver.settle()) == 1


def test_calls_log_every_api_request_with_masked_credentials(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client
) -> None:
    http.get(f"{jumpseller.api_url}/orders.json", params={"limit": 2}, auth=jumpseller_auth(jumpseller))
    http.put(
        f"{jumpseller.api_url}/orders/10005.json",
        json={"order": {"status": "Paid"}},
        headers={"User-Agent": "malote-tests"},
        auth=jumpseller_auth(jumpseller),
    )
    http.get(f"{jumpseller.url}/_sandbox/state")  # control calls are not logged
    first, second = jumpseller.calls.all()
    assert (first.method, first.path, first.query, first.status) == (
        "GET",
        "/v1/orders.json",
        {"limit": ["2"]},
        200,
    )
    assert first.headers["authorization"] == "Basic malote-demo:***"
    assert second.json == {"order": {"status": "Paid"}} and second.headers["user-agent"] == "malote-tests"
    assert second.duration_ms is not None and second.faults == []
    listed = http.get(f"{jumpseller.url}/_sandbox/calls", params={"method": "PUT"}).json()["calls"]
    assert [(call["path"], call["status"]) for call in listed] == [("/v1/orders/10005.json", 200)]
    assert jumpseller.credentials["authtoken"] not in str(listed)
    assert jumpseller.calls.filter(path_prefix="/v1/orders/") == [second]
    assert http.delete(f"{jumpseller.url}/_sandbox/calls").json() == {"calls": []}
    assert len(jumpseller.calls) == 0


def test_webhooks_are_listed_with_their_answers(
    tiny: RunningFake[TinyState], http: httpx.Client, receiver: WebhookReceiver
) -> None:
    receiver.status = 503
    http.post(f"{tiny.url}/_sandbox/orders", json={})
    assert tiny.wait_for_webhooks()
    (listed,) = http.get(f"{tiny.url}/_sandbox/webhooks", params={"event": "inclusao_pedido"}).json()[
        "webhooks"
    ]
    assert (listed["status"], listed["delivered"], listed["url"]) == (
        503,
        False,
        f"{receiver.url}/hooks/tiny",
    )
    assert listed["headers"]["Content-Type"] == "application/json"
    assert '"tipo":"inclusao_pedido"' in listed["body"]
    assert http.get(f"{tiny.url}/_sandbox/webhooks", params={"event": "x"}).json()["webhooks"] == []
    assert http.delete(f"{tiny.url}/_sandbox/webhooks").json() == {"webhooks": []}


def test_unreachable_webhook_targets_are_recorded_as_errors(http: httpx.Client) -> None:
    with start_fake("tiny", webhook_url="http://127.0.0.1:9/unreachable") as fake:
        http.post(f"{fake.url}/_sandbox/orders", json={})
        (record,) = fake.webhooks.wait_for(1)
        assert record.status is None and record.error is not None and "Connect" in record.error


def test_held_webhooks_can_be_flushed(
    jumpseller: RunningFake[JumpsellerState], http: httpx.Client, receiver: WebhookReceiver
) -> None:
    jumpseller.faults.set("webhook_reorder", count=10)
    http.post(f"{jumpseller.url}/_sandbox/orders", json={})
    assert http.get(f"{jumpseller.url}/_sandbox/webhooks").json()["held"] == 1
    assert http.post(f"{jumpseller.url}/_sandbox/webhooks/flush").json() == {"held": 0}
    assert len(receiver.wait_for(1)) == 1


def test_reset_restores_the_seed_and_empties_logs_and_faults(
    tiny: RunningFake[TinyState], http: httpx.Client
) -> None:
    pedido_id = http.post(f"{tiny.url}/_sandbox/orders", json={}).json()["pedido"]["id"]
    tiny_call(http, tiny, "pedido.obter", id=pedido_id)
    tiny.faults.set("error_5xx", count=5)
    assert tiny.wait_for_webhooks()
    assert http.post(f"{tiny.url}/_sandbox/reset").json() == {"reset": True, "seeded": True}
    assert len(tiny.state.pedidos) == 3 and tiny.faults.active() == []
    assert len(tiny.calls) == 0 and len(tiny.webhooks) == 0
    assert tiny.config["webhook_url"] is not None  # settings survive a reset
    assert http.post(f"{tiny.url}/_sandbox/reset", json={"seed": False}).json()["seeded"] is False
    assert tiny.state.pedidos == {}
    assert http.post(f"{tiny.url}/_sandbox/reset", json={"seed": "yes"}).status_code == 400
    tiny.reset(seed=True)
    assert len(tiny.state.pedidos) == 3


@pytest.mark.parametrize("kind", ["jumpseller", "tiny", "pagarme"])
def test_state_dump_is_json(kind: Any, http: httpx.Client) -> None:
    with start_fake(kind) as fake:
        state = http.get(f"{fake.url}/_sandbox/state").json()
        assert state and all(isinstance(value, list | dict) for value in state.values())


def test_concurrent_clients_are_served_in_parallel(http: httpx.Client) -> None:
    """A held answer (timeout fault) must not block other clients."""
    with start_fake("jumpseller") as fake:
        fake.faults.set("latency_ms", ms=600, path_prefix="/v1/hooks")

        def slow_call() -> None:
            with client() as other:
                other.get(f"{fake.api_url}/hooks.json", auth=jumpseller_auth(fake))

        slow = threading.Thread(target=slow_call)
        slow.start()
        time.sleep(0.05)
        started = time.monotonic()
        assert http.get(f"{fake.api_url}/orders/count.json", auth=jumpseller_auth(fake)).status_code == 200
        assert time.monotonic() - started < 0.3
        slow.join()
