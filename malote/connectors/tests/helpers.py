"""Helpers shared by the connector tests (and the reconciliation tests): a channel of a given kind
(and the Pagar.me gateway) pointing at a running fake, the fake's control API as a callable,
changing a channel's settings in place, and delivering an order to a channel until it is linked
there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from malote.channels.models import Channel, ChannelRole, OrderLink
from malote.connectors.pagarme import clear_jwks_cache
from malote.orders.models import Order
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.sandbox.server import RunningFake

Control = Callable[..., dict[str, Any]]


def channel_at(fake: RunningFake[Any], kind: str, name: str, role: str, **fields: Any) -> Channel:
    """A channel of ``kind`` (its code is the kind too) whose API is the running ``fake``."""
    return Channel.objects.create(code=kind, name=name, role=role, kind=kind, base_url=fake.api_url, **fields)


@contextmanager
def pagarme_gateway(fake: RunningFake[Any]) -> Iterator[Channel]:
    """The Pagar.me gateway channel at the fake (RS256 webhooks checked against the fake's JWKS).
    The connector caches JWKS per URL; each fake has its own key, so the cache is cleared around it."""
    clear_jwks_cache()
    yield channel_at(
        fake,
        "pagarme",
        "Pagar.me",
        ChannelRole.GATEWAY,
        credentials={"secret_key": fake.credentials["secret_key"]},
        options={"jwks_url": fake.credentials["jwks_url"]},
    )
    clear_jwks_cache()


def control_of(fake: RunningFake[Any], http: httpx.Client) -> Control:
    """``control("orders/123/cancel", {...})`` POSTs to the fake's control API and returns its answer;
    anything but 200/201 fails the test."""

    def post(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = http.post(f"{fake.url}/_sandbox/{path}", json=body or {})
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer

    return post


def configure(channel: Channel, **fields: Any) -> Channel:
    """Change the channel's stored fields (as the back office would) and reload it."""
    Channel.objects.filter(pk=channel.pk).update(**fields)
    channel.refresh_from_db()
    return channel


def order_message(order: Order, channel_code: str) -> OutboxMessage:
    """The outbox message that creates ``order`` at the channel."""
    return OutboxMessage.objects.get(destination=f"channel:{channel_code}", order=order, kind="order.order")


def linked(order: Order, channel_code: str) -> str:
    """Deliver what is due to the channels and return the order's id at ``channel_code``."""
    drain(prefix="channel:")
    link = OrderLink.objects.get(order=order, channel__code=channel_code)
    assert link.state == "linked" and link.external_id, link.last_error
    return link.external_id
