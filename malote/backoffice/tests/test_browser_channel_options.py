"""An administrator edits a channel's rules through the generated form in a real headless Chromium:
turns help-desk repair on, picks the help desk, types a ticket subject with a field that does not
exist (refused in Portuguese next to the field, nothing saved), fixes it and saves.

Screenshots go to ``var/screenshots/channels/`` (not committed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from malote.backoffice.tests import test_browser
from malote.sync.tests.processes import free_port, python, run, serve_web, worker_database

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "channels"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The Chromium fixtures of the main browser tests, against this module's server.
browser, page_as = test_browser.browser, test_browser.page_as

SEED = """
import json
from django.contrib.auth import get_user_model
from malote.accounts.roles import assign_role, sync_roles
from malote.channels.models import Channel
sync_roles()
user = get_user_model().objects.create_user(username="admin", password=%(password)r)
assign_role(user, "admin")
Channel.objects.create(code="tiny", name="Tiny ERP", role="erp", kind="tiny",
                       base_url="https://api.tiny.com.br/api2", credentials={"token": "s3gredo"},
                       options={"legado": 1})
Channel.objects.create(code="zendesk", name="Zendesk", role="helpdesk", kind="zendesk")
print(json.dumps({}))
"""

OPTIONS = """
import json
from malote.channels.models import Channel
channel = Channel.objects.get(code="tiny")
print(json.dumps({"options": channel.options, "token": channel.credentials.get("token")}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not test_browser._chromium_available():
        pytest.skip(f"Chromium not found at {test_browser.CHROMIUM}: install Debian's chromium.")
    tmp_path = tmp_path_factory.mktemp("browser-channels")
    with worker_database(tmp_path) as env:
        run(env, "collectstatic", "--noinput", "-v", "0")
        python(env, SEED % {"password": test_browser.PASSWORD})
        port = free_port()
        web = serve_web(env, port)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "env": env}
        finally:
            web.terminate()
            web.wait(10)
            if web.stderr is not None:
                web.stderr.close()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_admin_edits_the_channel_rules_through_the_form(page_as: Any, server: dict[str, Any]) -> None:
    page = page_as("admin")
    page.goto(f"{server['url']}/backoffice/channels/tiny/")
    form = page.locator("#channel-config")
    helpdesk = form.locator("[data-option=repair_by_helpdesk]")
    assert "corrigido por uma pessoa" in helpdesk.inner_text()
    _shot(page, "01-regras-do-canal.png")

    helpdesk.locator("input[type=checkbox]").check()
    form.locator("input[name=opt__helpdesk_channel]").fill("zendesk")
    form.locator("input[name=opt__reconcile_interval_seconds]").fill("600")
    form.locator("textarea[name=opt__ticket_done_statuses]").fill("solved\nclosed\nresolvido")
    template = form.locator("input[name=opt__helpdesk_template]")
    template.fill("Corrigir o pedido {pedido}")
    form.locator("button[type=submit]").click()

    # Forbidden: the unknown field is refused next to its input, in Portuguese; nothing is saved.
    error = page.locator("[data-option=helpdesk_template] .error")
    error.wait_for()
    assert "Campo desconhecido: {pedido}." in error.inner_text()
    assert page.locator("[data-option=repair_by_helpdesk] input[type=checkbox]").is_checked()
    _shot(page, "02-erro-no-campo.png")
    assert python(server["env"], OPTIONS)["options"] == {"legado": 1}

    # Allowed: fixed, saved.
    page.locator("input[name=opt__helpdesk_template]").fill("Corrigir o pedido {store_number} ({number})")
    page.locator("#channel-config button[type=submit]").click()
    page.locator("ul.messages").wait_for()
    assert "Configuração salva." in page.content()
    _shot(page, "03-salvo.png")
    saved = python(server["env"], OPTIONS)
    assert saved["options"] == {
        "legado": 1,
        "repair_by_helpdesk": True,
        "helpdesk_channel": "zendesk",
        "reconcile_interval_seconds": 600,
        "ticket_done_statuses": ["solved", "closed", "resolvido"],
        "helpdesk_template": "Corrigir o pedido {store_number} ({number})",
    }
    assert saved["token"] == "s3gredo", "the credentials are kept"
    assert page.locator("[data-option=repair_by_helpdesk] input[type=checkbox]").is_checked()
