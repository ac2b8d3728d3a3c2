"""What an operator reads on a back-office page, and the words that give away the wrong language.

Shared by the Django-client translation test (``test_translation_pages.py``) and the browser one
(``test_browser_languages.py``), so both apply the same rule to the same text.

*Visible text* is the page's text nodes plus the attributes a person reads (``title`` tooltips,
``placeholder``, ``aria-label``, ``alt``, the ``value`` of buttons), without:

- ``<script>``, ``<style>``, ``<template>``, ``<textarea>`` (edited data such as a channel's JSON
  options) and ``<head>`` other than ``<title>``;
- codes kept for machines, shown on purpose: ``<code>``, ``<kbd>``, ``<samp>``, any element with
  the class ``code`` or ``mono`` (SKUs, keys, ids), anything marked ``translate="no"``, and a
  ``title`` tooltip that holds only a code (``title="last_error"``);
- text in another language on purpose: an element whose ``lang`` differs from the page's (the
  language switch names each language in itself: "English", "Português (Brasil)").

Data (customer and product names, addresses, channel names, notes typed by people) is the test's
business: it passes the strings it created, and they are blanked before the words are matched.
Numbers and SKUs never match a word of the lists; e-mail addresses are blanked too.

The word lists hold words that exist in one language only (so "status", "token", "gateway",
"marketplace", "help desk", "no", "total", which pt-BR uses too, are left out). A match is a whole
word, case-insensitive, accents included; ``PORTUGUESE_MARKS`` also catches any English-mode word
carrying a letter English never writes (ã, õ, ç, ê…), such as "ção" endings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser

# Read in English mode: a Portuguese word there is a string the catalog does not translate.
# fmt: off
PORTUGUESE_ONLY = frozenset(
    [
        "pedido", "pedidos", "encomenda", "encomendas", "aguardando", "pagamento", "pagamentos", "pago",
        "faturado", "faturar", "cancelado", "cancelados", "cancelar", "entregue", "entregues", "enviado",
        "enviados", "envio", "envios", "canal", "canais", "estoque", "cliente", "clientes", "não", "sim",
        "nenhum", "nenhuma", "sem", "usuário", "usuários", "histórico", "mensagem", "mensagens", "falha",
        "falhas", "falhou", "integração", "integrações", "exceções", "painel", "transportadora",
        "rastreio", "endereço", "cobrança", "entrega", "nota", "fiscal", "voltar", "confirmar", "buscar",
        "filtrar", "limpar", "salvar", "ajustar", "entrar", "sair", "senha", "perfil", "ação", "ações",
        "você", "está", "parado", "parados", "divergente", "divergência", "sincronização", "último",
        "última", "próxima", "anterior", "página", "páginas", "quando", "por", "para", "com", "tentativas",
        "tentar", "reenviar", "aceitar", "descartar", "motivo", "vínculo", "vínculos", "problema",
        "problemas", "análise", "separação", "trânsito", "vencido", "recusado", "pendente", "aberto",
        "resolvido", "chamado", "criado", "em", "de", "do", "da", "dos", "das", "ao", "aos", "lá", "já",
        "ainda", "agora", "também",
    ]
)
# fmt: on

# Read in pt-BR mode: an English word there is a string left untranslated (or an English msgid).
# fmt: off
ENGLISH_ONLY = frozenset(
    [
        "order", "orders", "payment", "payments", "paid", "stock", "shipped", "shipping", "shipment",
        "shipments", "delivered", "delivery", "canceled", "cancelled", "cancel", "awaiting", "stalled",
        "invoice", "invoiced", "customer", "customers", "channel", "channels", "none", "yes", "pending",
        "failed", "failure", "failures", "error", "errors", "retry", "search", "filter", "save", "sign",
        "user", "users", "role", "change", "changes", "page", "pages", "cursor", "dashboard", "queue",
        "queued", "inbox", "outbox", "lag", "last", "never", "sent", "received", "created", "updated",
        "found", "missing", "disabled", "enabled", "settings", "the", "and", "of", "with", "without", "by",
        "at", "from", "to", "in", "on", "is", "are", "was", "not",
    ]
)
# fmt: on
# Phrases of more than one word, read in pt-BR mode too.
ENGLISH_PHRASES = ("dead letter", "dead-letter")

# A letter English never writes: any word carrying one, in English mode, is Portuguese.
PORTUGUESE_MARKS = re.compile(r"[ãõçâêôáéíóúà]", re.IGNORECASE)

# A raw internal code shown as prose: snake_case words, "channel:tiny", "order.order".
RAW_CODE = re.compile(
    r"(?<![\w@./:-])(?:[a-z]+(?:_[a-z0-9]+)+|[a-z]+:[a-z][a-z0-9_]*|[a-z]{2,}\.[a-z_]{2,})(?![\w@/:-])"
)
# Codes people write too: the date-and-time hint of the forms ("dd/mm/aaaa hh:mm").
NOT_CODES = frozenset({"hh:mm"})
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# A tooltip holding only a code (the machine name of what the element shows) is where codes belong.
TOOLTIP_CODE = re.compile(r"[a-z][a-z0-9]*(?:[_:.-][a-z0-9]+)+")

WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)
SKIPPED_ELEMENTS = frozenset({"script", "style", "template", "textarea", "code", "kbd", "samp"})
SKIPPED_CLASSES = frozenset({"code", "mono"})
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page_lang = ""
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, hides its content)
        self._in_head = False
        self._in_title = False

    @property
    def _hidden(self) -> bool:
        return any(hidden for _, hidden in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.page_lang = found.get("lang", "").lower()
            return
        if tag == "head":
            self._in_head = True
        if tag == "title":
            self._in_title = True
        lang = found.get("lang", "").lower()
        hides = (
            tag in SKIPPED_ELEMENTS
            or bool(SKIPPED_CLASSES & set(found.get("class", "").split()))
            or found.get("translate", "").lower() == "no"
            or bool(lang and self.page_lang and lang.split("-")[0] != self.page_lang.split("-")[0])
            or "hidden" in found
            or (tag == "input" and found.get("type", "").lower() == "hidden")
        )
        if not hides and not self._hidden and not self._in_head:
            for name in READ_ATTRIBUTES:
                if found.get(name) and not (name == "title" and TOOLTIP_CODE.fullmatch(found[name])):
                    self.parts.append(found[name])
            if tag == "input" and found.get("type", "").lower() in {"submit", "button", "reset"}:
                self.parts.append(found.get("value", ""))
        if tag not in VOID:
            self._stack.append((tag, hides))

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        if tag == "title":
            self._in_title = False
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self._hidden or (self._in_head and not self._in_title):
            return
        self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a person reads on the page (see the module docstring), whitespace collapsed."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return " ".join(" ".join(collector.parts).split())


@dataclass(frozen=True)
class Finding:
    page: str
    language: str
    word: str
    context: str

    def __str__(self) -> str:
        return f"[{self.language}] {self.page}: {self.word!r} in “{self.context}”"


def _blank(text: str, data: Iterable[str]) -> str:
    for value in sorted({d for d in data if d}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", " ", text, flags=re.IGNORECASE)
    return text


def _context(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - 40) : end + 40].split())


def wrong_words(text: str, language: str, *, page: str, data: Iterable[str] = ()) -> list[Finding]:
    """Words of the other language (and raw codes) in ``text``, read as a page in ``language``
    (``"pt-br"`` or ``"en"``); ``data`` strings are blanked first."""
    text = EMAIL.sub(" ", _blank(text, data))
    findings = [
        Finding(page, language, match.group(0), _context(text, match.start(), match.end()))
        for match in RAW_CODE.finditer(text)
        if match.group(0) not in NOT_CODES
    ]
    text = RAW_CODE.sub(" ", text)  # a code counts once, as a code, not again for its words
    english = language.startswith("en")
    for match in WORD.finditer(text):
        word = match.group(0)
        lowered = word.lower()
        if english:
            wrong = lowered in PORTUGUESE_ONLY or bool(PORTUGUESE_MARKS.search(word))
        else:
            wrong = lowered in ENGLISH_ONLY
        if wrong:
            findings.append(Finding(page, language, word, _context(text, match.start(), match.end())))
    if not english:
        for phrase in ENGLISH_PHRASES:
            for match in re.finditer(phrase, text, re.IGNORECASE):
                findings.append(Finding(page, language, phrase, _context(text, match.start(), match.end())))
    return findings
