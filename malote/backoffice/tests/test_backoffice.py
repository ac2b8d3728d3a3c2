"""Back office: access, login throttling, orders list (search, filters, counts, sorting, HTMX,
CSV, query ceiling) and the order page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from malote.backoffice import selectors
from malote.orders.models import Order
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "operator", "support", "admin"]
LIST = "/backoffice/"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_as(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    def login(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return login


@pytest.fixture
def operator(client_as: Callable[[str], Client]) -> Client:
    return client_as("operator")


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def _numbers(response: Any) -> list[str]:
    return [o.number for o in response.context["page"].object_list]


# --- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_pages_allowed_for_every_role(client_as: Callable[[str], Client], make_order: Any, role: str) -> None:
    order = make_order()
    client = client_as(role)
    assert client.get(LIST).status_code == 200
    assert client.get(f"/backoffice/orders/{order.pk}/").status_code == 200


@pytest.mark.parametrize("path", [LIST, "/backoffice/orders/1/", "/backoffice/orders/export.csv"])
def test_anonymous_is_redirected_to_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/backoffice/login/?next=")


@pytest.mark.parametrize("path", [LIST, "/backoffice/orders/1/", "/backoffice/orders/export.csv"])
def test_user_without_role_is_forbidden(client: Client, path: str) -> None:
    client.force_login(get_user_model().objects.create_user(username="nobody", password="x"))
    assert client.get(path).status_code == 403


def test_unknown_order_is_404(operator: Client) -> None:
    assert operator.get("/backoffice/orders/999999/").status_code == 404


def test_root_redirects_to_backoffice(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/backoffice/"


def test_viewer_cannot_export_and_sees_no_export_link(client_as: Callable[[str], Client]) -> None:
    viewer = client_as("viewer")
    assert viewer.get("/backoffice/orders/export.csv").status_code == 403
    assert "Exportar CSV" not in viewer.get(LIST).content.decode()


# --- login -------------------------------------------------------------------------------------


def test_login_page_is_portuguese_with_csrf_and_htmx(client: Client) -> None:
    html = Client(enforce_csrf_checks=True).get("/backoffice/login/").content.decode()
    assert 'lang="pt-BR"' in html
    assert "csrfmiddlewaretoken" in html
    assert "htmx" in html


def test_login_without_csrf_token_is_refused(user_with_role: Callable[[str], Any]) -> None:
    user_with_role("viewer")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/backoffice/login/", {"username": "viewer-user", "password": "x"})
    assert response.status_code == 403


def test_login_and_logout(client: Client, user_with_role: Callable[[str], Any]) -> None:
    user_with_role("viewer")
    response = client.post("/backoffice/login/", {"username": "viewer-user", "password": "x"})
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert client.get(LIST).status_code == 200
    assert client.post("/backoffice/logout/").status_code == 302
    assert client.get(LIST).status_code == 302


def test_login_is_throttled_after_failures_but_not_for_another_user(
    client: Client, user_with_role: Callable[[str], Any]
) -> None:
    user_with_role("viewer")
    user_with_role("operator")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/backoffice/login/", {"username": "viewer-user", "password": "wrong"})
        assert response.status_code == 200
        assert "Muitas tentativas" not in response.content.decode()
    # Even the right password is refused now, with a clear message.
    response = client.post("/backoffice/login/", {"username": "viewer-user", "password": "x"})
    assert response.status_code == 200
    assert "Muitas tentativas" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another user from the same address is not locked out.
    other = client.post("/backoffice/login/", {"username": "operator-user", "password": "x"})
    assert other.status_code == 302
    assert client.get(LIST).status_code == 200


def test_successful_login_resets_the_failure_count(
    client: Client, user_with_role: Callable[[str], Any]
) -> None:
    user_with_role("viewer")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/backoffice/login/", {"username": "viewer-user", "password": "wrong"})
    assert client.post("/backoffice/login/", {"username": "viewer-user", "password": "x"}).status_code == 302
    client.post("/backoffice/logout/")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/backoffice/login/", {"username": "viewer-user", "password": "wrong"})
    assert client.post("/backoffice/login/", {"username": "viewer-user", "password": "x"}).status_code == 302


# --- list: search, filters, counts, sorting ------------------------------------------------------


@pytest.fixture
def three_orders(make_order: Any, order_json: dict[str, Any]) -> list[Order]:
    first = make_order()  # external id 02-704319101
    customer = {**order_json["customer"], "name": "João Pereira", "document": "111.444.777-35"}
    second = make_order(
        customer=customer,
        placed_at="2026-10-05T10:00:00-03:00",
        payment={**order_json["payment"], "method": "pix"},
    )  # 02-704319102
    third = make_order(placed_at="2026-09-01T10:00:00-03:00")  # 02-704319103
    return [first, second, third]


@pytest.mark.parametrize(
    "query", ["704319102", "02-704319102", "02-704319102-1", "pereira", "111.444.777-35"]
)
def test_search(operator: Client, three_orders: list[Order], query: str) -> None:
    response = operator.get(LIST, {"q": query})
    assert _numbers(response) == [three_orders[1].number]


def test_search_by_malote_number(operator: Client, three_orders: list[Order]) -> None:
    assert _numbers(operator.get(LIST, {"q": str(three_orders[2].number)})) == [three_orders[2].number]


def test_filter_by_status_payment_and_dates(operator: Client, three_orders: list[Order]) -> None:
    first, second, _third = three_orders
    bring_to(first, "paid")
    assert _numbers(operator.get(LIST, {"status": "paid"})) == [first.number]
    assert set(_numbers(operator.get(LIST, {"status": ["paid", "pending_payment"]}))) == {
        o.number for o in three_orders
    }
    assert _numbers(operator.get(LIST, {"payment_method": "pix"})) == [second.number]
    dated = operator.get(LIST, {"placed_from": "2026-10-01", "placed_to": "2026-10-05"})
    assert _numbers(dated) == [second.number]


def test_filter_by_channel(operator: Client, three_orders: list[Order]) -> None:
    assert len(_numbers(operator.get(LIST, {"channel": "site"}))) == 3
    invalid = operator.get(LIST, {"channel": "nope"})
    assert invalid.status_code == 200
    assert len(_numbers(invalid)) == 3  # an invalid field is ignored and reported
    assert invalid.context["form"].errors


def test_counts_per_status_ignore_the_status_filter(operator: Client, three_orders: list[Order]) -> None:
    bring_to(three_orders[0], "paid")
    bring_to(three_orders[1], "canceled")
    response = operator.get(LIST, {"status": "paid"})
    counts = {c["code"]: c["count"] for c in response.context["counts"]}
    assert counts["paid"] == 1
    assert counts["canceled"] == 1
    assert counts["pending_payment"] == 1
    assert counts["delivered"] == 0
    assert response.context["total"] == {"count": 3, "more": False}


def test_counts_past_the_limit_stop_there_and_say_so(
    operator: Client, three_orders: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 2)
    response = operator.get(LIST)
    counts = {c["code"]: (c["count"], c["more"]) for c in response.context["counts"]}
    assert counts["pending_payment"] == (2, True)
    assert counts["paid"] == (0, False)
    assert response.context["total"] == {"count": 2, "more": True}
    html = response.content.decode()
    assert "2+" in html and "Mais de 2 pedidos" in html
    assert response.context["page"].paginator.count == 2


def test_counts_past_the_limit_with_other_filters_are_the_newest_orders_at_least(
    operator: Client, three_orders: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    bring_to(three_orders[0], "paid")  # the newest by placed_at
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 1)
    response = operator.get(LIST, {"q": "7043191"})  # in all three: more than the limit
    counts = {c["code"]: (c["count"], c["more"]) for c in response.context["counts"]}
    assert counts["paid"] == (1, True)
    assert counts["pending_payment"] == (1, True)  # one of the two newest is pending
    assert counts["delivered"] == (0, True)  # at least none: the newest two do not say
    assert response.context["total"] == {"count": 2, "more": True}


def test_counts_under_the_limit_per_status_are_exact(
    operator: Client, three_orders: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    bring_to(three_orders[0], "paid")
    bring_to(three_orders[1], "canceled")
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 2)  # three orders in all, one in each status
    response = operator.get(LIST)
    counts = {c["code"]: (c["count"], c["more"]) for c in response.context["counts"]}
    assert counts["paid"] == counts["canceled"] == counts["pending_payment"] == (1, False)
    assert response.context["total"] == {"count": 3, "more": False}
    assert "Mais de" not in response.content.decode()


def test_counts_follow_the_search(operator: Client, three_orders: list[Order]) -> None:
    counts = {c["code"]: c["count"] for c in operator.get(LIST, {"q": "pereira"}).context["counts"]}
    assert counts["pending_payment"] == 1


def test_sorting(operator: Client, three_orders: list[Order]) -> None:
    first, second, third = three_orders
    assert _numbers(operator.get(LIST)) == [first.number, second.number, third.number]
    assert _numbers(operator.get(LIST, {"sort": "placed_at"})) == [third.number, second.number, first.number]
    assert _numbers(operator.get(LIST, {"sort": "customer"}))[0] == second.number  # João < Maria
    assert _numbers(operator.get(LIST, {"sort": "-customer"}))[-1] == second.number
    # Not whitelisted: ignored (default order) and reported, never passed to order_by.
    bad = operator.get(LIST, {"sort": "customer_email"})
    assert bad.status_code == 200
    assert _numbers(bad) == [first.number, second.number, third.number]


def test_pagination(operator: Client, make_order: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from malote.backoffice import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    orders = [make_order() for _ in range(3)]
    page1 = operator.get(LIST)
    page2 = operator.get(LIST, {"page": 2})
    assert len(_numbers(page1)) == 2
    assert _numbers(page2) == [orders[0].number]
    assert "Próxima" in page1.content.decode()


def test_htmx_request_returns_only_the_table(operator: Client, three_orders: list[Order]) -> None:
    response = operator.get(LIST, {"q": "pereira"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="order-table">')
    assert "<html" not in html
    assert "<form" not in html
    assert str(three_orders[1].number) in html
    assert str(three_orders[0].number) not in html
    full = operator.get(LIST).content.decode()
    assert "<html" in full
    assert 'hx-get="/backoffice/"' in full


def test_csv_export_streams_the_current_filter(operator: Client, three_orders: list[Order]) -> None:
    response = operator.get("/backoffice/orders/export.csv", {"q": "pereira", "sort": "total", "page": "3"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    lines = _body(response).strip().splitlines()
    assert lines[0].startswith("\ufeffPedido;Pedido na loja;Canal")  # the billing export, pt-BR
    assert len(lines) == 2
    assert str(three_orders[1].number) in lines[1]
    everything = operator.get("/backoffice/orders/export.csv")
    assert len(_body(everything).strip().splitlines()) == 4


def test_a_search_without_dates_stops_at_its_newest_matches_and_says_so(
    operator: Client, three_orders: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    _first, second, third = three_orders  # created in this order: the newest ids are the last two
    monkeypatch.setattr(selectors, "SEARCH_LIMIT", 2)
    response = operator.get(LIST, {"q": "7043191"})  # in all three external ids
    assert set(_numbers(response)) == {second.number, third.number}
    assert response.context["search_more"] is True
    assert "A busca mostra os 2 pedidos mais recentes" in response.content.decode()
    dated = operator.get(LIST, {"q": "7043191", "placed_from": "2026-01-01"})
    assert len(_numbers(dated)) == 3 and dated.context["search_more"] is False
    exported = operator.get("/backoffice/orders/export.csv", {"q": "7043191"})
    assert len(_body(exported).strip().splitlines()) == 4  # the export never stops at the limit


def test_a_search_under_its_limit_says_nothing_more(
    operator: Client, three_orders: list[Order], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "SEARCH_LIMIT", 3)
    response = operator.get(LIST, {"q": "7043191"})
    assert len(_numbers(response)) == 3
    assert response.context["search_more"] is False
    assert "mais recentes" not in response.content.decode()


def test_list_shows_export_link_with_filter(operator: Client, three_orders: list[Order]) -> None:
    html = operator.get(LIST, {"q": "pereira"}).content.decode()
    assert "/backoffice/orders/export.csv?q=pereira" in html


QUERY_CEILING = 9  # session, user, permissions, channels, counts, page, rows, whether a search has more


@pytest.mark.parametrize("count", [5, 30])
def test_list_query_count_does_not_grow_with_orders(
    operator: Client, make_order: Any, django_assert_max_num_queries: Any, count: int
) -> None:
    for n in range(count):
        order = make_order(physical=1000)
        if n % 3 == 0:
            bring_to(order, "shipped")
    operator.get(LIST)  # warm the session
    with django_assert_max_num_queries(QUERY_CEILING):
        response = operator.get(LIST, {"q": "7043191", "sort": "-total"})
    assert len(_numbers(response)) == count
    with django_assert_max_num_queries(QUERY_CEILING):
        operator.get(LIST, headers={"HX-Request": "true"})


# --- order page --------------------------------------------------------------------------------


def test_order_page_shows_everything(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "shipped")
    invoice = order.invoices.get()
    html = operator.get(f"/backoffice/orders/{order.pk}/").content.decode()
    formatted_key = " ".join(invoice.key[n : n + 4] for n in range(0, 44, 4))
    assert formatted_key in html
    assert f"{invoice.number} / {invoice.series}" in html
    assert "529.982.247-25" in html
    assert "CHINELO-42" in html
    assert "Chinelo de praia 42" in html
    assert "R$ 114.80" in html or "R$ 114,80" in html
    assert "Rua das Flores" in html
    assert "pagarme" in html
    assert "ch_123" in html
    assert 'class="tracking" href="' in html
    assert "AA123456785BR</a>" in html
    for step, label in (("approve_payment", "Aprovar pagamento"), ("invoice", "Faturar"), ("ship", "Enviar")):
        assert f'<strong data-event="{step}">{label}</strong>' in html
    assert "Enviado" in html


def _transitions(client: Client, order: Order) -> set[str]:
    response = client.get(f"/backoffice/orders/{order.pk}/")
    return {t["name"] for t in response.context["transitions"]}


def test_processar_lists_only_allowed_transitions(
    client_as: Callable[[str], Client], make_order: Any
) -> None:
    order = make_order()
    viewer, operator, support = client_as("viewer"), client_as("operator"), client_as("support")
    assert _transitions(viewer, order) == set()
    assert "Nenhuma ação disponível" in viewer.get(f"/backoffice/orders/{order.pk}/").content.decode()
    names = _transitions(operator, order)
    assert "approve_payment" in names
    assert "cancel" in names
    assert "ship" not in names  # not from pending_payment
    html = operator.get(f"/backoffice/orders/{order.pk}/").content.decode()
    assert f'href="/backoffice/orders/{order.pk}/process/approve_payment/"' in html
    bring_to(order, "canceled")
    assert "reopen" not in _transitions(operator, order)
    assert "reopen" in _transitions(support, order)


def test_order_page_query_count(
    operator: Client, make_order: Any, django_assert_max_num_queries: Any
) -> None:
    order = bring_to(make_order(), "shipped")
    operator.get(LIST)
    # One query per kind of fact, whatever their number (21: the NF-e's SEFAZ events are one).
    with django_assert_max_num_queries(21):
        operator.get(f"/backoffice/orders/{order.pk}/")


def test_placed_at_window_uses_whole_days(operator: Client, make_order: Any) -> None:
    order = make_order(placed_at="2026-10-05T23:59:00-03:00")
    assert _numbers(operator.get(LIST, {"placed_from": "2026-10-05", "placed_to": "2026-10-05"})) == [
        order.number
    ]
    assert _numbers(operator.get(LIST, {"placed_from": "2026-10-06"})) == []
