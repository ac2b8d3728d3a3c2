"""The back office in both languages in a real headless Chromium: the same visible-text check as
``test_translation_pages`` (``visible_text``), read from the live DOM after scripts ran, so text a
script inserts is read too. The language is chosen the way an operator does: the top bar's switch.

Screenshots of the order page and the dashboard in both languages go to ``var/screenshots/pages/``
(not committed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from malote.backoffice.tests.test_browser import CHROMIUM, _chromium_available, browser  # noqa: F401
from malote.backoffice.tests.visible_text import visible_text, wrong_words
from malote.sync.tests.processes import free_port, python, run, serve_web, worker_database

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "pages"
PASSWORD = "senha-forte-123"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED = """
import json
from django.contrib.auth import get_user_model
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel
from malote.orders import actions
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from malote_dev.testing.orders import SYSTEM, bring_to, order_data
sync_roles()
user = get_user_model().objects.create_user(username="admin", password=%(password)r)
assign_role(user, "admin")
Channel.objects.create(code="site", name="Loja virtual", role="storefront")
Channel.objects.create(code="tiny", name="Tiny ERP", role="erp", kind="tiny")
set_physical("CHINELO-42", 50, actor=SYSTEM)
ids = {}
for n, status in enumerate(("paid", "invoiced", "shipped", "canceled")):
    data = order_data()
    data["external_id"] = f"02-70431910{n}"
    order, _ = actions.create_order(OrderIn.model_validate(data), actor=SYSTEM)
    ids[status] = bring_to(order, status).pk
print(json.dumps(ids))
"""

# What the seed created: names and notes people typed, blanked before the words are matched.
DATA = [
    "Maria Souza", "Rua das Flores", "ap 12", "Centro", "São Paulo", "Chinelo de praia 42", "Correios SEDEX",
    "Loja virtual", "Tiny ERP", "desistiu", "pagarme", "ch_123", "correios",
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not _chromium_available():
        if os.environ.get("MALOTE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium).")
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (make test does).")
    tmp_path = tmp_path_factory.mktemp("browser-languages")
    with worker_database(tmp_path) as env:
        run(env, "collectstatic", "--noinput", "-v", "0")
        ids = python(env, SEED % {"password": PASSWORD})
        port = free_port()
        web = serve_web(env, port)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "ids": ids}
        finally:
            web.terminate()
            web.wait(10)
            if web.stderr is not None:
                web.stderr.close()


def _pages(ids: dict[str, int]) -> dict[str, list[str]]:
    return {
        "orders": ["/backoffice/", *(f"/backoffice/orders/{pk}/" for pk in ids.values())],
        "dashboard": ["/backoffice/dashboard/"],
        "channels": ["/backoffice/channels/", "/backoffice/channels/site/"],
        "stock": ["/backoffice/stock/", "/backoffice/stock/CHINELO-42/"],
        "users": ["/backoffice/users/"],
        "inbox": ["/backoffice/excecoes/", "/backoffice/integracoes/"],
    }


@pytest.fixture
def page_in(browser: Any, server: dict[str, Any]) -> Iterator[Any]:  # noqa: F811
    """A logged-in admin page in ``language``, chosen with the top bar's switch."""
    contexts: list[Any] = []

    def open_in(language: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server['url']}/backoffice/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server['url']}/backoffice/")
        if language == "en":
            page.click("button[data-language=en]")
            page.wait_for_selector('html[lang="en"]')
        return page

    yield open_in
    for context in contexts:
        context.close()


def _read(page: Any, url: str, language: str, path: str) -> list[Any]:
    response = page.goto(url)
    assert response is not None and response.status == 200, path
    page.wait_for_load_state("networkidle")
    html = page.content()  # the live DOM, after scripts ran
    assert f'lang="{"pt-BR" if language == "pt-br" else "en"}"' in html
    return wrong_words(visible_text(html), language, page=path, data=DATA)


@pytest.mark.parametrize("language", ["pt-br", "en"])
@pytest.mark.parametrize("area", ["orders", "dashboard", "channels", "stock", "users", "inbox"])
def test_pages_read_in_one_language_in_the_browser(
    page_in: Any, server: dict[str, Any], area: str, language: str
) -> None:
    page = page_in(language)
    paths = _pages(server["ids"])[area]
    findings = [f for path in paths for f in _read(page, f"{server['url']}{path}", language, path)]
    assert findings == [], f"{len(findings)} wrong:\n" + "\n".join(map(str, findings))


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_screenshots_of_the_order_page_and_dashboard(
    page_in: Any, server: dict[str, Any], language: str
) -> None:
    page = page_in(language)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{server['url']}/backoffice/orders/{server['ids']['invoiced']}/")
    heading = page.locator("h1").inner_text()
    assert heading.startswith("Pedido" if language == "pt-br" else "Order")
    page.screenshot(path=str(SCREENSHOTS / f"order-{language}.png"), full_page=True)
    page.goto(f"{server['url']}/backoffice/dashboard/")
    assert page.locator("svg").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / f"dashboard-{language}.png"), full_page=True)
    assert (SCREENSHOTS / f"order-{language}.png").stat().st_size > 0


@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_the_login_page_reads_in_one_language_in_the_browser(
    browser: Any,  # noqa: F811
    server: dict[str, Any],
    language: str,
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
    try:
        page = context.new_page()
        page.goto(f"{server['url']}/backoffice/login/")
        if language == "en":
            page.click("button[data-language=en]")
            page.wait_for_selector('html[lang="en"]')
        url = f"{server['url']}/backoffice/login/"
        assert _read(page, url, language, "/backoffice/login/") == []
    finally:
        context.close()
