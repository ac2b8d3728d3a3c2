"""The order list exported for people (billing, finance): a CSV that a spreadsheet in the user's
language opens right, and an XLSX with typed cells. One row per order, or one per order line.

CSV, pt-BR (the default): ``;`` between cells and comma decimals (``1234,56``, no thousands
separator), as Excel and LibreOffice in pt-BR read a ``.csv``; times ``dd/mm/aaaa hh:mm``. CSV,
English: ``,`` and dot decimals (``1234.56``), times ``yyyy-mm-dd hh:mm`` (unambiguous; an
English Excel would read ``05/11`` as May 11). Both: UTF-8 with a BOM (without it Excel reads
UTF-8 as Windows-1252), times in the shop's zone (``TIME_ZONE``, America/Sao_Paulo), headers,
statuses and payment methods as labels in the user's language, CPF/CNPJ masked, the NF-e key in
the DANFE's groups of 4 (a spreadsheet would turn 44 bare digits into ``3,5E+43``).

XLSX (openpyxl, write-only): money as number cells (``#,##0.00``), times as date cells, the NF-e
key and every identifier as text cells, a bold frozen header row and set column widths.

Every text cell — CSV or XLSX — goes through ``malote.orders.export.neutralise`` (formula
injection), and XLSX text cells are also typed as strings: openpyxl would store a text starting
with ``=`` as a formula.

One row per line: the order's columns on every line, its amounts (subtotal, shipping, discount,
total, the NF-e's IBS and CBS) on its first line only, so summing a money column still gives the
orders' totals.

Memory stays flat: rows come from one query read ``CHUNK`` at a time; the CSV is yielded in
blocks, and the XLSX rows go to openpyxl's temporary file, then the file is streamed in blocks.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from malote import fiscal
from malote.orders import export
from malote.orders.export import neutralise, with_last_invoice_and_shipment
from malote.orders.models import InvoicePurpose, Order
from malote.orders.serializers import format_document
from malote.orders.statuses import OrderStatus, PaymentMethod

BOM = "\ufeff"
CSV_BLOCK_ROWS = 200
FILE_BLOCK_BYTES = 64 * 1024
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = "#,##0.00"


class Kind(StrEnum):
    TEXT = "text"
    MONEY = "money"
    MOMENT = "moment"
    INTEGER = "integer"


@dataclass(frozen=True)
class Column:
    key: str
    header: Promise
    kind: Kind
    width: int


ORDER_COLUMNS = [
    Column("number", _("Pedido"), Kind.TEXT, 12),
    Column("external_id", _("Pedido na loja"), Kind.TEXT, 18),
    Column("channel", _("Canal"), Kind.TEXT, 18),
    Column("marketplace", _("Marketplace"), Kind.TEXT, 16),
    Column("status", _("Status"), Kind.TEXT, 20),
    Column("placed_at", _("Criado em"), Kind.MOMENT, 17),
    Column("customer_name", _("Cliente"), Kind.TEXT, 28),
    Column("customer_document", _("CPF/CNPJ"), Kind.TEXT, 20),
    Column("customer_email", _("E-mail"), Kind.TEXT, 28),
    Column("subtotal", _("Subtotal"), Kind.MONEY, 12),
    Column("shipping_price", _("Frete"), Kind.MONEY, 12),
    Column("discount", _("Desconto"), Kind.MONEY, 12),
    Column("total", _("Total"), Kind.MONEY, 12),
    Column("payment_method", _("Pagamento"), Kind.TEXT, 18),
    Column("invoice_number", _("NF-e"), Kind.INTEGER, 10),
    Column("invoice_series", _("Série"), Kind.INTEGER, 6),
    Column("invoice_issued_at", _("Emitida em"), Kind.MOMENT, 17),
    Column("invoice_key", _("Chave de acesso"), Kind.TEXT, 56),
    Column("invoice_purpose", _("Finalidade"), Kind.TEXT, 16),
    Column("invoice_ibs_total", _("IBS"), Kind.MONEY, 12),
    Column("invoice_cbs_total", _("CBS"), Kind.MONEY, 12),
    Column("carrier", _("Transportadora"), Kind.TEXT, 18),
    Column("tracking_code", _("Rastreio"), Kind.TEXT, 18),
]
LINE_COLUMNS = [
    Column("line_sku", _("SKU"), Kind.TEXT, 18),
    Column("line_name", _("Descrição"), Kind.TEXT, 36),
    Column("line_quantity", _("Quantidade"), Kind.INTEGER, 11),
    Column("line_unit_price", _("Preço unitário"), Kind.MONEY, 14),
    Column("line_discount", _("Desconto do item"), Kind.MONEY, 14),
    Column("line_total", _("Total do item"), Kind.MONEY, 14),
]
# On one row per line, the order's amounts appear on its first line only.
ORDER_AMOUNTS = frozenset(
    {"subtotal", "shipping_price", "discount", "total", "invoice_ibs_total", "invoice_cbs_total"}
)


@dataclass(frozen=True)
class Style:
    """How a language's spreadsheets read a CSV: separator, decimal mark, date-time form."""

    delimiter: str
    decimal_mark: str
    moment_format: str  # strftime, for CSV cells
    xlsx_moment_format: str  # Excel number format, for XLSX date cells


