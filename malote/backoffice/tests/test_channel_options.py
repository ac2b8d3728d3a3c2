"""Every channel option is described (``malote.channels.option_specs``), documented, and editable in
the channel page's form: typed fields with help text, validated with pt-BR errors next to the
field, saved through the channel configuration command, unknown keys kept in "avançado"."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from malote.backoffice.tests import pages
from malote.backoffice.tests.channel_form import unchanged_post
from malote.backoffice.tests.pages import html
from malote.channels.models import Channel, ChannelRole

client_as, clear_cache = pages.client_as, pages.clear_cache

# --- the form ---------------------------------------------------------------------------------------


@pytest.fixture
def erp(db: None) -> Channel:
    return Channel.objects.create(
        code="tiny", name="Tiny ERP", role=ChannelRole.ERP, kind="tiny", base_url="https://api.tiny.com.br/api2",
        credentials={"token": "t0k3n-secreto"}, options={"timeout_seconds": 15, "legado": {"x": 1}},
    )  # fmt: skip


@pytest.fixture
def desk(db: None) -> Channel:
    return Channel.objects.create(code="zendesk", name="Zendesk", role=ChannelRole.HELPDESK, kind="zendesk")


def _url(channel: Channel) -> str:
    return f"/backoffice/channels/{channel.code}/"


@pytest.mark.django_db
def test_the_form_offers_each_option_as_a_typed_field_with_help(
    client_as: Callable[[str], Client], erp: Channel
) -> None:
    page = html(client_as("admin").get(_url(erp)))
    assert re.search(r'<input type="checkbox" name="opt__repair_by_helpdesk"', page)
    assert re.search(r'<input type="checkbox" name="opt__auto_repair"[^>]* checked', page)
    interval = re.search(r'<input type="number" name="opt__reconcile_interval_seconds"[^>]*>', page)
    assert interval is not None and 'min="60"' in interval.group(0) and 'max="86400"' in interval.group(0)
    assert 'placeholder="900"' in interval.group(0) and 'value="900"' in interval.group(0)
    assert re.search(r'<textarea name="opt__ticket_done_statuses"[^>]*>\s*solved\nclosed</textarea>', page)
    assert re.search(r'<select name="opt__incluir_envelope"', page)
    assert "Um pedido que falta neste sistema é corrigido por uma pessoa" in page  # the help text
    assert 'name="opt__numero_loja"' not in page, "Bling's options are not offered on a Tiny channel"
    assert 'name="opt__push_stock"' not in page, "stock is pushed to sales channels only"
    assert "&quot;legado&quot;" in page, "the unknown key is shown in avançado"
    assert "t0k3n-secreto" not in page


@pytest.mark.django_db
def test_admin_saves_the_rules_through_the_form(
    client_as: Callable[[str], Client], erp: Channel, desk: Channel
) -> None:
    data = unchanged_post(
        erp,
        opt__repair_by_helpdesk="on",
        opt__helpdesk_channel="zendesk",
        opt__helpdesk_group="Financeiro",
        opt__helpdesk_template="Corrigir o pedido {store_number} ({number})",
        opt__reconcile_interval_seconds="600",
        opt__auto_repair=None,
        opt__not_found_codes="32\n33",
        opt__formas_pagamento='{"pix": "PIX"}',
        opt__timeout_seconds="",
    )
    response = client_as("admin").post(_url(erp), data)
    assert response.status_code == 302, html(response)
    erp.refresh_from_db()
    assert erp.options == {
        "legado": {"x": 1},
        "repair_by_helpdesk": True,
        "helpdesk_channel": "zendesk",
        "helpdesk_group": "Financeiro",
        "helpdesk_template": "Corrigir o pedido {store_number} ({number})",
        "reconcile_interval_seconds": 600,
        "auto_repair": False,
        "not_found_codes": [32, 33],
        "formas_pagamento": {"pix": "PIX"},
    }, "typed values; untouched defaults not stored; the emptied timeout back to its default"
    assert erp.credentials == {"token": "t0k3n-secreto"}
    assert "options" in LogEntry.objects.get(object_id=str(erp.pk)).change_message


@pytest.mark.django_db
def test_saving_the_form_untouched_changes_nothing(client_as: Callable[[str], Client], erp: Channel) -> None:
    before = dict(erp.options)
    response = client_as("admin").post(_url(erp), unchanged_post(erp), follow=True)
    assert "Nada foi alterado." in html(response)
    erp.refresh_from_db()
    assert erp.options == before


@pytest.mark.django_db
def test_sales_channel_rules_lists_dates_and_holds(client_as: Callable[[str], Client]) -> None:
    store = Channel.objects.create(code="skyhub", name="SkyHub", role=ChannelRole.MARKETPLACE, kind="skyhub")
    data = unchanged_post(
        store,
        opt__extra_holidays="20/11/2026\n2026-01-25",
        opt__invoice_after_shipment_marketplaces="Magalu",
        opt__push_stock=None,
        opt__rate_limits='{"orders_get": 2, "write": null}',
        opt__pix_cancel_after_minutes="30.5",
    )
    assert client_as("admin").post(_url(store), data).status_code == 302
    store.refresh_from_db()
    assert store.options == {
        "extra_holidays": ["2026-11-20", "2026-01-25"],
        "invoice_after_shipment_marketplaces": ["Magalu"],
        "push_stock": False,
        "rate_limits": {"orders_get": 2, "write": None},
        "pix_cancel_after_minutes": 30.5,
    }
    page = html(client_as("admin").get(_url(store)))
    assert "20/11/2026\n25/01/2026</textarea>" in page, "dates shown the Brazilian way"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("opt__reconcile_interval_seconds", "abc", "Informe um número inteiro."),
        ("opt__reconcile_interval_seconds", "5", "Certifique-se que este valor seja maior ou igual a 60."),
        ("opt__integration_grace_minutes", "1,5x", "Informe um número."),
        ("opt__helpdesk_template", "Pedido {pedido}", "Campo desconhecido: {pedido}."),
        ("opt__helpdesk_template", "Pedido {number", "Chaves { } desemparelhadas."),
        ("opt__helpdesk_channel", "nao-existe", "Não há canal de help desk com o código nao-existe."),
        ("opt__not_found_codes", "32\ntrinta", "Número inteiro inválido: trinta."),
        (
            "opt__formas_pagamento",
            '{"pix": 7}',
            "Valor inválido para pix: 7 (esperado um texto entre aspas).",
        ),
        ("opt__rate_limits", '{"calls": -1}', "Valor inválido para calls: -1"),
        ("opt__incluir_envelope", "caixa", "Faça uma escolha válida."),
        ("options_json", '{"legado": 1, "auto_repair": false}', "têm campo próprio no formulário"),
    ],
)
def test_a_wrong_value_is_refused_next_to_its_field_in_portuguese(
    client_as: Callable[[str], Client], erp: Channel, field: str, value: str, message: str
) -> None:
    before = dict(erp.options)
    response = client_as("admin").post(_url(erp), unchanged_post(erp, name="Outro nome", **{field: value}))
    assert response.status_code == 422
    page = html(response)
    name = field.removeprefix("opt__")
    invalid_field = (
        rf'<div class="field invalid"[^>]*>(?:(?!<div class="field).)*name="{field}"(?:(?!</div>).)*'
    )
    block = re.search(invalid_field, page, re.S)
    assert block is not None, f"{field} is not marked invalid"
    assert message in block.group(0), f"the error of {name} is not next to it"
    erp.refresh_from_db()
    assert erp.options == before and erp.name == "Tiny ERP", "nothing saved"


@pytest.mark.django_db
def test_extra_holidays_refuses_an_impossible_date(client_as: Callable[[str], Client]) -> None:
    store = Channel.objects.create(code="loja", name="Loja", role=ChannelRole.STOREFRONT, kind="jumpseller")
    response = client_as("admin").post(_url(store), unchanged_post(store, opt__extra_holidays="31/02/2026"))
    assert response.status_code == 422
    assert "Data inválida: 31/02/2026 (use dd/mm/aaaa)." in html(response)


@pytest.mark.django_db
def test_viewers_read_every_option_with_its_help_but_get_no_form(
    client_as: Callable[[str], Client], erp: Channel
) -> None:
    page = html(client_as("viewer").get(_url(erp)))
    assert 'data-policy="repair_by_helpdesk"' in page and 'data-policy="timeout_seconds"' in page
    assert "Um pedido que falta neste sistema é corrigido por uma pessoa" in page
    assert 'name="opt__' not in page
    response = client_as("operator").post(_url(erp), unchanged_post(erp, opt__repair_by_helpdesk="on"))
    assert response.status_code == 403
    erp.refresh_from_db()
    assert "repair_by_helpdesk" not in erp.options


@pytest.mark.django_db
def test_the_english_page_shows_the_english_help(client_as: Callable[[str], Client], erp: Channel) -> None:
    admin = client_as("admin")
    admin.post("/i18n/setlang/", {"language": "en", "next": _url(erp)})
    page = html(admin.get(_url(erp)))
    assert "Fix through a help-desk ticket" in page
    assert "Corrigir por chamado no help desk" not in page
