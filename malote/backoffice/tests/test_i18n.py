"""The back office in Portuguese (default) and English: the language switch, Accept-Language, and the
English catalog's completeness (no empty or fuzzy entry, every template string extracted).

The catalog's msgids are the Portuguese text; ``malote/locale/en/LC_MESSAGES/django.po`` holds the
English. The ``.mo`` is not committed (``malote compilemessages`` builds it at install); these tests
compile it themselves when it is missing or older than the ``.po``.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from malote.notify.models import EmailTemplate
from malote.orders.models import Order
from malote_dev.testing.orders import bring_to

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
BACKOFFICE = Path(__file__).resolve().parent.parent
LIST = "/backoffice/"
SWITCH = "/i18n/setlang/"


@pytest.fixture(scope="module", autouse=True)
def compiled_catalog() -> Iterator[None]:
    """Build the ``.mo`` from the ``.po`` when it is missing or stale (atomically: xdist workers race)."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        msgfmt = shutil.which("msgfmt")
        if msgfmt is None:
            pytest.skip("msgfmt (GNU gettext) is not installed: cannot compile the English catalog.")
        fd, tmp = tempfile.mkstemp(dir=MO.parent, suffix=".mo.tmp")
        os.close(fd)
        try:
            subprocess.run([msgfmt, "--check-format", "-o", tmp, str(PO)], check=True, timeout=60)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the web server must read it
            os.replace(tmp, MO)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    # Changing LOCALE_PATHS (even to the same value) makes Django drop its cached catalogs, so a
    # catalog loaded before the .mo existed is read again.
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        pass
    yield


@pytest.fixture
def operator(user_with_role: Callable[[str], Any]) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def paid_order(make_order: Callable[..., Order]) -> Order:
    return bring_to(make_order(), "paid")