PT_BR = Style(
    delimiter=";", decimal_mark=",", moment_format="%d/%m/%Y %H:%M", xlsx_moment_format="dd/mm/yyyy hh:mm"
)
ENGLISH = Style(
    delimiter=",", decimal_mark=".", moment_format="%Y-%m-%d %H:%M", xlsx_moment_format="yyyy-mm-dd hh:mm"
)


def style_for(language: str | None) -> Style:
    """English for ``en`` and its variants; pt-BR, the default, for anything else."""
    return ENGLISH if (language or "").lower().split("-")[0] == "en" else PT_BR


@dataclass(frozen=True)
class BillingExport:
    """An export ready to stream: its byte chunks, content type and file name."""

    chunks: Iterator[bytes]
    content_type: str
    filename: str


@dataclass(frozen=True)
class _Labels:
    """Everything language-dependent, resolved before streaming starts (the response is iterated
    after the view returned, when the request's language may no longer be active)."""

    headers: list[str]
    statuses: dict[str, str]
    payment_methods: dict[str, str]
    purposes: dict[str, str]
    filename: str


def _labels(columns: list[Column], language: str, per_line: bool) -> _Labels:
    with translation.override(language):
        return _Labels(
            headers=[str(c.header) for c in columns],
            statuses={s.value: str(s.label) for s in OrderStatus},
            payment_methods={m.value: str(m.label) for m in PaymentMethod},
            purposes={p.value: str(p.label) for p in InvoicePurpose},
            filename=str(_("pedidos-itens") if per_line else _("pedidos")),
        )


def _rows(qs: QuerySet[Order], per_line: bool) -> Iterator[dict[str, Any]]:
    """One dict per order (or per order line), oldest order first, read ``CHUNK`` at a time."""
    fields = [c.key for c in ORDER_COLUMNS if c.key != "channel"]
    rows = with_last_invoice_and_shipment(qs.order_by()).annotate(channel_name=F("channel__name"))
    if per_line:
        # A LEFT JOIN: an order without lines still gets its one row.
        rows = rows.annotate(
            line_sku=F("lines__sku"),
            line_name=F("lines__name"),
            line_quantity=F("lines__quantity"),
            line_unit_price=F("lines__unit_price"),
            line_discount=F("lines__discount"),
        ).order_by("placed_at", "id", "lines__position")
        fields += ["line_sku", "line_name", "line_quantity", "line_unit_price", "line_discount"]
    else:
        rows = rows.order_by("placed_at", "id")
    previous_order = None
    for row in rows.values("id", "channel_name", *fields).iterator(chunk_size=export.CHUNK):
        row["channel"] = row.pop("channel_name")
        if per_line:
            first_line = row["id"] != previous_order
            previous_order = row["id"]
            if not first_line:
                for key in ORDER_AMOUNTS:
                    row[key] = None
            if row["line_quantity"] is not None:
                row["line_total"] = row["line_unit_price"] * row["line_quantity"] - row["line_discount"]
            else:
                row["line_total"] = None
        yield row


