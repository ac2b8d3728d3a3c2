"""Every order page and action of the back office, allowed and forbidden, for each role and for
anonymous visitors (who are sent to the login page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.conftest import SYSTEM
from malote.orders import actions
from malote.orders.models import Order
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY, build_nfe_xml
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db
ROLES = ["viewer", "operator", "support", "admin"]


@pytest.fixture
def invoiced(make_order: Any) -> Order:
    order = bring_to(make_order(), "paid")
    actions.run_transition(
        order.pk,
        "invoice",
        {
            "key": SAMPLE_NFE_KEY,
            "number": "1234",
            "series": "1",
            "issued_at": "2025-03-15T10:30:00-03:00",
            "xml": build_nfe_xml(SAMPLE_NFE_KEY, total=order.total, recipient_cpf=order.customer_document),
        },
        actor=SYSTEM,
    )
    return order


def _dead(order: Order) -> OutboxMessage:
    return OutboxMessage.objects.create(
        destination="channel:tiny", key=f"order:{order.pk}", order=order, kind="order.order",
        payload={"op": "order"}, idempotency_key=f"access-{order.pk}", state=MessageState.DEAD,
    )  # fmt: skip


# (path template, method, roles allowed); {order} is the invoiced order, {message} a dead letter.
PAGES: list[tuple[str, str, set[str]]] = [
    ("/backoffice/orders/{order}/", "get", set(ROLES)),
    ("/backoffice/orders/{order}/invoice.xml", "get", set(ROLES)),
    ("/backoffice/orders/{order}/danfe.pdf", "get", set(ROLES)),
    ("/backoffice/orders/{order}/process/ship/", "get", {"operator", "support", "admin"}),
    ("/backoffice/orders/{order}/process/reopen/", "get", {"support", "admin"}),
    ("/backoffice/excecoes/", "get", set(ROLES)),
    ("/backoffice/outbox/{message}/retry/", "post", {"operator", "support", "admin"}),
    ("/backoffice/excecoes/retry/", "post", {"operator", "support", "admin"}),
    ("/backoffice/excecoes/resume-stock/", "post", {"operator", "support", "admin"}),
]


@pytest.mark.parametrize(("template", "method", "allowed"), PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_page_per_role(
    user_with_role: Callable[[str], Any],
    invoiced: Order,
    template: str,
    method: str,
    allowed: set[str],
    role: str,
) -> None:
    client = Client()
    client.force_login(user_with_role(role))
    path = template.format(order=invoiced.pk, message=_dead(invoiced).pk)
    response = getattr(client, method)(path)
    if role in allowed:
        assert response.status_code in (200, 302), (path, role, response.status_code)
    else:
        assert response.status_code == 403, (path, role, response.status_code)


@pytest.mark.parametrize(("template", "method", "allowed"), PAGES)
def test_anonymous_goes_to_login(invoiced: Order, template: str, method: str, allowed: set[str]) -> None:
    path = template.format(order=invoiced.pk, message=_dead(invoiced).pk)
    response = getattr(Client(), method)(path)
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/")


def test_posts_need_the_csrf_token(user_with_role: Callable[[str], Any], invoiced: Order) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("operator"))
    refused = client.post(f"/backoffice/orders/{invoiced.pk}/process/ship/", {"carrier": "correios"})
    assert refused.status_code == 403
    invoiced.refresh_from_db()
    assert invoiced.status == "invoiced"
