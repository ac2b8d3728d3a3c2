"""The back office in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against
gunicorn serving Malote on a database of its own — what an operator does all day.

Screenshots go to ``var/artifacts/screenshots/`` (not committed). The Makefile installs Chromium and
sets ``MALOTE_REQUIRE_BROWSER=1``, so there a missing browser fails; elsewhere the test is skipped
with that reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from malote.sync.tests.processes import free_port, python, run, serve_web, worker_database
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY

CHROMIUM = os.environ.get("MALOTE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots"
WRONG_KEY = SAMPLE_NFE_KEY[:43] + ("4" if SAMPLE_NFE_KEY[43] != "4" else "5")
PASSWORD = "senha-forte-123"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED = """
import json
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel
from malote_dev.testing.orders import SYSTEM, order_data
from malote.orders import actions
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from django.contrib.auth import get_user_model
import copy
sync_roles()
for role in ("operator", "viewer"):
    user = get_user_model().objects.create_user(username=role, password=%(password)r)
    assign_role(user, role)
Channel.objects.create(code="site", name="Loja virtual", role="storefront")
set_physical("CHINELO-42", 10, actor=SYSTEM)
ids = {}
for external_id in ("02-704319102", "02-555000111", "02-555000222"):
    data = order_data()
    data["external_id"] = external_id
    order, _ = actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    ids[external_id] = order.pk
print(json.dumps(ids))
"""

STOCK = """
import json
from malote.stock.models import StockItem
item = StockItem.objects.get(sku="CHINELO-42")
print(json.dumps({"physical": item.physical, "reserved": item.reserved}))
"""


def _chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM) or Path(CHROMIUM).exists())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not _chromium_available():
        if os.environ.get("MALOTE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium).")
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (make test does).")
    tmp_path = tmp_path_factory.mktemp("browser")
    with worker_database(tmp_path) as env:
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
def page_as(browser: Any, server: dict[str, Any]) -> Iterator[Any]:
    contexts: list[Any] = []

    def login(username: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server['url']}/backoffice/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        try:
            page.wait_for_url(f"{server['url']}/backoffice/")
        except Exception:
            reached = f"{page.url}\n{page.content()[:2000]}"
            pytest.fail(f"login as {username} did not reach the orders list: {reached}")
        return page

    yield login
    for context in contexts:
        context.close()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _wait_or_show(page: Any, selector: str) -> None:
    """Wait for ``selector``; on a timeout, fail with the form errors the page shows."""
    try:
        page.wait_for_selector(selector)
    except Exception:
        errors = page.locator(".errors, .field-error").all_inner_texts()
        pytest.fail(f"{selector} never appeared; the page shows: {errors}")


def _open_form(page: Any, transition: str) -> Any:
    page.click(f"a[data-transition={transition}]")
    form = page.locator(f"#transition-form-{transition}")
    form.wait_for()
    return form


def test_operator_finds_invoices_and_ships_an_order(page_as: Any, server: dict[str, Any]) -> None:
    page = page_as("operator")
    page.fill("input[name=q]", "704319102")
    # A function, not an expression: Playwright evals expressions, which the CSP forbids.
    page.wait_for_function("() => document.querySelectorAll('#order-table tbody tr').length === 1")
    _shot(page, "orders-list.png")
    page.click("#order-table tbody tr a")
    page.wait_for_selector("#processar")

    form = _open_form(page, "invoice")
    form.locator("input[name=key]").fill(WRONG_KEY)
    form.locator("input[name=number]").fill("1234")
    form.locator("input[name=series]").fill("1")
    form.locator("button[type=submit]").click()
    error = page.locator("#transition-form-invoice .field-error[data-code=nfe_key_check_digit]")
    error.wait_for()
    assert "nfe_key_check_digit" in error.inner_text()
    assert page.locator("#order-status").inner_text() == "Pago"

    page.locator("#transition-form-invoice input[name=key]").fill(SAMPLE_NFE_KEY)
    # The key says March 2025 (its AAMM): the issue date must fall in that month.
    page.locator("#transition-form-invoice input[name=issued_at]").fill("2025-03-15T10:30")
    page.locator("#transition-form-invoice button[type=submit]").click()
    _wait_or_show(page, "#resultado [data-status=invoiced]")
    assert page.locator("#order-status").inner_text() == "Faturado"
    assert "Nota fiscal" in page.locator("#resultado").inner_text()

    form = _open_form(page, "ship")
    form.locator("select[name=carrier]").select_option("correios")
    form.locator("select[name=method]").select_option("SEDEX")
    form.locator("input[name=tracking_code]").fill("AA123456785BR")
    form.locator("button[type=submit]").click()
    _wait_or_show(page, "#resultado [data-status=shipped]")
    tracking = page.locator("a.tracking")
    assert tracking.inner_text() == "AA123456785BR"
    assert "AA123456785BR" in (tracking.get_attribute("href") or "")
    _shot(page, "order-page.png")


def test_operator_cancels_and_sees_stock_restored(page_as: Any, server: dict[str, Any]) -> None:
    before = python(server["env"], STOCK)
    page = page_as("operator")
    page.goto(f"{server['url']}/backoffice/orders/{server['ids']['02-555000111']}/")
    form = _open_form(page, "cancel")
    form.locator("select[name=reason]").select_option("customer_gave_up")
    form.locator("textarea[name=note]").fill("Cliente desistiu por telefone")
    form.locator("button[type=submit]").click()
    _wait_or_show(page, "#resultado [data-status=canceled]")
    released = page.locator(".stock-released").inner_text()
    after = python(server["env"], STOCK)
    assert after["reserved"] == before["reserved"] - 2
    assert "CHINELO-42: +2" in released
    assert f"disponível agora: {after['physical'] - after['reserved']}" in released
    _shot(page, "order-canceled.png")


def test_viewer_sees_no_action_buttons(page_as: Any, server: dict[str, Any]) -> None:
    page = page_as("viewer")
    page.goto(f"{server['url']}/backoffice/orders/{server['ids']['02-555000222']}/")
    page.wait_for_selector("#processar")
    assert page.locator("[data-transition]").count() == 0
    assert "Nenhuma ação disponível" in page.locator("#processar").inner_text()
    assert page.locator("#integracao button").count() == 0


def test_dashboard_screenshot(page_as: Any, server: dict[str, Any]) -> None:
    page = page_as("operator")
    response = page.goto(f"{server['url']}/backoffice/dashboard/")
    assert response is not None and response.status == 200
    assert page.locator("svg").count() >= 1
    _shot(page, "dashboard.png")


def test_inboxes_render(page_as: Any, server: dict[str, Any]) -> None:
    page = page_as("operator")
    for path, name in (
        ("/backoffice/excecoes/", "exceptions.png"),
        ("/backoffice/integracoes/", "integrations.png"),
    ):
        response = page.goto(f"{server['url']}{path}")
        assert response is not None and response.status == 200
        _shot(page, name)


def test_orders_list_on_a_phone(browser: Any, server: dict[str, Any]) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="pt-BR", is_mobile=True)
    try:
        page = context.new_page()
        page.goto(f"{server['url']}/backoffice/login/")
        page.fill("input[name=username]", "viewer")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server['url']}/backoffice/")
        # The table turns into one card per order: nothing wider than the screen.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1
        _shot(page, "orders-list-phone.png")
    finally:
        context.close()
