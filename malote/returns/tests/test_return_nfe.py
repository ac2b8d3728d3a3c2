"""The return NF-e: a valid key, and an XML that is a return of the order's own NF-e."""

from __future__ import annotations

import pytest

from malote.core.errors import Conflict, InvalidInput
from malote.orders.models import Invoice, Order
from malote.returns import actions
from malote.returns.models import Return
from malote_dev.testing.fiscal import build_nfe_xml, make_nfe_key
from malote_dev.testing.nfe_tax_reform import with_tax_reform
from malote_dev.testing.orders import SYSTEM

pytestmark = pytest.mark.django_db

RETURN_KEY = make_nfe_key(5678, year=2026, month=11)


@pytest.fixture
def ret(delivered: Order) -> Return:
    payload = {"reason": "regret", "lines": [{"position": 1, "quantity": 1}]}
    return actions.create_return(delivered.pk, payload, actor=SYSTEM)


def order_key(ret: Return) -> str:
    return Invoice.objects.get(order_id=ret.order_id).key


def return_xml(referenced: str, *, purpose: str = "4", key: str = RETURN_KEY) -> str:
    plain = build_nfe_xml(key, ide_overrides={"finNFe": purpose, "tpNF": "0"})
    return with_tax_reform(plain, referenced_keys=[referenced])


def attach(ret: Return, key: str, xml: str | None = None) -> Return:
    return actions.attach_return_nfe(ret.pk, {"key": key, "xml": xml}, actor=SYSTEM).ret


def test_a_valid_key_is_attached(ret: Return) -> None:
    assert attach(ret, RETURN_KEY).nfe_key == RETURN_KEY
    assert actions.attach_return_nfe(ret.pk, {"key": RETURN_KEY}, actor=SYSTEM).applied is False


def test_a_key_with_a_wrong_check_digit_is_refused(ret: Return) -> None:
    wrong = RETURN_KEY[:43] + str((int(RETURN_KEY[43]) + 1) % 10)
    with pytest.raises(InvalidInput) as refused:
        attach(ret, wrong)
    assert refused.value.code == "nfe_key_check_digit"


def test_the_orders_own_key_is_not_its_return(ret: Return) -> None:
    with pytest.raises(InvalidInput) as refused:
        attach(ret, order_key(ret))
    assert refused.value.code == "return_nfe_key_is_orders"


def test_the_xml_of_a_return_of_the_orders_nfe(ret: Return) -> None:
    attached = attach(ret, RETURN_KEY, return_xml(order_key(ret)))
    assert attached.nfe_xml.startswith("<?xml")


def test_an_xml_that_is_no_return_is_refused(ret: Return) -> None:
    with pytest.raises(InvalidInput) as refused:
        attach(ret, RETURN_KEY, build_nfe_xml(RETURN_KEY))
    assert refused.value.code == "return_nfe_not_a_return"
    assert Return.objects.get(pk=ret.pk).nfe_key == ""


def test_a_return_of_another_nfe_is_refused(ret: Return) -> None:
    with pytest.raises(InvalidInput) as refused:
        attach(ret, RETURN_KEY, return_xml(make_nfe_key(9999)))
    assert refused.value.code == "return_nfe_wrong_reference"


def test_the_xml_must_be_the_keys(ret: Return) -> None:
    with pytest.raises(InvalidInput) as refused:
        attach(ret, RETURN_KEY, return_xml(order_key(ret), key=make_nfe_key(4321)))
    assert refused.value.code == "nfe_xml_key_mismatch"


def test_another_key_once_one_is_attached_conflicts(ret: Return) -> None:
    attach(ret, RETURN_KEY)
    with pytest.raises(Conflict) as refused:
        attach(ret, make_nfe_key(4321))
    assert refused.value.code == "return_nfe_conflict"
