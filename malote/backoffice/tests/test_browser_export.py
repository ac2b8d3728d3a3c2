"""Export for billing from the order list in a real headless Chromium: open the export menu, download
the pt-BR CSV and the XLSX per order line, and read both back as a spreadsheet program would.

Screenshots go to ``var/screenshots/export/`` (not committed).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.conf import settings

from malote.backoffice.tests.test_browser import browser, page_as, server  # noqa: F401 (fixtures)
from malote.sync.tests.processes import python

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "export"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Ship one of the seeded orders (NF-e, tracking code); print what the export must show, per order.
FACTS = """
import json
from django.utils import timezone
from malote.orders.models import Invoice, Order
from malote_dev.testing.orders import bring_to
bring_to(Order.objects.get(external_id="02-704319102"), "shipped")
facts = {}
for order in Order.objects.order_by("placed_at", "id"):
    invoice = Invoice.objects.filter(order=order).first()
    facts[order.number] = {
        "total": str(order.total),
        "placed_at": timezone.localtime(order.placed_at).strftime("%d/%m/%Y %H:%M"),
        "placed_at_iso": timezone.localtime(order.placed_at).replace(tzinfo=None).isoformat(),
        "key": invoice.key if invoice else "",
    }
print(json.dumps(facts))
"""


def _download(page: Any, link: str) -> bytes:
    if page.locator("details.export-menu[open]").count() == 0:  # it stays open after a download
        page.click("details.export-menu summary")
    with page.expect_download() as download_info:
        page.click(f"details.export-menu a:has-text('{link}')")
    download = download_info.value
    assert download.failure() is None
    return Path(download.path()).read_bytes()


def test_operator_exports_for_billing_and_reads_the_files_back(page_as: Any, server: dict[str, Any]) -> None:  # noqa: F811
    facts = python(server["env"], FACTS)
    page = page_as("operator")
    page.click("details.export-menu summary")
    page.wait_for_selector("details.export-menu[open] ul a")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "order-list-export-menu.png"), full_page=True)
    page.click("details.export-menu summary")  # closed again

    raw = _download(page, "CSV — um pedido por linha")
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Pedido", "Pedido na loja", "Canal"]
    exported = {row["Pedido"]: row for row in (dict(zip(rows[0], r, strict=True)) for r in rows[1:])}
    assert set(exported) == set(facts)
    for number, fact in facts.items():
        text = exported[number]
        assert Decimal(text["Total"].replace(",", ".")) == Decimal(fact["total"])
        assert text["Criado em"] == fact["placed_at"]  # São Paulo time, dd/mm/aaaa hh:mm
        assert text["Chave de acesso"].replace(" ", "") == fact["key"]
    shipped = next(row for row in exported.values() if row["Rastreio"])
    assert (shipped["Status"], shipped["Rastreio"]) == ("Enviado", "AA123456785BR")

    workbook = openpyxl.load_workbook(io.BytesIO(_download(page, "Excel (XLSX) — um item por linha")))
    sheet: Any = workbook.active
    header = [cell.value for cell in sheet[1]]
    assert header[-6:] == [
        "SKU",
        "Descrição",
        "Quantidade",
        "Preço unitário",
        "Desconto do item",
        "Total do item",
    ]
    for cells in sheet.iter_rows(min_row=2):
        cell: dict[Any, Any] = dict(zip(header, cells, strict=True))
        fact = facts[cell["Pedido"].value]
        assert cell["Total"].data_type == "n"
        assert Decimal(str(cell["Total"].value)) == Decimal(fact["total"])
        assert cell["Criado em"].is_date
        assert cell["Criado em"].value == datetime.fromisoformat(fact["placed_at_iso"])
        assert cell["Chave de acesso"].value in ({fact["key"]} if fact["key"] else {None})
        assert cell["Quantidade"].value == 2