def _texts(row: dict[str, Any], labels: _Labels, *, grouped_key: bool) -> dict[str, Any]:
    """The row's codes as people read them: labels, masked CPF/CNPJ, the key (grouped for CSV)."""
    shown = dict(row)
    shown["status"] = labels.statuses.get(row["status"], row["status"])
    shown["payment_method"] = labels.payment_methods.get(row["payment_method"], row["payment_method"])
    shown["customer_document"] = format_document(row["customer_document"] or "")
    shown["invoice_purpose"] = labels.purposes.get(row["invoice_purpose"] or "", row["invoice_purpose"])
    if row["invoice_key"] and grouped_key:
        shown["invoice_key"] = fiscal.format_nfe_key(row["invoice_key"])
    return shown


def _local(moment: datetime) -> datetime:
    return timezone.localtime(moment, timezone.get_default_timezone())


# --- CSV ---------------------------------------------------------------------------------------


def _csv_cell(value: Any, kind: Kind, style: Style) -> str:
    """A CSV cell. Money, integers and times Malote produced are written in the style's form (they
    cannot carry a formula); every text value is neutralised."""
    if value is None:
        return ""
    if kind is Kind.MONEY and isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", style.decimal_mark)
    if kind is Kind.MOMENT and isinstance(value, datetime):
        return _local(value).strftime(style.moment_format)
    if kind is Kind.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return neutralise(str(value))


def _csv(
    rows: Iterator[dict[str, Any]], columns: list[Column], labels: _Labels, style: Style
) -> Iterator[bytes]:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=style.delimiter)
    writer.writerow(labels.headers)
    for index, row in enumerate(rows):
        shown = _texts(row, labels, grouped_key=True)
        writer.writerow([_csv_cell(shown[c.key], c.kind, style) for c in columns])
        if index % CSV_BLOCK_ROWS == CSV_BLOCK_ROWS - 1:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


# --- XLSX --------------------------------------------------------------------------------------


def _text_cell(sheet: WriteOnlyWorksheet, value: str) -> Cell:
    # XML 1.0 cannot carry most control characters: openpyxl refuses them, so they are dropped.
    cell = WriteOnlyCell(sheet, value=neutralise(ILLEGAL_CHARACTERS_RE.sub("", value)))
    cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any, kind: Kind, style: Style) -> Cell:
    if value is None:
        return WriteOnlyCell(sheet, value=None)
    if kind is Kind.MONEY and isinstance(value, Decimal):
        # A spreadsheet number is a binary double whatever is written: two decimals survive it.
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = MONEY_FORMAT
        return cell
    if kind is Kind.MOMENT and isinstance(value, datetime):
        # Excel has no time zones: the shop's local wall-clock time, as the CSV shows it.
        cell = WriteOnlyCell(sheet, value=_local(value).replace(tzinfo=None))
        cell.number_format = style.xlsx_moment_format
        return cell
    if kind is Kind.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        return WriteOnlyCell(sheet, value=value)
    return _text_cell(sheet, str(value))


def _xlsx(
    rows: Iterator[dict[str, Any]], columns: list[Column], labels: _Labels, style: Style, title: str
) -> Iterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for text in labels.headers:
        cell = _text_cell(sheet, text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        shown = _texts(row, labels, grouped_key=False)
        sheet.append([_xlsx_cell(sheet, shown[c.key], c.kind, style) for c in columns])
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while block := file.read(FILE_BLOCK_BYTES):
            yield block


# --- entry point -------------------------------------------------------------------------------


def billing_export(qs: QuerySet[Order], fmt: str, *, language: str, per_line: bool = False) -> BillingExport:
    """The orders of ``qs`` for people, in ``language`` (``pt-br`` or ``en``): ``fmt`` ``xlsx`` or
    ``csv`` (anything else); one row per order, or per order line with ``per_line``."""
    columns = ORDER_COLUMNS + LINE_COLUMNS if per_line else ORDER_COLUMNS
    labels = _labels(columns, language, per_line)
    style = style_for(language)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    rows = _rows(qs, per_line)
    if fmt == "xlsx":
        title = labels.filename.capitalize()
        return BillingExport(
            _xlsx(rows, columns, labels, style, title), XLSX_CONTENT_TYPE, f"{labels.filename}-{stamp}.xlsx"
        )
    return BillingExport(
        _csv(rows, columns, labels, style), "text/csv; charset=utf-8", f"{labels.filename}-{stamp}.csv"
    )
