"""The old exceptions page (now the one inbox filtered to dead letters, out-of-stock orders and
links in error): what it lists, its bulk actions per role, a query count that does not grow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.backoffice.tests.test_i18n import compiled_catalog  # noqa: F401  (builds the .mo)
from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.conftest import SYSTEM
from malote.orders.models import Order
from malote.stock.actions import set_physical
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db
INBOX = "/backoffice/excecoes/"


@pytest.fixture
def client_as(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    def login(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return login


@pytest.fixture
def erp(db: None) -> Channel:
    return Channel.objects.create(
        code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny", enabled=False
    )


def _dead(order: Order, n: int = 0) -> OutboxMessage:
    return OutboxMessage.objects.create(
        destination="channel:tiny", key=f"order:{order.pk}", order=order, kind="order.order",
        payload={"op": "order"}, idempotency_key=f"dead-{order.pk}-{n}", state=MessageState.DEAD,
        attempts=8, last_error="HTTP 400: produto não cadastrado",
    )  # fmt: skip


def _problems(make_order: Any, erp: Channel, count: int) -> None:
    for n in range(count):
        order = make_order()
        _dead(order, n)
        OrderLink.objects.create(order=order, channel=erp, state=LinkState.ERROR, last_error="HTTP 400")


def test_inbox_lists_the_three_kinds(
    client_as: Callable[[str], Client], make_order: Any, erp: Channel
) -> None:
    waiting = bring_to(make_order(physical=0), "out_of_stock")
    broken = make_order(physical=None)
    message = _dead(broken)
    OrderLink.objects.create(order=broken, channel=erp, state=LinkState.DIVERGENT, remote_status="cancelado")
    html = client_as("viewer").get(INBOX, follow=True).content.decode()
    assert f'data-message="{message.pk}"' in html and "produto não cadastrado" in html
    assert f'data-order="{waiting.pk}"' in html
    assert "Tiny ERP: cancelado<" in html and "Divergente" in html
    # a viewer sees, but has no action
    assert "Tentar o envio de novo" not in html and "Tentar reservar o estoque de novo" not in html


def test_inbox_for_operator_has_actions(
    client_as: Callable[[str], Client], make_order: Any, erp: Channel
) -> None:
    _problems(make_order, erp, 1)
    html = client_as("operator").get(INBOX, follow=True).content.decode()
    assert "Tentar o envio de novo" in html


def test_bulk_retry(client_as: Callable[[str], Client], make_order: Any, erp: Channel) -> None:
    first, second, third = (_dead(make_order(), n) for n in range(3))
    viewer = client_as("viewer")
    assert viewer.post(f"{INBOX}retry/", {"message": [first.pk]}).status_code == 403
    response = client_as("operator").post(f"{INBOX}retry/", {"message": [first.pk, second.pk]}, follow=True)
    assert "2 mensagem(ns) de volta na fila" in response.content.decode()
    ours = [first.pk, second.pk, third.pk]
    states = dict(OutboxMessage.objects.filter(pk__in=ours).values_list("pk", "state"))
    assert states == {first.pk: "pending", second.pk: "pending", third.pk: "dead"}


def test_bulk_retry_with_nothing_selected_is_a_clear_error(
    client_as: Callable[[str], Client], make_order: Any
) -> None:
    response = client_as("operator").post(f"{INBOX}retry/", {"message": ["x"]}, follow=True)
    assert "Nenhuma mensagem selecionada." in response.content.decode()


def test_retry_one_link_retries_its_dead_messages_only(
    client_as: Callable[[str], Client], make_order: Any, erp: Channel
) -> None:
    order, other = make_order(), make_order()
    mine, theirs = _dead(order), _dead(other)
    link = OrderLink.objects.create(order=order, channel=erp, state=LinkState.ERROR)
    client_as("operator").post(f"{INBOX}retry/", {"link": [link.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.state, theirs.state) == ("pending", "dead")


def test_resume_stock(client_as: Callable[[str], Client], make_order: Any) -> None:
    order = bring_to(make_order(physical=0), "out_of_stock")
    operator = client_as("operator")
    still = operator.post(f"{INBOX}resume-stock/", {"order": [order.pk]}, follow=True)
    assert "Ainda sem estoque para os pedidos selecionados." in still.content.decode()
    set_physical(order.lines.get().sku, 50, actor=SYSTEM)
    done = operator.post(f"{INBOX}resume-stock/", {"order": [order.pk]}, follow=True)
    assert str(order.number) in done.content.decode()
    order.refresh_from_db()
    assert order.status == "preparing"
    assert client_as("viewer").post(f"{INBOX}resume-stock/", {"order": [order.pk]}).status_code == 403


@pytest.mark.parametrize("rows", [3, 30])
def test_inbox_query_count_does_not_grow(
    client_as: Callable[[str], Client],
    make_order: Any,
    erp: Channel,
    rows: int,
    django_assert_max_num_queries: Any,
) -> None:
    _problems(make_order, erp, rows)
    client = client_as("operator")
    with django_assert_max_num_queries(24):
        assert client.get(INBOX, follow=True).status_code == 200


@pytest.mark.parametrize("rows", [3, 30])
def test_order_page_query_count_does_not_grow(
    client_as: Callable[[str], Client],
    make_order: Any,
    erp: Channel,
    rows: int,
    django_assert_max_num_queries: Any,
) -> None:
    order = bring_to(make_order(), "shipped")
    for n in range(rows):
        _dead(order, n)
    client = client_as("operator")
    with django_assert_max_num_queries(30):
        assert client.get(f"/backoffice/orders/{order.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("language", "physical", "expected", "wrong"),
    [
        ("pt-br", 1, "falta 1 un. de CHINELO-42", "faltam 1 un."),
        ("pt-br", 0, "faltam 2 un. de CHINELO-42", "falta 2 un."),
        ("en", 1, "1 unit of CHINELO-42 missing", "1 units"),
        ("en", 0, "2 units of CHINELO-42 missing", "2 unit of"),
    ],
)
@pytest.mark.usefixtures("compiled_catalog")
def test_inbox_says_what_is_missing_in_singular_and_plural(
    client_as: Callable[[str], Client],
    make_order: Any,
    language: str,
    physical: int,
    expected: str,
    wrong: str,
) -> None:
    bring_to(make_order(physical=physical), "out_of_stock")  # the order asks for 2 units
    client = client_as("viewer")
    client.post("/i18n/setlang/", {"language": language, "next": "/backoffice/"})
    html = client.get(INBOX, follow=True).content.decode()
    assert expected in html
    assert wrong not in html
