"""The inbox's words (``malote.backoffice.evidence``): remote statuses with their system's names,
divergence reasons, local times and money in the user's language; and the NF-e holds the inbox
lists with the action that releases them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from malote.backoffice import evidence
from malote.channels.models import Channel, ChannelRole
from malote.conftest import SYSTEM
from malote.core.actors import Actor
from malote.orders import actions as order_actions
from malote.orders.models import Order
from malote.reconcile import actions
from malote.reconcile.models import IssueEvent, IssueKind
from malote_dev.testing.fiscal import make_nfe_key
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db
INBOX = "/backoffice/pendencias/"


def test_a_remote_status_reads_with_the_vendor_s_name_else_its_meaning() -> None:
    bling = Channel(code="bling", name="Bling ERP", kind="bling", role=ChannelRole.ERP)
    assert evidence.remote_status_label(bling, "9") == "Bling ERP: 9 — Atendido"
    # An id the account made up: its meaning through the channel's status map.
    bling.status_map = {"in": {"77": "shipped"}}
    assert evidence.remote_status_label(bling, "77") == "Bling ERP: 77 — Enviado"
    # A word nobody knows stays as it is, never with a made-up name.
    assert evidence.remote_status_label(bling, "1234") == "Bling ERP: 1234"
    tiny = Channel(code="tiny", name="Tiny ERP", kind="tiny", role=ChannelRole.ERP)
    assert evidence.remote_status_label(tiny, "faturado") == "Tiny ERP: faturado — Faturado (atendido)"
    assert evidence.remote_status_label(tiny, "") == evidence.DASH


def test_divergence_reasons_in_words() -> None:
    assert (
        evidence.divergence_reason("canceled_after:shipped", "Bling")
        == "Cancelado no Bling depois de enviado"
    )
    assert (
        evidence.divergence_reason("went_back:shipped->invoiced", "SkyHub")
        == "O SkyHub voltou de enviado para faturado"
    )
    assert evidence.divergence_reason("something_new", "SkyHub") == "something_new"  # unknown: as given


def test_times_are_local_and_money_follows_the_language() -> None:
    assert evidence.local_time("2026-11-30T02:21:00+00:00") == "29/11/2026 23:21"
    assert evidence.local_time("") == evidence.DASH and evidence.local_time("não é data") == "não é data"
    with translation.override("pt-br"):
        assert evidence.money("1234.5") == "R$ 1.234,50"
    with translation.override("en"):
        assert evidence.money("1234.5") == "R$ 1,234.50"
    assert evidence.money("abc") == "abc"


def test_an_unknown_order_text_follows_the_language(db: None) -> None:
    tiny = Channel.objects.create(code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny")
    issue = actions.report(
        IssueKind.NOT_INTEGRATED, channel=tiny, actor=Actor.system("test"), external_ref="9001",
        evidence={"tiny": {"found": True, "external_id": "9001", "reference": "", "remote_status": "aberto",
                           "status": "", "placed_at": "2026-11-30T02:21:00+00:00", "total": "10.00"},
                  "malote": {"found": False}},
        detail="O Tiny ERP tem o pedido 9001 (sem referência), que o Malote não conhece",
        recommended_action="investigate",
    ).issue  # fmt: skip
    with translation.override("en"):
        text = evidence.issue_text(issue)
        rows = {row.label: (row.malote, row.other) for row in evidence.evidence_table(issue).rows}
    assert text == "Tiny ERP has order 9001 (no reference), which Malote does not know"
    assert rows["Status"] == (evidence.DASH, "Tiny ERP: aberto — Em aberto")
    assert rows["Has the order"] == ("No", "Yes")
    with translation.override("pt-br"):
        assert evidence.issue_text(issue) == issue.detail


def test_history_lines_in_words_and_failed_steps_marked() -> None:
    moved = IssueEvent(action="open_ticket", from_state="open", to_state="resolving")
    assert evidence.history_text(moved)["text"] == "Abrir chamado no help desk · Aberto → Em correção"
    failed = IssueEvent(action="import_failed", from_state="open", to_state="open")
    line = evidence.history_text(failed)
    assert line["failed"] and line["text"] == "Importação falhou · Aberto"
    assert not evidence.history_text(moved)["failed"]


@pytest.fixture
def skyhub(db: None) -> Channel:
    return Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="skyhub")


def _invoiced(make_order: Callable[..., Order], number: int, marketplace: str, method: str) -> Order:
    order = bring_to(
        make_order(channel="skyhub", marketplace=marketplace, shipping={"method": method, "price": "15.00"}),
        "paid",
    )
    now = timezone.localtime()
    key = make_nfe_key(number, year=now.year, month=now.month)
    data = {"key": key, "number": str(number), "series": "1", "issued_at": now.isoformat()}
    order_actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    return order


def test_nfe_holds_are_in_the_inbox_with_what_releases_them(
    user_with_role: Callable[[str], Any], skyhub: Channel, make_order: Callable[..., Order]
) -> None:
    waiting_xml = _invoiced(make_order, 902, "Mercado Livre", "Mercado Envios Coleta")
    held = _invoiced(make_order, 904, "Magalu", "Correios SEDEX")
    operator = Client()
    operator.force_login(user_with_role("operator"))
    html = operator.get(INBOX, {"kind": ["invoice_xml", "invoice_shipment"]}).content.decode()
    assert f'data-item="invoice_xml-{waiting_xml.pk}"' in html and "Anexar o XML da NF-e" in html
    assert f'data-item="invoice_shipment-{held.pk}"' in html and "Registrar o envio" in html
    assert f'data-item="invoice_xml-{held.pk}"' not in html, "Magalu takes the bare key"
    assert f"/backoffice/orders/{held.pk}/process/ship/" in html
    viewer = Client()
    viewer.force_login(user_with_role("viewer"))
    seen = viewer.get(INBOX, {"kind": "invoice_shipment"}).content.decode()
    assert f'data-item="invoice_shipment-{held.pk}"' in seen and "process/ship/" not in seen
