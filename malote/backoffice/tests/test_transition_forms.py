"""The processing forms as a Brazilian operator uses them (issue 13): errors in the operator's
language with the code in small print, every error of a submit at once next to its field, dates
typed dd/mm/aaaa hh:mm, NF-e number and series read from the key, carriers and services from a
list prefilled from the order's shipping method, delivery in the shipment's minute, the NF-e to
cancel when an invoiced order is canceled, and what an out-of-stock order lacks per SKU."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from malote.backoffice import carriers, form_dates, form_messages
from malote.conftest import SYSTEM
from malote.fiscal.errors import FiscalErrorCode
from malote.fiscal.nfe_key import format_nfe_key, nfe_key_check_digit
from malote.orders import actions
from malote.orders.errors import OrdersErrorCode
from malote.orders.models import Order, OrderEvent
from malote.stock.models import StockItem
from malote_dev.testing.fiscal import SAMPLE_NFE_KEY
from malote_dev.testing.orders import bring_to, invoice_input

pytestmark = pytest.mark.django_db

WRONG_CHECK_DIGIT_KEY = SAMPLE_NFE_KEY[:43] + ("4" if SAMPLE_NFE_KEY[43] != "4" else "5")
EXPECTED_DIGIT = nfe_key_check_digit(SAMPLE_NFE_KEY[:43])
# SAMPLE_NFE_KEY carries NF-e 1234, series 1, issued in March 2025.
SAMPLE_ISSUED = "15/03/2025 10:30"


@pytest.fixture
def operator(user_with_role: Callable[[str], Any]) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def english(operator: Client) -> Client:
    operator.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"})
    return operator


def _url(order: Order, name: str) -> str:
    return f"/backoffice/orders/{order.pk}/process/{name}/"


def _errors(response: Any) -> dict[str, list[str]]:
    """Field name → error codes shown on it ("" for the form's own)."""
    form = response.context["form"]
    found = {item.name: [e["code"] for e in item.errors] for item in form.fields if item.errors}
    if form.errors:
        found[""] = [e["code"] for e in form.errors]
    return found


def _error_text(response: Any, name: str) -> str:
    return " ".join(e["detail"] for e in response.context["form"].get(name).errors)


def _value(response: Any, name: str) -> str:
    return str(response.context["form"].get(name).value)


# --- errors in the operator's language ---------------------------------------------------------------


def test_wrong_check_digit_reads_in_portuguese_with_the_code_small(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    response = operator.post(
        _url(order, "invoice"), {"key": WRONG_CHECK_DIGIT_KEY, "issued_at": SAMPLE_ISSUED}
    )
    assert response.status_code == 422
    assert _errors(response) == {"key": ["nfe_key_check_digit"]}
    expected = (
        f"Dígito verificador da chave inválido: é {WRONG_CHECK_DIGIT_KEY[43]}, deveria ser {EXPECTED_DIGIT}."
    )
    assert _error_text(response, "key") == expected
    html = response.content.decode()
    assert f'{expected} <small class="code hint">nfe_key_check_digit</small>' in html
    assert "check digit is" not in html  # the API's English detail never reaches the page


def test_wrong_check_digit_reads_in_english_when_chosen(english: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    response = english.post(
        _url(order, "invoice"), {"key": WRONG_CHECK_DIGIT_KEY, "issued_at": SAMPLE_ISSUED}
    )
    assert _error_text(response, "key") == (
        f"Invalid access key check digit: it is {WRONG_CHECK_DIGIT_KEY[43]}, it should be {EXPECTED_DIGIT}."
    )
    assert "Dígito" not in response.content.decode()


TRANSITION_CODES = [
    *(c for c in FiscalErrorCode if c.startswith(("nfe_key_", "nfe_xml_", "tracking_code_"))),
    OrdersErrorCode.NUL_CHARACTER, OrdersErrorCode.DATETIME_OUT_OF_RANGE, OrdersErrorCode.INVALID_DATETIME,
    OrdersErrorCode.INVOICE_NUMBER_ZERO, OrdersErrorCode.TRANSITION_NOT_ALLOWED,
    OrdersErrorCode.TRANSITION_CONFLICT, OrdersErrorCode.INSUFFICIENT_STOCK,
    OrdersErrorCode.DELIVERED_BEFORE_SHIPPED, OrdersErrorCode.INVOICE_KEY_IN_USE,
    OrdersErrorCode.INVOICE_NUMBER_MISMATCH, OrdersErrorCode.INVOICE_SERIES_MISMATCH,
    OrdersErrorCode.INVOICE_ISSUED_AT_MISMATCH, OrdersErrorCode.NFE_XML_TOTAL_MISMATCH,
    OrdersErrorCode.NFE_XML_RECIPIENT_MISMATCH, OrdersErrorCode.NFE_XML_NOT_AUTHORIZED,
    OrdersErrorCode.ORDER_NOT_FOUND, OrdersErrorCode.UNKNOWN_TRANSITION,
    "missing", "string_too_long", "string_too_short", "string_pattern_mismatch", "enum", "literal_error",
    "datetime_type", "datetime_parsing", "datetime_from_date_parsing", "decimal_parsing",
    "greater_than_equal", "decimal_max_digits", "decimal_max_places", "extra_forbidden",
]  # fmt: skip


@pytest.mark.parametrize("code", TRANSITION_CODES)
def test_every_transition_code_has_a_sentence_in_both_languages(code: str) -> None:
    assert code in form_messages.MESSAGES
    with translation.override("pt-br"):
        portuguese = form_messages.text(code)
    with translation.override("en"):
        english = form_messages.text(code)
    assert portuguese != english, f"{code} has no English translation"
    assert portuguese != str(form_messages.GENERIC)


def test_an_unknown_code_still_reads_as_a_sentence() -> None:
    with translation.override("pt-br"):
        assert form_messages.text("no_such_rule") == "Valor inválido."
        # Detailed sentences fall back to the plain one when a value is missing.
        assert form_messages.text("nfe_key_check_digit", given=7) == "Dígito verificador da chave inválido."


# --- every error of a submit at once ------------------------------------------------------------------


def test_all_errors_of_one_submit_are_shown_next_to_their_fields(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    data = {"key": WRONG_CHECK_DIGIT_KEY, "number": "abc", "series": "1", "issued_at": "32/13/2026 25:00"}
    response = operator.post(_url(order, "invoice"), data)
    assert response.status_code == 422
    assert _errors(response) == {
        "key": ["nfe_key_check_digit"],
        "number": ["string_pattern_mismatch"],
        "issued_at": ["invalid_datetime"],
    }
    assert _value(response, "issued_at") == "32/13/2026 25:00"  # kept for correction
    order.refresh_from_db()
    assert order.status == "paid"


def test_ship_shows_every_problem_at_once(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    response = operator.post(
        _url(order, "ship"),
        {"carrier": "correios", "method": "", "tracking_code": "AA123456784BR", "shipped_at": "ontem"},
    )
    assert _errors(response) == {
        "method": ["missing"],
        "tracking_code": ["tracking_code_check_digit"],
        "shipped_at": ["invalid_datetime"],
    }
    assert _error_text(response, "tracking_code") == (
        "Dígito verificador do código de rastreio inválido: é 4, deveria ser 5."
    )


# --- dates the Brazilian way --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("06/12/2026 21:40", (2026, 12, 6, 21, 40, 0)),
        ("6/12/2026 21h40", (2026, 12, 6, 21, 40, 0)),
        ("06/12/2026 21:40:15", (2026, 12, 6, 21, 40, 15)),
        ("06/12/2026", (2026, 12, 6, 0, 0, 0)),
        ("2026-12-06T21:40", (2026, 12, 6, 21, 40, 0)),  # what a datetime-local input sends
        ("2026-12-06T21:40:00-03:00", (2026, 12, 6, 21, 40, 0)),
    ],
)
def test_dates_typed_the_brazilian_way_are_read_in_sao_paulo(typed: str, expected: tuple[int, ...]) -> None:
    moment = form_dates.parse(typed)
    assert moment is not None
    local = timezone.localtime(moment)
    assert (local.year, local.month, local.day, local.hour, local.minute, local.second) == expected
    assert local.utcoffset() == timedelta(hours=-3)


@pytest.mark.parametrize(
    "typed", ["32/12/2026 10:00", "06/13/2026", "06/12/26 10:00", "amanhã", "06/12/2026 25:00"]
)
def test_what_is_no_date_is_refused(typed: str) -> None:
    assert form_dates.parse(typed) is None


def test_invoice_with_a_brazilian_date_and_the_key_in_groups_of_four(
    operator: Client, make_order: Any
) -> None:
    order = bring_to(make_order(), "paid")
    response = operator.post(
        _url(order, "invoice"), {"key": format_nfe_key(SAMPLE_NFE_KEY), "issued_at": SAMPLE_ISSUED}
    )
    assert response.status_code == 302, _errors(response)
    invoice = order.invoices.get()
    assert (invoice.key, invoice.number, invoice.series) == (SAMPLE_NFE_KEY, 1234, 1)  # read from the key
    assert form_dates.display(invoice.issued_at) == SAMPLE_ISSUED


def test_invoice_form_prefills_the_date_as_brazilians_write_it(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    form = operator.get(_url(order, "invoice")).context["form"]
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", form.get("issued_at").value)
    assert not form.get("number").required and not form.get("series").required


# --- number and series against the key ----------------------------------------------------------------


def test_number_and_series_given_must_agree_with_the_key(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    response = operator.post(
        _url(order, "invoice"),
        {"key": SAMPLE_NFE_KEY, "number": "999", "series": "2", "issued_at": SAMPLE_ISSUED},
    )
    assert _errors(response) == {"number": ["invoice_number_mismatch"], "series": ["invoice_series_mismatch"]}
    assert _error_text(response, "number") == "A chave traz a NF-e nº 1234, não 999."
    assert _error_text(response, "series") == "A chave traz a série 1, não 2."
    agreeing = operator.post(
        _url(order, "invoice"),
        {"key": SAMPLE_NFE_KEY, "number": "001234", "series": "001", "issued_at": SAMPLE_ISSUED},
    )
    assert agreeing.status_code == 302


def test_issue_date_outside_the_keys_month_names_both(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    response = operator.post(_url(order, "invoice"), {"key": SAMPLE_NFE_KEY, "issued_at": "15/04/2025 10:30"})
    assert _errors(response) == {"issued_at": ["invoice_issued_at_mismatch"]}
    assert _error_text(response, "issued_at") == (
        "A chave foi emitida em 03/2025; a data de emissão informada é de 04/2025."
    )


def test_a_key_of_another_order_names_and_links_that_order(operator: Client, make_order: Any) -> None:
    first = bring_to(make_order(), "paid")
    data = invoice_input(first)
    actions.run_transition(first.pk, "invoice", data, actor=SYSTEM)
    first.refresh_from_db()
    second = bring_to(make_order(), "paid")
    response = operator.post(
        _url(second, "invoice"),
        {"key": data["key"], "issued_at": form_dates.display(timezone.now())},
    )
    assert _errors(response) == {"key": ["invoice_key_in_use"]}
    link = f'<a href="/backoffice/orders/{first.pk}/">{first.number}</a>'
    assert f"Esta chave de NF-e já pertence ao pedido {link}." in response.content.decode()
    own = operator.post(_url(first, "invoice"), {"key": data["key"], "issued_at": data["issued_at"]})
    assert own.status_code == 302  # its own key again: the no-op repeat, no "in use"


# --- carriers and services from a list ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("Correios SEDEX", ("correios", "SEDEX")),
        ("Correios - Sedex 10", ("correios", "SEDEX 10")),
        ("PAC", ("correios", "PAC")),
        ("Mercado Envios 2", ("mercado_envios", "Mercado Envios")),
        ("B2W Entregas Direct", ("americanas_entrega", "B2W Entregas Direct")),
        ("Magalu Entregas", ("magalu_entregas", "Magalu Entregas")),
        ("Jadlog", ("jadlog", "")),
        ("Normal", ("", "")),
        ("", ("", "")),
    ],
)
def test_carrier_and_service_are_read_from_the_shipping_method(
    method: str, expected: tuple[str, str]
) -> None:
    assert carriers.guess(method) == expected


def test_ship_form_is_prefilled_from_the_orders_shipping_method(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")  # order_data ships "Correios SEDEX"
    response = operator.get(_url(order, "ship"))
    assert (_value(response, "carrier"), _value(response, "method")) == ("correios", "SEDEX")
    html = response.content.decode()
    assert '<option value="correios" selected>Correios</option>' in html
    assert '<optgroup label="Mercado Envios">' in html and '<option value="SEDEX Hoje">' in html


def test_ship_with_a_listed_carrier_and_service(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    response = operator.post(
        _url(order, "ship"), {"carrier": "correios", "method": "PAC", "tracking_code": "aa 123456785 br"}
    )
    assert response.status_code == 302, _errors(response)
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.method, shipment.tracking_code) == ("correios", "PAC", "AA123456785BR")


def test_a_service_of_another_carrier_is_refused(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    response = operator.post(
        _url(order, "ship"), {"carrier": "mercado_envios", "method": "SEDEX", "tracking_code": "MEL123"}
    )
    assert _errors(response) == {"method": ["shipping_service_mismatch"]}
    assert _error_text(response, "method") == "O serviço SEDEX é de Correios, não de Mercado Envios."


def test_other_carrier_and_service_are_typed(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    missing = operator.post(
        _url(order, "ship"), {"carrier": "outra", "method": "outro", "tracking_code": "X-1"}
    )
    assert _errors(missing) == {"carrier_other": ["missing"], "method_other": ["missing"]}
    typed = operator.post(
        _url(order, "ship"),
        {"carrier": "outra", "carrier_other": "Braspress", "method": "outro", "method_other": "Rodoviário",
         "tracking_code": "BP-778899"},
    )  # fmt: skip
    assert typed.status_code == 302, _errors(typed)
    shipment = order.shipments.get()
    assert (shipment.carrier, shipment.method, shipment.tracking_code) == (
        "Braspress",
        "Rodoviário",
        "BP-778899",
    )


def test_correios_code_in_the_wrong_shape_says_what_it_should_be(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    response = operator.post(
        _url(order, "ship"), {"carrier": "correios", "method": "SEDEX", "tracking_code": "123456"}
    )
    assert _errors(response) == {"tracking_code": ["tracking_code_format"]}
    assert "2 letras, 9 números e 2 letras" in _error_text(response, "tracking_code")


# --- delivery in the shipment's minute ----------------------------------------------------------------


def _shipped_at(make_order: Any, seconds: int) -> tuple[Order, Any]:
    order = bring_to(make_order(), "invoiced")
    left = (timezone.now() - timedelta(hours=1)).replace(second=seconds, microsecond=0)
    ship = {
        "carrier": "correios",
        "method": "SEDEX",
        "tracking_code": "AA123456785BR",
        "shipped_at": left.isoformat(),
    }
    actions.run_transition(order.pk, "ship", ship, actor=SYSTEM)
    return order, left


def test_delivery_typed_in_the_minute_of_the_shipment_is_accepted(operator: Client, make_order: Any) -> None:
    order, left = _shipped_at(make_order, seconds=37)
    # What the form shows and the operator confirms: the shipment's minute, without seconds.
    response = operator.post(_url(order, "deliver"), {"delivered_at": form_dates.display(left)})
    assert response.status_code == 302, _errors(response)
    order.refresh_from_db()
    assert order.status == "delivered"
    assert order.shipments.get().delivered_at == left  # not before the shipment left


def test_prefilled_delivery_right_after_shipping_is_accepted(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    shipped = operator.post(
        _url(order, "ship"), {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}
    )
    assert shipped.status_code == 302
    prefilled = _value(operator.get(_url(order, "deliver")), "delivered_at")
    response = operator.post(_url(order, "deliver"), {"delivered_at": prefilled})
    assert response.status_code == 302, _errors(response)


def test_delivery_before_the_shipment_names_both_times(operator: Client, make_order: Any) -> None:
    order, left = _shipped_at(make_order, seconds=37)
    before = left - timedelta(minutes=1)
    response = operator.post(_url(order, "deliver"), {"delivered_at": form_dates.display(before)})
    assert _errors(response) == {"delivered_at": ["delivered_before_shipped"]}
    assert _error_text(response, "delivered_at") == (
        f"A entrega ({form_dates.display(before)}) não pode ser antes do envio ({form_dates.display(left)})."
    )
    # Typed with seconds, the comparison is to the second.
    precise = operator.post(
        _url(order, "deliver"),
        {"delivered_at": form_dates.display(left - timedelta(seconds=1), seconds=True)},
    )
    assert _errors(precise) == {"delivered_at": ["delivered_before_shipped"]}
    order.refresh_from_db()
    assert order.status == "shipped"


# --- cancelling an invoiced order ------------------------------------------------------------------


def test_cancelling_an_invoiced_order_warns_and_requires_the_nfe_choice(
    operator: Client, make_order: Any
) -> None:
    order = bring_to(make_order(), "invoiced")
    invoice = order.invoices.get()
    page = operator.get(_url(order, "cancel"))
    warning = page.context["form"].warning
    assert f"NF-e nº {invoice.number} (série {invoice.series})" in warning and "evento 110111" in warning
    assert 'data-warning="nfe"' in page.content.decode()
    refused = operator.post(_url(order, "cancel"), {"reason": "customer_gave_up"})
    assert _errors(refused) == {"nfe_action": ["missing"]}
    order.refresh_from_db()
    assert order.status == "invoiced"
    done = operator.post(_url(order, "cancel"), {"reason": "customer_gave_up", "nfe_action": "return_nfe"})
    assert done.status_code == 302, _errors(done)
    event = OrderEvent.objects.filter(order=order, transition="cancel").get()
    assert event.data["input"]["nfe_action"] == "return_nfe"


def test_an_unknown_nfe_choice_is_refused(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    response = operator.post(_url(order, "cancel"), {"reason": "customer_gave_up", "nfe_action": "ignore"})
    assert _errors(response) == {"nfe_action": ["literal_error"]}


def test_the_24_hours_are_said_to_be_over(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    order.invoices.update(issued_at=timezone.now() - timedelta(days=2))
    warning = operator.get(_url(order, "cancel")).context["form"].warning
    assert "O prazo de 24 h terminou" in warning


def test_an_uninvoiced_order_is_canceled_without_the_nfe_question(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    page = operator.get(_url(order, "cancel"))
    assert page.context["form"].get("nfe_action") is None and page.context["form"].warning == ""
    done = operator.post(_url(order, "cancel"), {"reason": "customer_gave_up", "nfe_action": "cancel_nfe"})
    assert done.status_code == 302
    assert "nfe_action" not in OrderEvent.objects.get(order=order, transition="cancel").data["input"]


# --- what an out-of-stock order lacks -----------------------------------------------------------------


def test_out_of_stock_order_says_what_is_missing_per_sku(operator: Client, make_order: Any) -> None:
    order = make_order(physical=0)
    actions.run_transition(order.pk, "approve_payment", {}, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == "out_of_stock"
    line = order.lines.get()
    expected = f"faltam {line.quantity} un. de {line.sku}"
    page = operator.get(f"/backoffice/orders/{order.pk}/").content.decode()
    assert expected in page and f'data-missing="{line.quantity}"' in page
    form_page = operator.get(_url(order, "cancel")).content.decode()
    assert expected in form_page
    StockItem.objects.filter(sku=line.sku).update(physical=line.quantity - 1)
    assert f"falta 1 un. de {line.sku}" in operator.get(f"/backoffice/orders/{order.pk}/").content.decode()


def test_an_order_with_its_stock_says_nothing_is_missing(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "paid")
    assert "falta" not in operator.get(f"/backoffice/orders/{order.pk}/").content.decode()


# --- money typed with a comma -------------------------------------------------------------------------


def test_amount_with_a_decimal_comma(operator: Client, make_order: Any) -> None:
    order = make_order()
    response = operator.post(_url(order, "approve_payment"), {"amount": "1.114,80"})
    assert response.status_code == 302, _errors(response)
    assert str(order.payments.order_by("-id").first().amount) == "1114.80"


# --- ready to ship, and what the command still refuses -----------------------------------------------


def test_ready_to_ship_takes_the_carrier_from_the_list_or_none(operator: Client, make_order: Any) -> None:
    order = bring_to(make_order(), "invoiced")
    assert _value(operator.get(_url(order, "ready_to_ship")), "carrier") == "correios"
    unknown = operator.post(_url(order, "ready_to_ship"), {"carrier": "teletransporte"})
    assert _errors(unknown) == {"carrier": ["enum"]}
    response = operator.post(_url(order, "ready_to_ship"), {"carrier": "", "collection_code": "COL-9"})
    assert response.status_code == 302, _errors(response)
    assert order.shipments.get().carrier == ""


def test_a_refusal_of_the_command_reads_as_a_sentence_and_names_the_order(make_order: Any) -> None:
    from malote.backoffice.transition_forms import attach_error, build_form
    from malote.core.errors import Conflict
    from malote.orders.lifecycle import TRANSITIONS

    holder = bring_to(make_order(), "invoiced")
    key = holder.invoices.get().key
    order = bring_to(make_order(), "paid")
    form = build_form(TRANSITIONS["invoice"], order)
    refused = Conflict("This NF-e key already belongs to another order.", code="invoice_key_in_use")
    with translation.override("pt-br"):
        attach_error(form, refused, order, {"key": key})
        attach_error(form, Conflict("x", code="insufficient_stock", extra={"skus": ["BONE-AZUL"]}), order, {})
    key_field = form.get("key")
    assert key_field is not None
    assert key_field.errors == [
        {
            "code": "invoice_key_in_use",
            "detail": f'Esta chave de NF-e já pertence ao pedido <a href="/backoffice/orders/{holder.pk}/">'
            f"{holder.number}</a>.",
        }
    ]
    assert form.errors == [
        {"code": "insufficient_stock", "detail": "Sem estoque suficiente para: BONE-AZUL."}
    ]
