"""The one inbox in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against
gunicorn on a database of its own: an operator finds a non-integrated order (Tiny ERP) by the names
on the screen and opens the help-desk ticket; the inbox on a phone (390×844) has no horizontal
overflow and no evidence cell squeezed to a few letters per line.

Screenshots (pt-BR and English, desktop and phone) go to ``var/screenshots/inbox/`` (not committed).
Like ``test_browser``, a missing browser skips, or fails under ``MALOTE_REQUIRE_BROWSER=1``.
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

CHROMIUM = os.environ.get("MALOTE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "inbox"
PASSWORD = "senha-forte-123"
PHONE = {"width": 390, "height": 844}

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A Tiny ERP missing one order (help desk: Zendesk), a Bling ERP showing another status, an order
# waiting for 12 BONE-AZUL and a message Tiny refused.
SEED = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders import actions
from malote.orders.models import Order
from malote.orders.schemas import OrderIn
from malote.reconcile import actions as issues
from malote.reconcile.checks import order_evidence
from malote.stock.actions import set_physical
from malote.sync.models import MessageState, OutboxMessage
from malote_dev.testing.orders import SYSTEM, order_data
sync_roles()
for role in ("operator", "viewer"):
    user = get_user_model().objects.create_user(username=role, password=%(password)r)
    assign_role(user, role)
Channel.objects.create(code="site", name="Loja virtual", role="storefront")
tiny = Channel.objects.create(code="tiny", name="Tiny ERP", role="erp", kind="tiny")
bling = Channel.objects.create(code="bling", name="Bling ERP", role="erp", kind="bling")
Channel.objects.create(code="zendesk", name="Zendesk", role="helpdesk", kind="zendesk")
set_physical("CHINELO-42", 10, actor=SYSTEM)
schedule = Actor.schedule("reconcile:integration:tiny")
def paid(external_id, **overrides):
    data = OrderIn.model_validate(order_data(external_id=external_id, **overrides))
    order, _ = actions.create_order(data, actor=SYSTEM)
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    return Order.objects.select_related("channel").get(pk=order.pk)
missing = paid("02-704319102")
since = (timezone.now() - timedelta(hours=6)).isoformat()
issues.report("not_integrated", channel=tiny, actor=schedule, order=missing, other_channel=missing.channel,
    evidence={"malote": order_evidence(missing), "tiny": {"found": False, "listed_since": since,
              "searched": ["id", "reference"]}},
    detail=f"Pedido {missing.number} não está no Tiny ERP", recommended_action="reintegrate")
other = paid("02-555000111")
issues.report("divergent", channel=bling, actor=Actor.schedule("reconcile:divergent"), order=other,
    evidence={"order_status": "paid", "expected_status": "paid", "expected_remote": "15",
              "remote_status": "9", "remote_meaning": "invoiced", "since": since, "link": 0},
    detail="Bling ERP mostra '9'; esperado '15'", recommended_action="push_again")
items = [{"sku": "BONE-AZUL", "name": "Boné azul", "quantity": 12, "unit_price": "10.00", "discount": "0.00"}]
short = paid("02-555000222", items=items, total="135.00")
if short.status == "paid":
    actions.run_transition(short.pk, "flag_out_of_stock", {}, actor=SYSTEM)
OutboxMessage.objects.create(destination="channel:tiny", key=f"order:{other.pk}", order=other,
    kind="order.order", payload={"op": "order"}, idempotency_key="inbox-dead-1",
    state=MessageState.DEAD, attempts=8, last_error="HTTP 400: produto BONE-AZUL não cadastrado no Tiny")
print(json.dumps({"missing": missing.number, "short": short.number}))
"""


