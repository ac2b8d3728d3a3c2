"""Processing orders in a real headless Chromium, as a Brazilian operator (issue 13): one order goes
through invoice → ship → deliver with one wrong input per step (a key with a wrong check digit, a
Correios code with a wrong check digit, a delivery typed before the shipment), each refused in
Portuguese next to its field and then corrected; another, invoiced, order is canceled after the
NF-e warning, with its stock back on the shelf. One error is also seen in English.

Chromium and the skip/fail rule as in test_browser.py. Screenshots of every error state and step
go to ``var/screenshots/processing/`` (not committed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from malote.backoffice.tests.test_browser import CHROMIUM, _chromium_available
from malote.fiscal.nfe_key import format_nfe_key, nfe_key_check_digit
from malote.sync.tests.processes import free_port, python, run, serve_web, worker_database
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "processing"
PASSWORD = "senha-forte-processo-123"
WRONG_KEY = SAMPLE_NFE_KEY[:43] + ("4" if SAMPLE_NFE_KEY[43] != "4" else "5")
EXPECTED_DIGIT = nfe_key_check_digit(SAMPLE_NFE_KEY[:43])

SEED = """
import json
from django.contrib.auth import get_user_model
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from malote_dev.testing.orders import SYSTEM, invoice_input, order_data
sync_roles()
user = get_user_model().objects.create_user(username="operador", password=%(password)r)
assign_role(user, "operator")
Channel.objects.create(code="site", name="Loja virtual", role="storefront")
set_physical("CHINELO-42", 10, actor=SYSTEM)
ids = {}
for external_id in ("02-704319102", "02-704319103", "02-704319104"):
    data = order_data()
    data["external_id"] = external_id
    order, _ = actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    ids[external_id] = order.pk
