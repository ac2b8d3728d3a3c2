"""The order page's marketplace rules: "waiting for the NF-e XML" with its upload, divergent links with
their three resolutions, active integration issues, and readable timeline labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from malote.channels.models import Channel, ChannelRole, LinkState, OrderLink
from malote.conftest import SYSTEM
from malote.orders import actions
from malote.orders.models import Order
from malote.reconcile import actions as issue_actions
from malote.reconcile.models import IssueKind
from malote.relay.divergence import record_divergence
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db
KEY = make_nfe_key(5004, year=2026, month=11)


@pytest.fixture
def login(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    def as_role(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return as_role


@pytest.fixture
def waiting(make_order: Any, xml_channel: Channel) -> Order:
    """A Mercado Livre order invoiced without the XML (the channel takes the NF-e only as XML)."""
    order = bring_to(make_order(channel="mercadolivre"), "paid")
    invoice = {"key": KEY, "number": "5004", "series": "1", "issued_at": "2026-11-15T10:30:00-03:00"}
    actions.run_transition(order.pk, "invoice", invoice, actor=SYSTEM)
    return order


def _xml(order: Order, key: str = KEY) -> str:
    return build_nfe_xml(key, total=order.total, recipient_cpf=order.customer_document)


def _page(client: Client, order: Order) -> str:
    return client.get(f"/backoffice/orders/{order.pk}/").content.decode()


def test_waiting_order_shows_the_upload_form(login: Callable[[str], Client], waiting: Order) -> None:
    html = _page(login("operator"), waiting)
    assert 'id="aguardando-xml"' in html and "mercadolivre" in html
    assert f'action="/backoffice/orders/{waiting.pk}/invoice/xml/"' in html
    assert "Aguardando XML da NF-e" in html  # the timeline's label of the event, too
    viewer_html = _page(login("viewer"), waiting)
    assert 'id="aguardando-xml"' in viewer_html and "/invoice/xml/" not in viewer_html


def test_an_order_with_its_xml_waits_for_nothing(login: Callable[[str], Client], make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")  # a storefront that takes the key alone
    assert 'id="aguardando-xml"' not in _page(login("operator"), order)


def test_uploading_the_xml_ends_the_wait(login: Callable[[str], Client], waiting: Order) -> None:
    operator = login("operator")
    upload = SimpleUploadedFile("nfe.xml", _xml(waiting).encode(), content_type="application/xml")
    response = operator.post(
        f"/backoffice/orders/{waiting.pk}/invoice/xml/", {"xml_file": upload}, follow=True
    )
    html = response.content.decode()
    assert "XML da NF-e anexado" in html and 'id="aguardando-xml"' not in html
    assert waiting.invoices.get().xml.startswith("<?xml")


def test_a_wrong_xml_is_refused_with_its_code(login: Callable[[str], Client], waiting: Order) -> None:
    other_key = make_nfe_key(5005, year=2026, month=11)
    response = login("operator").post(
        f"/backoffice/orders/{waiting.pk}/invoice/xml/", {"xml": _xml(waiting, other_key)}, follow=True
    )
    assert "nfe_xml_key_mismatch" in response.content.decode()
    assert waiting.invoices.get().xml == ""
    empty = login("support").post(f"/backoffice/orders/{waiting.pk}/invoice/xml/", {"xml": " "}, follow=True)
    assert "xml_required" in empty.content.decode()


def test_viewer_cannot_upload(login: Callable[[str], Client], waiting: Order) -> None:
    response = login("viewer").post(f"/backoffice/orders/{waiting.pk}/invoice/xml/", {"xml": _xml(waiting)})
    assert response.status_code == 403
    assert waiting.invoices.get().xml == ""


@pytest.fixture
def divergent(make_order: Any) -> OrderLink:
    skyhub = Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="manual")
    order = bring_to(make_order(), "invoiced")
    OrderLink.objects.create(
        order=order, channel=skyhub, external_id="Lojas Americanas-1", state=LinkState.LINKED
    )
    record_divergence(
        order,
        skyhub,
        remote_status="CANCELED",
        remote_canonical_status="canceled",
        reason="test",
        actor=SYSTEM,
    )
    return OrderLink.objects.get(order=order, channel=skyhub)


def test_divergent_link_offers_the_three_resolutions(
    login: Callable[[str], Client], divergent: OrderLink
) -> None:
    html = _page(login("operator"), divergent.order)
    assert f'data-link="{divergent.pk}"' in html and "CANCELED" in html
    for action in ("push_again", "accept_remote", "dismiss"):
        assert f'value="{action}"' in html
    assert 'value="push_again"' not in _page(login("viewer"), divergent.order)


def test_dismiss_needs_a_reason_then_clears_the_divergence(
    login: Callable[[str], Client], divergent: OrderLink
) -> None:
    operator = login("operator")
    url = f"/backoffice/links/{divergent.pk}/resolve/"
    refused = operator.post(url, {"action": "dismiss"}, follow=True)
    assert "reason_required" in refused.content.decode()
    divergent.refresh_from_db()
    assert divergent.state == LinkState.DIVERGENT
    operator.post(url, {"action": "dismiss", "reason": "Cancelado lá por engano; cliente confirmou"})
    divergent.refresh_from_db()
    assert divergent.state != LinkState.DIVERGENT
    again = operator.post(url, {"action": "dismiss", "reason": "de novo"}, follow=True)
    assert "link_not_divergent" in again.content.decode()


def test_unknown_resolution_is_a_coded_error(login: Callable[[str], Client], divergent: OrderLink) -> None:
    response = login("operator").post(
        f"/backoffice/links/{divergent.pk}/resolve/", {"action": "x"}, follow=True
    )
    assert "unknown_resolution" in response.content.decode()
    assert (
        login("viewer").post(f"/backoffice/links/{divergent.pk}/resolve/", {"action": "dismiss"}).status_code
        == 403
    )


def test_active_issues_are_listed_on_the_order(
    login: Callable[[str], Client], make_order: Any, channel: Channel
) -> None:
    order = make_order()
    issue_actions.report(
        IssueKind.NOT_INTEGRATED, channel=channel, actor=SYSTEM, order=order, detail="não subiu"
    )
    html = _page(login("viewer"), order)
    assert 'data-issue-kind="not_integrated"' in html and "não subiu" in html


def _listed(client: Client, **params: str) -> list[int]:
    return [o.pk for o in client.get("/backoffice/", params).context["page"].object_list]


def test_list_filters_orders_waiting_for_the_xml(
    login: Callable[[str], Client], waiting: Order, make_order: Any
) -> None:
    other = bring_to(make_order(), "invoiced")
    client = login("viewer")
    assert _listed(client, xml_pending="on") == [waiting.pk]
    assert other.pk in _listed(client)


def test_active_issue_flags_the_order_in_the_list(
    login: Callable[[str], Client], make_order: Any, channel: Channel
) -> None:
    healthy, lost = make_order(), make_order()
    issue_actions.report(IssueKind.NOT_INTEGRATED, channel=channel, actor=SYSTEM, order=lost)
    client = login("viewer")
    assert _listed(client, problem="on") == [lost.pk]
    flags = {o.pk: o.has_problem for o in client.get("/backoffice/").context["page"].object_list}
    assert flags == {healthy.pk: False, lost.pk: True}


def test_nav_links_per_role(login: Callable[[str], Client], make_order: Any) -> None:
    viewer = login("viewer").get("/backoffice/").content.decode()
    # One inbox for everything that needs a person; the old pages only redirect to it.
    assert 'href="/backoffice/pendencias/"' in viewer
    assert 'href="/backoffice/excecoes/"' not in viewer and 'href="/backoffice/integracoes/"' not in viewer
    assert 'href="/backoffice/users/"' not in viewer