def _chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM) or Path(CHROMIUM).exists())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not _chromium_available():
        if os.environ.get("MALOTE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium).")
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (make test does).")
    tmp_path = tmp_path_factory.mktemp("browser-inbox")
    with worker_database(tmp_path) as env:
        run(env, "collectstatic", "--noinput", "-v", "0")
        seeded = python(env, SEED % {"password": PASSWORD})
        port = free_port()
        web = serve_web(env, port)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "seeded": seeded, "env": env}
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
    """A logged-in page: ``page_as(username, language="pt-br", phone=False)``."""
    contexts: list[Any] = []

    def login(username: str, *, language: str = "pt-br", phone: bool = False) -> Any:
        viewport = PHONE if phone else {"width": 1280, "height": 900}
        context = browser.new_context(viewport=viewport, locale="pt-BR", is_mobile=phone, has_touch=phone)
        context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": server["url"]}]
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server['url']}/backoffice/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server['url']}/backoffice/")
        return page

    yield login
    for context in contexts:
        context.close()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_find_the_order_missing_in_tiny_and_open_the_ticket(page_as: Any, server: dict[str, Any]) -> None:
    number = server["seeded"]["missing"]
    page = page_as("operator")
    page.goto(f"{server['url']}/backoffice/integracoes/")  # the old menu entry lands in the inbox
    assert "/backoffice/pendencias/" in page.url
    page.goto(f"{server['url']}/backoffice/pendencias/")
    _shot(page, "inbox-desktop-pt-BR.png")
    page.select_option("select[name=kind]", label="Pedido não integrado")
    page.select_option("select[name=channel]", label="Tiny ERP")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/pendencias/?*")
    assert "channel=Tiny+ERP" in page.url
    card = page.locator("article.inbox-item", has_text=f"Pedido {number} não está no Tiny ERP")
    assert card.count() == 1
    assert page.locator("article.inbox-item").count() == 1, "only the filtered kind and channel"
    evidence = card.locator("table.evidence").inner_text()
    assert "Tiny ERP" in evidence and "Tem o pedido" in evidence and "R$ 114,80" in evidence
    assert "found" not in evidence and "True" not in evidence and "+00:00" not in evidence
    first = card.locator(".item-actions button").first
    assert first.inner_text() == "Reenviar o pedido" and "primary" in (first.get_attribute("class") or "")
    card.locator("button[data-action=open_ticket]").click()
    page.wait_for_selector(".messages li.success")
    assert page.locator(".messages li.success").inner_text() == "Chamado solicitado ao help desk."
    card = page.locator("article.inbox-item", has_text=f"Pedido {number}")
    assert "Em correção" in card.locator(".state").inner_text()
    assert card.locator("button.primary").count() == 0, "being corrected: nothing recommended twice"
    _shot(page, "ticket-requested-pt-BR.png")
    card.locator(".problem a").click()
    page.wait_for_selector("ol.history")
    history = page.locator("ol.history").inner_text()
    assert "Abrir chamado no help desk · Aberto → Em correção" in history
    assert "open_ticket" not in history and "resolving" not in history
    _shot(page, "issue-pt-BR.png")


def test_the_inbox_in_english_shows_remote_statuses_by_name(page_as: Any, server: dict[str, Any]) -> None:
    page = page_as("operator", language="en")
    page.goto(f"{server['url']}/backoffice/pendencias/")
    assert page.locator("main h1").inner_text().startswith("Pending")
    text = page.locator("main").inner_text()
    assert "Bling ERP: 9 — Atendido" in text and "Bling ERP: 15 — Em andamento" in text
    assert "Order not integrated" in text and "Pedido não integrado" not in text
    assert "Status esperado lá" not in text and "Reenviar o status" not in text
    _shot(page, "inbox-desktop-en.png")
    page.locator("section[data-kind=divergent] .problem a").click()
    page.wait_for_selector("ol.history")
    issue = page.locator("main").inner_text()
    assert "Bling ERP shows 9 — Atendido; expected 15 — Em andamento" in issue
    assert "Status expected there" in issue and "History" in issue and "Histórico" not in issue
    _shot(page, "issue-en.png")


# Per evidence cell with at least 6 characters of text: how many characters fit on one of its lines.
NARROWEST_LINE = """() => {
  let narrowest = Infinity;
  for (const cell of document.querySelectorAll("table.evidence th, table.evidence td")) {
    const text = cell.innerText.trim();
    if (text.length < 6 || cell.offsetParent === null) continue;
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size || 1;
    narrowest = Math.min(narrowest, text.length / lines);
  }
  return narrowest;
}"""


@pytest.mark.parametrize(
    ("language", "name"), [("pt-br", "inbox-phone-pt-BR.png"), ("en", "inbox-phone-en.png")]
)
def test_the_inbox_on_a_phone(page_as: Any, server: dict[str, Any], language: str, name: str) -> None:
    page = page_as("operator", language=language, phone=True)
    page.goto(f"{server['url']}/backoffice/pendencias/")
    page.wait_for_selector("table.evidence")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1, "no sideways scroll"
    assert page.evaluate(NARROWEST_LINE) >= 6, "no evidence cell wraps to a few letters per line"
    widths = page.evaluate(
        "[...document.querySelectorAll('table.evidence td')].map((c) => c.getBoundingClientRect().width)"
    )
    assert widths and min(widths) >= 100
    for button in page.locator("article.inbox-item button.primary").all():
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    short = server["seeded"]["short"]
    card = page.locator("article.inbox-item", has_text=short)
    missing = "12 units of BONE-AZUL missing" if language == "en" else "faltam 12 un. de BONE-AZUL"
    assert missing in card.inner_text()
    _shot(page, name)