canceled = ids["02-704319103"]
actions.run_transition(canceled, "invoice", invoice_input(Order.objects.get(pk=canceled)), actor=SYSTEM)
print(json.dumps(ids))
"""

STOCK = """
import json
from malote.stock.models import StockItem
item = StockItem.objects.get(sku="CHINELO-42")
print(json.dumps({"physical": item.physical, "reserved": item.reserved}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not _chromium_available():
        if os.environ.get("MALOTE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium).")
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (make test does).")
    with worker_database(tmp_path_factory.mktemp("processing")) as env:
        run(env, "collectstatic", "--noinput", "-v", "0")
        ids = python(env, SEED % {"password": PASSWORD})
        port = free_port()
        web = serve_web(env, port)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "ids": ids, "env": env}
        finally:
            web.terminate()
            web.wait(10)
            if web.stderr is not None:
                web.stderr.close()


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def operator_page(browser: Any, server: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{server['url']}/backoffice/login/")
    page.fill("input[name=username]", "operador")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server['url']}/backoffice/")
    try:
        yield page
    finally:
        context.close()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _open_form(page: Any, transition: str) -> Any:
    page.click(f"a[data-transition={transition}]")
    form = page.locator(f"#transition-form-{transition}")
    form.wait_for()
    return form


def _field_error(page: Any, transition: str, field: str) -> str:
    """The error shown next to ``field`` (inside its own label), once it appears."""
    error = page.locator(f"#transition-form-{transition} label:has([name={field}]) .field-error")
    error.first.wait_for()
    return str(error.first.inner_text())


def _submit(page: Any, transition: str) -> None:
    page.locator(f"#transition-form-{transition} button[type=submit]").click()


def _wait_status(page: Any, status: str) -> None:
    try:
        page.wait_for_selector(f"#resultado [data-status={status}]")
    except Exception:
        errors = page.locator(".errors, .field-error").all_inner_texts()
        pytest.fail(f"the order never reached {status}; the page shows: {errors}")


def test_operator_processes_an_order_correcting_one_mistake_per_step(
    operator_page: Any, server: dict[str, Any]
) -> None:
    page = operator_page
    page.goto(f"{server['url']}/backoffice/orders/{server['ids']['02-704319102']}/")

    # Invoice: the key pasted in groups of 4 with a wrong check digit; number and series left to the key.
    form = _open_form(page, "invoice")
    form.locator("input[name=key]").fill(format_nfe_key(WRONG_KEY))
    form.locator("input[name=issued_at]").fill("15/03/2025 10:30")
    _submit(page, "invoice")
    error = _field_error(page, "invoice", "key")
    assert f"Dígito verificador da chave inválido: é {WRONG_KEY[43]}, deveria ser {EXPECTED_DIGIT}." in error
    assert "nfe_key_check_digit" in error and "check digit is" not in error
    assert page.locator("#order-status").inner_text() == "Pago"
    _shot(page, "01-faturar-erro-digito-verificador.png")
    page.locator("#transition-form-invoice input[name=key]").fill(format_nfe_key(SAMPLE_NFE_KEY))
    _submit(page, "invoice")
    _wait_status(page, "invoiced")
    assert "1234 / 1" in page.locator("#nota-fiscal").inner_text()  # number and series read from the key
    _shot(page, "02-faturado.png")

    # Ship: carrier and service prefilled from "Correios SEDEX"; a tracking code with a wrong check digit.
    form = _open_form(page, "ship")
    assert form.locator("select[name=carrier]").input_value() == "correios"
    assert form.locator("select[name=method]").input_value() == "SEDEX"
    form.locator("input[name=tracking_code]").fill("AA123456784BR")
    _submit(page, "ship")
    error = _field_error(page, "ship", "tracking_code")
    assert "Dígito verificador do código de rastreio inválido: é 4, deveria ser 5." in error
    _shot(page, "03-enviar-erro-rastreio.png")
    page.locator("#transition-form-ship input[name=tracking_code]").fill("AA123456785BR")
    _submit(page, "ship")
    _wait_status(page, "shipped")
    _shot(page, "04-enviado.png")

    # Deliver: a day before the shipment, typed the Brazilian way; then the prefilled time (the
    # shipment's own minute) is accepted.
    form = _open_form(page, "deliver")
    prefilled = form.locator("input[name=delivered_at]").input_value()
    form.locator("input[name=delivered_at]").fill("01/01/2025 09:00")
    _submit(page, "deliver")
    error = _field_error(page, "deliver", "delivered_at")
    assert "A entrega (01/01/2025 09:00) não pode ser antes do envio" in error
    _shot(page, "05-entregar-erro-antes-do-envio.png")
    page.locator("#transition-form-deliver input[name=delivered_at]").fill(prefilled)
    _submit(page, "deliver")
    _wait_status(page, "delivered")
    _shot(page, "06-entregue.png")


def test_operator_cancels_an_invoiced_order_and_the_stock_comes_back(
    operator_page: Any, server: dict[str, Any]
) -> None:
    page = operator_page
    before = python(server["env"], STOCK)
    page.goto(f"{server['url']}/backoffice/orders/{server['ids']['02-704319103']}/")
    form = _open_form(page, "cancel")
    warning = form.locator("[data-warning=nfe]").inner_text()
    assert "Cancelar o pedido não cancela a nota" in warning and "evento 110111" in warning
    form.locator("select[name=reason]").select_option("customer_gave_up")
    _submit(page, "cancel")
    error = page.locator("#transition-form-cancel fieldset .field-error")
    error.wait_for()
    assert "Escolha uma das opções." in error.inner_text()
    _shot(page, "07-cancelar-aviso-nfe.png")
    page.locator("#transition-form-cancel input[name=nfe_action][value=cancel_nfe]").check()
    _submit(page, "cancel")
    _wait_status(page, "canceled")
    assert "CHINELO-42: +2" in page.locator(".stock-released").inner_text()
    _shot(page, "08-cancelado-estoque-devolvido.png")
    after = python(server["env"], STOCK)
    assert after["physical"] == before["physical"] + 2  # invoiced units back on the shelf
    page.goto(f"{server['url']}/backoffice/stock/CHINELO-42/")
    assert page.locator("#stock-counts [data-physical]").inner_text() == str(after["physical"])
    _shot(page, "09-estoque.png")


def test_an_error_reads_in_english_when_chosen(operator_page: Any, server: dict[str, Any]) -> None:
    page = operator_page
    page.goto(f"{server['url']}/backoffice/orders/{server['ids']['02-704319104']}/")
    page.click("button[data-language=en]")
    page.wait_for_selector("html[lang=en]")
    form = _open_form(page, "invoice")
    form.locator("input[name=key]").fill(WRONG_KEY)
    form.locator("input[name=issued_at]").fill("15/03/2025 10:30")
    _submit(page, "invoice")
    error = _field_error(page, "invoice", "key")
    assert f"Invalid access key check digit: it is {WRONG_KEY[43]}, it should be {EXPECTED_DIGIT}." in error
    assert "Dígito" not in page.locator("#transition-form-invoice").inner_text()
    _shot(page, "en-invoice-check-digit-error.png")
