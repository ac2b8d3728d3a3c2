"""Stock pages: access per role, list (counts, search, pagination, query ceiling), SKU page with
its movements, and the adjust form (operators; errors inline with their codes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.backoffice.tests import pages
from malote.backoffice.tests.pages import ROLES, html
from malote.conftest import SYSTEM
from malote.stock.actions import set_physical
from malote.stock.models import MovementReason, StockItem, StockMovement

pytestmark = pytest.mark.django_db

# Shared fixtures (pytest finds them as module attributes).
client_as, nobody, clear_cache = pages.client_as, pages.nobody, pages.clear_cache

LIST = "/backoffice/stock/"
SKU = "CHINELO-42"
ITEM = f"/backoffice/stock/{SKU}/"


@pytest.fixture
def chinelo(db: None) -> StockItem:
    return set_physical(SKU, 10, actor=SYSTEM, name="Chinelo Havaianas 42")


def _adjust(client: Client, **data: Any) -> Any:
    return client.post(ITEM, {"mode": "set", "reason": MovementReason.ADJUSTMENT, **data})


# --- access --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_stock(client_as: Callable[[str], Client], chinelo: StockItem, role: str) -> None:
    client = client_as(role)
    assert client.get(LIST).status_code == 200
    page = html(client.get(ITEM))
    assert "Chinelo Havaianas 42" in page
    assert ('id="stock-adjust"' in page) == (role != "viewer")


@pytest.mark.parametrize("path", [LIST, ITEM])
def test_anonymous_goes_to_login_and_no_role_is_forbidden(
    client: Client, nobody: Client, chinelo: StockItem, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/?next=")
    assert nobody.get(path).status_code == 403


def test_unknown_sku_is_404(client_as: Callable[[str], Client]) -> None:
    assert client_as("viewer").get("/backoffice/stock/NOPE-1/").status_code == 404


# --- list ----------------------------------------------------------------------------------------


def test_list_shows_physical_reserved_available(client_as: Callable[[str], Client], make_order: Any) -> None:
    make_order(physical=10)  # reserves 2 CHINELO-42
    response = client_as("viewer").get(LIST)
    [item] = response.context["page"].object_list
    assert (item.sku, item.physical, item.reserved, item.available) == (SKU, 10, 2, 8)
    page = html(response)
    assert f'data-sku="{SKU}"' in page
    assert '<td data-label="Disponível" class="num">8</td>' in page


def test_search_by_sku(client_as: Callable[[str], Client]) -> None:
    for sku in ("CHINELO-42", "CHINELO-40", "SANDALIA-38"):
        set_physical(sku, 1, actor=SYSTEM)
    client = client_as("viewer")
    found = [i.sku for i in client.get(LIST, {"q": "chinelo"}).context["page"].object_list]
    assert found == ["CHINELO-40", "CHINELO-42"]
    assert [i.sku for i in client.get(LIST, {"q": "nada"}).context["page"].object_list] == []


def test_htmx_search_answers_only_the_table(client_as: Callable[[str], Client], chinelo: StockItem) -> None:
    page = html(client_as("viewer").get(LIST, {"q": "CHIN"}, headers={"HX-Request": "true"}))
    assert page.startswith('<div id="stock-table">') and "<html" not in page


def test_pagination(client_as: Callable[[str], Client]) -> None:
    StockItem.objects.bulk_create(StockItem(sku=f"SKU-{n:03d}", physical=n) for n in range(60))
    client = client_as("viewer")
    first = client.get(LIST).context["page"]
    second = client.get(LIST, {"page": 2}).context["page"]
    assert len(first.object_list) == 50 and len(second.object_list) == 10
    assert second.object_list[0].sku == "SKU-050"


@pytest.mark.parametrize("count", [3, 30])
def test_list_query_count_does_not_grow_with_items(
    client_as: Callable[[str], Client], django_assert_max_num_queries: Any, count: int, stores: None
) -> None:
    StockItem.objects.bulk_create(StockItem(sku=f"SKU-{n:03d}", physical=n) for n in range(count))
    client = client_as("viewer")
    with django_assert_max_num_queries(8):  # + the channels that take stock, + what they were told
        response = client.get(LIST)
    assert len(response.context["page"].object_list) == count


# --- SKU page ------------------------------------------------------------------------------------


def test_sku_page_lists_movements_with_reason_actor_and_order(
    client_as: Callable[[str], Client], make_order: Any
) -> None:
    order = make_order(physical=10)
    page = html(client_as("viewer").get(ITEM))
    assert "Reserva de pedido" in page and "Ajuste" in page
    assert f'href="/backoffice/orders/{order.pk}/"' in page and str(order.number) in page
    assert SYSTEM.label in page


@pytest.mark.parametrize("count", [3, 30])
def test_sku_page_query_count_does_not_grow_with_movements(
    client_as: Callable[[str], Client], django_assert_max_num_queries: Any, make_order: Any, count: int
) -> None:
    for _ in range(count):
        make_order(physical=100)
    client = client_as("operator")
    with django_assert_max_num_queries(9):  # + the channels that take stock, + what they were told
        response = client.get(ITEM)
    assert len(response.context["movements"].object_list) == min(2 * count, 50)


# --- adjust --------------------------------------------------------------------------------------


def test_operator_sets_a_new_physical_count(client_as: Callable[[str], Client], chinelo: StockItem) -> None:
    response = _adjust(client_as("operator"), quantity=25, note="Contagem do depósito")
    assert response.status_code == 302
    chinelo.refresh_from_db()
    assert chinelo.physical == 25
    movement = StockMovement.objects.filter(sku=SKU).first()
    assert movement is not None
    assert (movement.physical_delta, movement.actor, movement.note) == (
        15,
        "operator-user",
        "Contagem do depósito",
    )
    assert "Estoque ajustado" in html(client_as("operator").get(ITEM))


def test_operator_adds_a_delta(client_as: Callable[[str], Client], chinelo: StockItem) -> None:
    client = client_as("support")
    assert (
        _adjust(client, mode="delta", quantity=-3, note="Avaria", reason="inventory_count").status_code == 302
    )
    chinelo.refresh_from_db()
    assert chinelo.physical == 7
    movement = StockMovement.objects.filter(sku=SKU).first()
    assert movement is not None and movement.reason == MovementReason.INVENTORY_COUNT


def test_viewer_cannot_adjust(client_as: Callable[[str], Client], chinelo: StockItem) -> None:
    assert _adjust(client_as("viewer"), quantity=99, note="x").status_code == 403
    chinelo.refresh_from_db()
    assert chinelo.physical == 10


def test_adjust_needs_the_csrf_token(user_with_role: Callable[[str], Any], chinelo: StockItem) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("operator"))
    assert _adjust(client, quantity=99, note="x").status_code == 403
    chinelo.refresh_from_db()
    assert chinelo.physical == 10


def test_a_justification_is_required(client_as: Callable[[str], Client], chinelo: StockItem) -> None:
    response = _adjust(client_as("operator"), quantity=20, note="")
    assert response.status_code == 422
    assert "Este campo é obrigatório" in html(response)
    chinelo.refresh_from_db()
    assert chinelo.physical == 10


def test_cannot_go_below_what_is_reserved(client_as: Callable[[str], Client], make_order: Any) -> None:
    make_order(physical=10)  # 2 reserved
    response = _adjust(client_as("operator"), quantity=1, note="Perda")
    assert response.status_code == 422
    page = html(response)
    assert "stock_below_reserved" in page and "reservadas por pedidos em aberto" in page
    assert StockItem.objects.get(sku=SKU).physical == 10


def test_a_delta_below_zero_is_refused_with_its_code(
    client_as: Callable[[str], Client], chinelo: StockItem
) -> None:
    response = _adjust(client_as("operator"), mode="delta", quantity=-11, note="Perda")
    assert response.status_code == 422
    assert "stock_negative" in html(response)
    assert StockItem.objects.get(sku=SKU).physical == 10


def test_a_negative_count_is_refused(client_as: Callable[[str], Client], chinelo: StockItem) -> None:
    response = _adjust(client_as("operator"), quantity=-1, note="Perda")
    assert response.status_code == 422
    assert "não pode ser negativa" in html(response)


def test_only_adjustment_reasons_are_accepted(client_as: Callable[[str], Client], chinelo: StockItem) -> None:
    response = _adjust(client_as("operator"), quantity=5, note="x", reason=MovementReason.ORDER_CONSUME)
    assert response.status_code == 422
    assert StockItem.objects.get(sku=SKU).physical == 10
    assert StockMovement.objects.filter(sku=SKU).count() == 1  # only the fixture's


# --- what the channels were told -------------------------------------------------------------------


@pytest.fixture
def stores(db: None) -> None:
    from malote.relay.tests.stubs import recording_channel

    recording_channel("loja", role="storefront")
    recording_channel("market")
    recording_channel("quieto", options={"push_stock": False})


def _told(code: str, sku: str, value: int, at: str = "2026-03-05T14:07:00-03:00") -> None:
    from malote.stock.models import ChannelStock

    ChannelStock.objects.update_or_create(
        channel_code=code, sku=sku, defaults={"available_pushed": value, "pushed_at": at}
    )


def test_the_list_shows_what_each_channel_was_told_and_flags_one_showing_more(
    client_as: Callable[[str], Client], chinelo: StockItem, stores: None
) -> None:
    _told("loja", SKU, 10)
    _told("market", SKU, 12)
    page = html(client_as("viewer").get(LIST))
    assert 'data-channel="quieto"' not in page, "a channel with push_stock off is not listed"
    loja = page.split('data-channel="loja"')[1].split("</div>")[0]
    market = page.split('data-channel="market"')[1].split("</div>")[0]
    assert "10" in loja and "em 05/03/2026 14:07" in loja
    assert "shows-more" not in loja and "mostra mais" not in loja, "told exactly what is available"
    assert "12" in market and 'data-flag="shows-more"' in market
    assert "o canal mostra mais que o disponível" in market


def test_a_channel_never_told_is_flagged_and_one_told_less_is_not(
    client_as: Callable[[str], Client], chinelo: StockItem, stores: None
) -> None:
    _told("market", SKU, 4)
    page = html(client_as("viewer").get(ITEM))
    table = page.split('id="stock-channels"')[1].split("</section>")[0]
    loja = table.split('data-channel="loja"')[1].split("</tr>")[0]
    market = table.split('data-channel="market"')[1].split("</tr>")[0]
    assert 'data-flag="shows-more"' in loja and "nunca enviado" in loja
    assert "o canal mostra a própria quantidade" in loja
    assert 'data-flag="shows-more"' not in market
    assert "05/03/2026 14:07" in market and "o canal mostra menos que o disponível" in market


def test_after_a_sale_the_channel_told_before_is_flagged_until_the_push(
    client_as: Callable[[str], Client], chinelo: StockItem, stores: None
) -> None:
    from malote.relay.routing import push_all_stock
    from malote.sync.worker import drain

    push_all_stock()  # the stores were connected after the SKU was counted
    drain(prefix="channel:")
    page = html(client_as("viewer").get(ITEM))
    assert 'data-flag="shows-more"' not in page.split('id="stock-channels"')[1].split("</section>")[0]
    set_physical(SKU, 3, actor=SYSTEM)
    page = html(client_as("viewer").get(ITEM))
    assert page.split('id="stock-channels"')[1].count('data-flag="shows-more"') == 2
    drain(prefix="channel:")
    page = html(client_as("viewer").get(ITEM))
    assert 'data-flag="shows-more"' not in page.split('id="stock-channels"')[1].split("</section>")[0]
