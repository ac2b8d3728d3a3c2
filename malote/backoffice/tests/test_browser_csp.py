"""Every page works under the Content-Security-Policy, in a real headless Chromium against gunicorn:
the back office (htmx, the dashboard's SVG charts, the dead letters' select-all), the Django admin
and the API docs (Swagger UI) — with no policy violation — while an injected inline script is
refused.

Chromium and the skip/fail rule as in test_browser.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from malote.backoffice.tests.test_browser import CHROMIUM, _chromium_available
from malote.sync.tests.processes import free_port, python, run, serve_web, worker_database

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "senha-forte-csp-123"
SEED = """
import json
from django.contrib.auth import get_user_model
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel
from malote.orders import actions
from malote.orders.schemas import OrderIn
from malote.stock.actions import set_physical
from malote.sync import outbox
from malote.sync.models import OutboxMessage
from malote_dev.testing.orders import SYSTEM, order_data
sync_roles()
user = get_user_model().objects.create_user(username="chefe", password=%(password)r)
assign_role(user, "admin")
user.is_superuser = True
user.save()
Channel.objects.create(code="site", name="Loja virtual", role="storefront")
set_physical("CHINELO-42", 10, actor=SYSTEM)
order, _ = actions.create_order(OrderIn.model_validate(order_data()), actor=SYSTEM)
outbox.enqueue("channel:erp", "order.status", {"op": "status"}, key="order:1")
OutboxMessage.objects.update(state="dead", last_error="HTTP 400")
print(json.dumps({"order": order.pk}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not _chromium_available():
        if os.environ.get("MALOTE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium).")
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (make test does).")
    with worker_database(tmp_path_factory.mktemp("csp")) as env:
        run(env, "collectstatic", "--noinput", "-v", "0")
        ids = python(env, SEED % {"password": PASSWORD})
        port = free_port()
        web = serve_web(env, port)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "order": ids["order"]}
        finally:
            web.terminate()
            web.wait(10)
            if web.stderr is not None:
                web.stderr.close()


@pytest.fixture(scope="module")
def violations() -> list[str]:
    """The policy violations Chromium reported on the page's console since the last visit."""
    return []


@pytest.fixture(scope="module")
def page(server: dict[str, Any], violations: list[str]) -> Iterator[Any]:
    """A logged-in page, its console's policy violations collected in ``violations``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
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
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
            opened = context.new_page()
            opened.set_default_timeout(15_000)
            opened.on(
                "console",
                lambda message: (
                    violations.append(message.text) if "Content Security Policy" in message.text else None
                ),
            )
            opened.goto(f"{server['url']}/backoffice/login/")
            opened.fill("input[name=username]", "chefe")
            opened.fill("input[name=password]", PASSWORD)
            opened.click("button[type=submit]")
            opened.wait_for_url(f"{server['url']}/backoffice/")
            yield opened
        finally:
            browser.close()


def _visit(page: Any, violations: list[str], url: str, ready: str) -> None:
    violations.clear()
    response = page.goto(url)
    assert response.status == 200
    policy = dict(d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";"))
    # The nonce is added only to pages that use one (django-csp generates it on first use).
    assert policy["script-src"].split()[0] == "'self'" and "unsafe" not in policy["script-src"]
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/backoffice/", "#order-table"),
        ("/backoffice/orders/{order}/", "a[data-transition]"),
        ("/backoffice/dashboard/", "svg[role=img]"),
        ("/backoffice/integracoes/", "main h1"),
        ("/admin/", "#content-main"),
        ("/admin/orders/order/", "#result_list"),
        ("/admin/orders/order/{order}/change/", "#content-main"),
        ("/api/v1/docs", ".swagger-ui .info"),
    ],
)
def test_pages_render_without_policy_violations(
    page: Any, violations: list[str], server: dict[str, Any], path: str, ready: str
) -> None:
    _visit(page, violations, server["url"] + path.format(order=server["order"]), ready)
    assert violations == []


def test_htmx_works_under_the_policy(page: Any, violations: list[str], server: dict[str, Any]) -> None:
    _visit(page, violations, f"{server['url']}/backoffice/", "#order-table")
    assert page.evaluate("() => typeof window.htmx") == "object"  # the nonce'd/static script ran
    page.fill("input[name=q]", "704319")
    page.wait_for_function("() => document.querySelectorAll('#order-table tbody tr').length === 1")
    assert violations == []


def test_select_all_works_from_its_static_script(
    page: Any, violations: list[str], server: dict[str, Any]
) -> None:
    _visit(page, violations, f"{server['url']}/backoffice/excecoes/", "input[data-select-all]")
    page.check("input[data-select-all]")
    assert page.is_checked("input[name=message]")
    page.uncheck("input[data-select-all]")
    assert not page.is_checked("input[name=message]")
    assert violations == []


def test_an_injected_inline_script_is_refused(
    page: Any, violations: list[str], server: dict[str, Any]
) -> None:
    _visit(page, violations, f"{server['url']}/backoffice/", "#order-table")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            const img = document.createElement("img");
            img.setAttribute("onerror", "window.injected = true");
            img.src = "/nothing-here.png";
            document.body.appendChild(img);
        }"""
    )
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.injected") is None
    assert len(violations) >= 2