def _html(client: Client, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return str(response.content.decode())


def _switch(client: Client, language: str, next_url: str = LIST) -> Any:
    return client.post(SWITCH, {"language": language, "next": next_url})


# --- the pages in each language ----------------------------------------------------------------


@pytest.mark.django_db
def test_default_is_portuguese(operator: Client, paid_order: Order) -> None:
    html = _html(operator, LIST)
    assert '<html lang="pt-BR">' in html
    assert "<h1>Lista de pedidos</h1>" in html
    assert 'status-paid">Pago</span>' in html
    assert "Order list" not in html
    page = _html(operator, f"/backoffice/orders/{paid_order.pk}/")
    assert "<h2>Informações do pedido</h2>" in page
    assert 'id="order-status">Pago</span>' in page


@pytest.mark.django_db
def test_switch_to_english_and_back(operator: Client, paid_order: Order) -> None:
    order_url = f"/backoffice/orders/{paid_order.pk}/"
    response = _switch(operator, "en", order_url)
    assert response.status_code == 302
    assert response["Location"] == order_url

    page = _html(operator, order_url)
    assert '<html lang="en">' in page
    assert 'id="order-status">Paid</span>' in page
    for heading in ("Order details", "Customer", "Billing address", "Items", "Invoice", "Process order"):
        assert f"<h2>{heading}</h2>" in page
    assert "Informações do pedido" not in page

    listing = _html(operator, LIST)
    assert "<h1>Order list</h1>" in listing
    assert 'status-paid">Paid</span>' in listing
    assert "Awaiting payment" in listing  # the per-status counts
    assert ">Search " in listing  # a form label (Python gettext_lazy)
    assert "Lista de pedidos" not in listing

    assert _switch(operator, "pt-br", LIST)["Location"] == LIST
    listing = _html(operator, LIST)
    assert "<h1>Lista de pedidos</h1>" in listing
    assert 'status-paid">Pago</span>' in listing
    assert '<html lang="pt-BR">' in listing


@pytest.mark.django_db
def test_accept_language_english(operator: Client, paid_order: Order) -> None:
    html = _html(operator, LIST, accept_language="en-US,en;q=0.9")
    assert "<h1>Order list</h1>" in html
    assert 'status-paid">Paid</span>' in html
    html = _html(operator, LIST, accept_language="pt-BR,pt;q=0.9,en;q=0.5")
    assert "<h1>Lista de pedidos</h1>" in html


@pytest.mark.django_db
def test_chosen_language_wins_over_accept_language(operator: Client) -> None:
    _switch(operator, "pt-br")
    assert "<h1>Lista de pedidos</h1>" in _html(operator, LIST, accept_language="en")


@pytest.mark.django_db
def test_python_messages_follow_the_language(operator: Client) -> None:
    _switch(operator, "en")
    response = operator.post("/backoffice/excecoes/retry/", follow=True)
    html = response.content.decode()
    assert "No message selected." in html
    assert "<h1>Pending <span" in html


@pytest.mark.django_db
def test_unsupported_language_is_ignored(operator: Client) -> None:
    _switch(operator, "fr")
    assert "<h1>Lista de pedidos</h1>" in _html(operator, LIST)


@pytest.mark.django_db
def test_switch_never_redirects_off_site(operator: Client) -> None:
    response = _switch(operator, "en", "https://evil.example/phish")
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


@pytest.mark.django_db
def test_switch_requires_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(SWITCH, {"language": "en", "next": LIST}).status_code == 403


@pytest.mark.django_db
def test_login_page_has_the_switch_pointing_back_to_it(client: Client) -> None:
    html = _html(Client(enforce_csrf_checks=True), "/backoffice/login/?next=/backoffice/")
    form = re.search(r'<form method="post" action="/i18n/setlang/".*?</form>', html, re.S)
    assert form is not None
    assert "csrfmiddlewaretoken" in form.group(0)
    assert 'name="next" value="/backoffice/login/?next=/backoffice/"' in form.group(0)
    assert 'name="language" value="en"' in form.group(0)
    assert 'name="language" value="pt-br"' not in form.group(0)  # the current one is not a button
    _switch(client, "en", "/backoffice/login/")
    english = _html(client, "/backoffice/login/")
    assert "<h1>Sign in to Malote</h1>" in english
    assert 'name="language" value="pt-br"' in english


@pytest.mark.django_db
def test_switch_next_is_the_current_page(operator: Client, paid_order: Order) -> None:
    html = _html(operator, f"/backoffice/orders/{paid_order.pk}/")
    assert f'name="next" value="/backoffice/orders/{paid_order.pk}/"' in html


@pytest.mark.django_db
def test_email_preview_stays_in_the_customers_language(
    operator: Client, make_order: Callable[..., Order]
) -> None:
    """The operator reads English; the customer's e-mail (and its preview) stays pt-BR."""
    EmailTemplate.objects.update_or_create(
        status="paid", defaults={"subject": "{{ status_label }}: {{ number }}", "body": "x", "enabled": True}
    )
    order = make_order()
    _switch(operator, "en")
    response = operator.post(f"/backoffice/orders/{order.pk}/process/approve_payment/", {})
    assert response.status_code == 302
    page = _html(operator, f"/backoffice/orders/{order.pk}/")
    assert 'data-status="paid">Paid</strong>' in page  # the result, in the operator's language
    assert f'<span class="subject">Pagamento aprovado: {order.number}</span>' in page


# --- the catalog ---------------------------------------------------------------------------------


def _entries(text: str) -> list[dict[str, Any]]:
    """The entries of a .po file: flags and fields (multi-line strings joined), header included."""
    entries: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry: dict[str, Any] = {"flags": set(), "fields": {}, "obsolete": False}
        key = ""
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#,"):
                entry["flags"].update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry["fields"][key] += ast.literal_eval(line)
            else:
                key, _, value = line.partition(" ")
                entry["fields"][key] = ast.literal_eval(value)
        entries.append(entry)
    return entries


def _messages() -> list[dict[str, Any]]:
    return [
        e for e in _entries(PO.read_text(encoding="utf-8")) if e["fields"].get("msgid") and not e["obsolete"]
    ]


def test_po_parser_sees_empty_and_fuzzy_entries() -> None:
    sample = '#, fuzzy, python-format\nmsgid "Pago"\nmsgstr ""\n\nmsgid "a"\nmsgid_plural "b"\nmsgstr[0] ""\n'
    first, second = _entries(sample)
    assert "fuzzy" in first["flags"] and first["fields"]["msgstr"] == ""
    assert second["fields"]["msgstr[0]"] == ""


def test_english_catalog_is_complete() -> None:
    messages = _messages()
    assert len(messages) > 100
    header = _entries(PO.read_text(encoding="utf-8"))[0]
    assert "fuzzy" not in header["flags"]
    empty = [
        m["fields"]["msgid"]
        for m in messages
        if any(not value for key, value in m["fields"].items() if key.startswith("msgstr"))
    ]
    fuzzy = [m["fields"]["msgid"] for m in messages if "fuzzy" in m["flags"]]
    assert empty == [], f"untranslated: {empty}"
    assert fuzzy == [], f"fuzzy: {fuzzy}"


def test_english_keeps_every_placeholder() -> None:
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    wrong = []
    for m in _messages():
        fields = m["fields"]
        wanted = sorted(placeholder.findall(fields["msgid"] + fields.get("msgid_plural", "")))
        for key, value in fields.items():
            if key.startswith("msgstr") and not set(placeholder.findall(value)) <= set(wanted):
                wrong.append(fields["msgid"])
            if key == "msgstr" and sorted(placeholder.findall(value)) != wanted:
                wrong.append(fields["msgid"])
    assert wrong == []


def test_status_labels_in_english() -> None:
    english = {m["fields"]["msgid"]: m["fields"].get("msgstr") for m in _messages()}
    assert english["Aguardando pagamento"] == "Awaiting payment"
    assert english["Pago"] == "Paid"
    assert english["Faturado"] == "Invoiced"
    assert english["Cancelado"] == "Canceled"


TEMPLATE_LITERAL = re.compile(r"""\{%\s*translate\s+(?:"([^"]*)"|'([^']*)')""")
# {% blocktranslate [with …|count …] %}text{% plural %}plural{% endblocktranslate %}; a variable
# ``{{ name }}`` is ``%(name)s`` in the msgid, a literal ``%`` is ``%%``.
BLOCK_LITERAL = re.compile(
    r"\{%\s*blocktranslate\b(?P<args>[^%]*)%\}(?P<text>.*?)"
    r"(?:\{%\s*plural\s*%\}(?P<plural>.*?))?\{%\s*endblocktranslate\s*%\}",
    re.S,
)
BLOCK_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _block_msgid(text: str, trimmed: bool) -> str:
    text = BLOCK_VARIABLE.sub(lambda m: f"%({m.group(1)})s", text.replace("%", "%%"))
    return " ".join(text.split()) if trimmed else text


def template_msgids(source: str) -> list[str]:
    """The msgids of a template: ``{% translate "…" %}`` literals and ``{% blocktranslate %}`` blocks
    (singular and plural)."""
    found = [m.group(1) if m.group(1) is not None else m.group(2) for m in TEMPLATE_LITERAL.finditer(source)]
    for block in BLOCK_LITERAL.finditer(source):
        trimmed = "trimmed" in block.group("args")
        found.append(_block_msgid(block.group("text"), trimmed))
        if block.group("plural") is not None:
            found.append(_block_msgid(block.group("plural"), trimmed))
    return found


def test_template_msgids_are_read_like_makemessages() -> None:
    source = (
        "{% translate 'Idioma' %}{% translate \"Sair\" %}"
        "{% blocktranslate count counter=n %}{{ counter }} pedido"
        "{% plural %}{{ counter }} pedidos{% endblocktranslate %}"
        "{% blocktranslate with number=p.number %}Página {{ number }} de 100%{% endblocktranslate %}"
    )
    assert template_msgids(source) == [
        "Idioma",
        "Sair",
        "%(counter)s pedido",
        "%(counter)s pedidos",
        "Página %(number)s de 100%%",
    ]


def test_every_backoffice_template_string_is_in_the_catalog() -> None:
    """A ``{% translate %}`` or ``{% blocktranslate %}`` added after the last ``makemessages`` fails
    here, not silently in English."""
    msgids = {m["fields"]["msgid"] for m in _messages()}
    msgids |= {m["fields"]["msgid_plural"] for m in _messages() if "msgid_plural" in m["fields"]}
    missing = []
    for template in sorted(BACKOFFICE.parent.rglob("templates/**/*.html")):
        for text in template_msgids(template.read_text(encoding="utf-8")):
            if (
                text not in msgids
                and text.replace("%", "%%") not in msgids
                and text.replace("%%", "%") not in msgids
            ):
                missing.append(f"{template.relative_to(BACKOFFICE.parent)}: {text}")
    assert missing == [], "run makemessages -l en and translate: " + "; ".join(missing)


GETTEXT_FUNCTIONS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


def python_msgids(source: str) -> list[str]:
    """The literal msgids a module marks: ``_("…")``, ``gettext_lazy('…')``, implicit concatenation
    joined, both forms of ``ngettext``; the context argument of ``pgettext`` is not a msgid."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name not in GETTEXT_FUNCTIONS:
            continue
        args = node.args[1:] if name.startswith("pgettext") else node.args
        count = 2 if name.startswith("ngettext") else 1
        for arg in args[:count]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(arg.value)
    return found


def test_python_msgids_are_read_like_makemessages() -> None:
    source = (
        "from django.utils.translation import gettext_lazy as _, ngettext\n"
        "A = _('Pago')\n"
        'B = _("Pedido "\n      "criado")\n'
        'C = ngettext("%(n)s pedido", "%(n)s pedidos", 2)\n'
        "D = translation.gettext_lazy('Canal')\n"
        "E = _(variable)\n"
    )
    assert python_msgids(source) == ["Pago", "Pedido criado", "%(n)s pedido", "%(n)s pedidos", "Canal"]


def test_every_marked_python_string_is_in_the_catalog() -> None:
    """The same guard for the strings Malote's Python modules mark (tests and migrations aside)."""
    msgids = {m["fields"]["msgid"] for m in _messages()}
    msgids |= {m["fields"]["msgid_plural"] for m in _messages() if "msgid_plural" in m["fields"]}
    missing = []
    for module in sorted(BACKOFFICE.parent.rglob("*.py")):
        if "tests" in module.parts or "migrations" in module.parts:
            continue
        for text in python_msgids(module.read_text(encoding="utf-8")):
            if text not in msgids:
                missing.append(f"{module.relative_to(BACKOFFICE.parent)}: {text}")
    assert missing == [], "run makemessages -l en and translate: " + "; ".join(missing)


def test_no_msgid_appears_twice() -> None:
    """A repeated msgid makes ``compilemessages`` fail (appended blocks must grep first)."""
    seen: dict[str, int] = {}
    for m in _messages():
        key = m["fields"]["msgid"] + "\x04" + m["fields"].get("msgctxt", "")
        seen[key] = seen.get(key, 0) + 1
    assert [key for key, n in seen.items() if n > 1] == []


def test_msgids_are_portuguese() -> None:
    """The msgid is the pt-BR text: an entry whose English equals its msgid must be a name or a code
    of at most two words ("Help desk", "DANFE (PDF)"), not an English sentence left as the msgid."""
    same = [
        m["fields"]["msgid"]
        for m in _messages()
        if m["fields"].get("msgstr") == m["fields"]["msgid"] and len(_words(m["fields"]["msgid"])) > 2
    ]
    assert same == []


def _words(text: str) -> list[str]:
    """The words of a message, placeholders aside."""
    return re.findall(r"[^\W\d_]+", re.sub(r"%\(\w+\)[sd]|\{\w*\}", " ", text))


def test_words_ignore_placeholders() -> None:
    assert _words("%(first)s – %(last)s") == []
    assert _words("Never shown after saving.") == ["Never", "shown", "after", "saving"]


def test_known_wrong_pairs_stay_fixed() -> None:
    """Entries once paired with another entry's English (the filter read "Awaiting payment")."""
    english = {m["fields"]["msgid"]: m["fields"].get("msgstr") for m in _messages()}
    assert english["Aguardando XML da NF-e"] == "Awaiting the NF-e XML"
    assert english["Regras do canal"] == "Channel rules"
    assert english["Pedidos parados"] == "Stalled orders"
    assert english["Pedido criado (canal %(channel)s)"] == "Order created (channel %(channel)s)"
    assert english["não"] == "no"
    by_english: dict[str, list[str]] = {}
    for msgid, msgstr in english.items():
        by_english.setdefault(str(msgstr), []).append(msgid)
    assert by_english["Awaiting payment"] == ["Aguardando pagamento"]
    assert by_english["Stalled order"] == ["Pedido parado"]
