"""The Django admin shows orders and stock read-only (changes go through the commands)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from malote.orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged(db: None) -> Client:
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    # force_login: Client.login() calls authenticate() without a request, which django-axes refuses.
    client.force_login(root)
    return client


def test_order_admin_lists_and_shows_but_cannot_change(
    admin_client_logged: Client, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    listing = admin_client_logged.get("/admin/orders/order/?q=704319101")
    assert listing.status_code == 200 and str(order.number) in listing.content.decode()
    page = admin_client_logged.get(f"/admin/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    assert admin_client_logged.get("/admin/orders/order/add/").status_code == 403
    posted = admin_client_logged.post(f"/admin/orders/order/{order.pk}/change/", {"status": "delivered"})
    assert posted.status_code == 403
    order.refresh_from_db()
    assert order.status == "pending_payment"


def test_stock_admin_pages(admin_client_logged: Client, make_order: Callable[..., Order]) -> None:
    make_order()
    assert admin_client_logged.get("/admin/stock/stockitem/").status_code == 200
    assert admin_client_logged.get("/admin/stock/stockmovement/").status_code == 200
    assert admin_client_logged.get("/admin/stock/stockitem/add/").status_code == 403
