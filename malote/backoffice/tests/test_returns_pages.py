"""The order page's "Devoluções": the returns with their lines, status in words, the actions the
return table allows now, and forms that show every error next to its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from malote.backoffice.tests.test_i18n import compiled_catalog  # noqa: F401  (builds the .mo)
from malote.backoffice.tests.test_translation_pages import DATA, LANGUAGES
from malote.backoffice.tests.visible_text import visible_text, wrong_words
from malote.orders.models import Order
from malote.returns import actions
from malote.returns.models import Return
from malote.stock.models import StockItem
from malote_dev.testing.orders import SYSTEM, bring_to

pytestmark = pytest.mark.django_db
TWO_LINES: dict[str, Any] = {
    "items": [
        {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "49.90"},
        {"sku": "TOALHA-01", "name": "Toalha de banho", "quantity": 1, "unit_price": "30.00"},
    ],
    "total": "144.80",
}


@pytest.fixture
def client_as(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    def login(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return login


@pytest.fixture
def delivered(make_order: Callable[..., Order]) -> Order:
    return bring_to(make_order(**TWO_LINES), "delivered")


def _page(client: Client, order: Order) -> str:
    response = client.get(f"/backoffice/orders/{order.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _authorized(order: Order) -> Return:
    payload = {"reason": "defective", "lines": [{"position": 1, "quantity": 2}]}
    ret = actions.create_return(order.pk, payload, actor=SYSTEM)
    return actions.run_return_transition(ret.pk, "authorize", None, actor=SYSTEM).ret


def test_an_operator_opens_a_return_from_the_order_page(
    client_as: Callable[[str], Client], delivered: Order
) -> None:
    operator = client_as("operator")
    page = _page(operator, delivered)
    assert "Devoluções" in page and "Nenhuma devolução." in page
    assert 'data-return-action="open"' in page
    answer = operator.post(
        f"/backoffice/orders/{delivered.pk}/returns/new/",
        {"reason": "regret", "requested_by": "operator", "qty_2": "1", "qty_1": ""},
    )
    ret = Return.objects.get(order=delivered)
    assert answer.status_code == 302 and answer["Location"].endswith(f"#devolucao-{ret.pk}")
    page = _page(operator, delivered)
    assert "Solicitada" in page and "Arrependimento" in page
    assert 'data-return-action="authorize"' in page and 'data-return-action="receive"' not in page


def test_too_many_units_are_refused_next_to_the_line(
    client_as: Callable[[str], Client], delivered: Order
) -> None:
    answer = client_as("operator").post(
        f"/backoffice/orders/{delivered.pk}/returns/new/", {"reason": "regret", "qty_1": "3", "qty_2": "x"}
    )
    assert answer.status_code == 422
    body = answer.content.decode()
    assert "Informe um número inteiro." in body
    assert not Return.objects.exists()
    answer = client_as("support").post(
        f"/backoffice/orders/{delivered.pk}/returns/new/", {"reason": "regret", "qty_1": "3"}
    )
    assert answer.status_code == 422
    assert "Quantidade maior que a pedida" in answer.content.decode()
    assert 'data-code="return_quantity_exceeds_ordered"' in answer.content.decode()


def test_receiving_restocks_and_shows_each_line(client_as: Callable[[str], Client], delivered: Order) -> None:
    operator = client_as("operator")
    ret = _authorized(delivered)
    line = ret.lines.get()
    url = f"/backoffice/returns/{ret.pk}/receive/"
    form = operator.get(url).content.decode()
    assert f'name="qty_{line.pk}"' in form and f'name="cond_{line.pk}"' in form
    refused = operator.post(url, {f"qty_{line.pk}": "2"})
    assert refused.status_code == 422
    assert "Diga se volta ao estoque ou se está avariado." in refused.content.decode()
    shelf = StockItem.objects.get(sku="CHINELO-42").physical
    assert operator.post(url, {f"qty_{line.pk}": "2", f"cond_{line.pk}": "restock"}).status_code == 302
    assert StockItem.objects.get(sku="CHINELO-42").physical == shelf + 2
    page = _page(operator, delivered)
    assert "Recebida" in page and "Volta ao estoque" in page
    assert 'data-return-action="request_refund"' in page and 'data-return-action="close"' in page


def test_a_refund_above_what_is_left_names_the_amount(
    client_as: Callable[[str], Client], delivered: Order
) -> None:
    operator = client_as("operator")
    ret = _authorized(delivered)
    line = ret.lines.get()
    actions.run_return_transition(
        ret.pk, "receive", {"lines": [{"line": line.pk, "quantity": 2, "condition": "damaged"}]}, actor=SYSTEM
    )
    url = f"/backoffice/returns/{ret.pk}/request_refund/"
    assert 'value="99,80"' in operator.get(url).content.decode()
    refused = operator.post(url, {"amount": "200,00"})
    assert refused.status_code == 422
    assert "R$ 144,80" in refused.content.decode()
    assert operator.post(url, {"amount": "99,80"}).status_code == 302
    assert Return.objects.get(pk=ret.pk).status == "refund_pending"


def test_an_action_the_table_does_not_allow_now_is_refused(
    client_as: Callable[[str], Client], delivered: Order
) -> None:
    ret = _authorized(delivered)
    answer = client_as("operator").post(f"/backoffice/returns/{ret.pk}/close/", {})
    assert answer.status_code == 409
    assert "não é permitida no status atual da devolução" in answer.content.decode()


def test_a_viewer_sees_the_returns_but_no_action(
    client_as: Callable[[str], Client], delivered: Order
) -> None:
    _authorized(delivered)
    viewer = client_as("viewer")
    page = _page(viewer, delivered)
    assert "Autorizada" in page and "data-return-action" not in page
    assert (
        viewer.post(f"/backoffice/orders/{delivered.pk}/returns/new/", {"reason": "regret"}).status_code
        == 403
    )


def test_an_order_not_yet_shipped_offers_no_return(
    client_as: Callable[[str], Client], make_order: Callable[..., Order]
) -> None:
    order = bring_to(make_order(**TWO_LINES), "invoiced")
    assert 'data-return-action="open"' not in _page(client_as("operator"), order)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_section_and_its_forms_read_in_one_language(
    client_as: Callable[[str], Client], delivered: Order, language: str
) -> None:
    received = _authorized(delivered)
    line = received.lines.get()
    actions.run_return_transition(
        received.pk,
        "receive",
        {"lines": [{"line": line.pk, "quantity": 1, "condition": "restock"}]},
        actor=SYSTEM,
    )
    refused = actions.create_return(
        delivered.pk, {"reason": "other", "lines": [{"position": 2, "quantity": 1}]}, actor=SYSTEM
    )
    client = client_as("operator")
    if language != "pt-br":
        client.post("/i18n/setlang/", {"language": language, "next": "/backoffice/"})
    pages = [
        f"/backoffice/orders/{delivered.pk}/",
        f"/backoffice/orders/{delivered.pk}/returns/new/",
        f"/backoffice/returns/{received.pk}/nfe/",
        *(f"/backoffice/returns/{received.pk}/{name}/" for name in ("request_refund", "close")),
        *(f"/backoffice/returns/{refused.pk}/{name}/" for name in ("authorize", "refuse", "cancel")),
    ]
    data = [*DATA, "Toalha de banho", "TOALHA-01", "CHINELO-42", received.number, refused.number]
    section = {"pt-br": "Volta ao estoque", "en": "Back to stock"}[language]
    assert section in client.get(pages[0]).content.decode()
    findings = []
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        findings += wrong_words(visible_text(response.content.decode()), language, page=path, data=data)
    assert not findings, findings
