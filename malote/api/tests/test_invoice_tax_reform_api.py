"""The order detail carries what the 2026 NF-e says: purpose, direction, the returned key and
the IBS/CBS totals and items, as read from the XML; an invoice without the groups has them null."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from malote.api.tests.helpers import ORDERS
from malote.conftest import SYSTEM, ApiClient
from malote.orders import actions
from malote.orders.models import Order
from malote_dev.testing.nfe_tax_reform import reform_invoice_input
from malote_dev.testing.orders import bring_to

pytestmark = pytest.mark.django_db


def _invoiced(make_order: Callable[..., Order], *, groups: bool) -> Order:
    order = bring_to(make_order(), "paid")
    data = reform_invoice_input(order.total, order.customer_document, groups=groups)
    actions.run_transition(order.pk, "invoice", data, actor=SYSTEM)
    return order


def test_the_order_detail_shows_the_ibs_and_cbs_of_its_nfe(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = _invoiced(make_order, groups=True)
    invoice = api.get(f"{ORDERS}/{order.pk}").json()["invoice"]
    assert (invoice["purpose"], invoice["direction"], invoice["referenced_key"]) == ("1", "1", "")
    assert (invoice["ibs_cbs_base"], invoice["ibs_total"], invoice["cbs_total"]) == ("120.00", "0.11", "0.97")
    first = invoice["tax_reform_items"][0]
    assert (first["code"], first["class_code"], first["cst"], first["cbs_value"]) == (
        "CHINELO-42",
        "000001",
        "000",
        "0.90",
    )


def test_an_nfe_without_the_groups_has_no_ibs_or_cbs(
    api: ApiClient, make_order: Callable[..., Order]
) -> None:
    order = _invoiced(make_order, groups=False)
    invoice = api.get(f"{ORDERS}/{order.pk}").json()["invoice"]
    assert invoice["purpose"] == "1"
    assert invoice["ibs_total"] is None and invoice["cbs_total"] is None
    assert invoice["tax_reform_items"] == []
