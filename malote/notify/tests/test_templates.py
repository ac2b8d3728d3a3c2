"""Money formatting, the shipped defaults, the seeded rows and the operator's template form."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from malote.notify import defaults, rendering
from malote.notify.admin import EmailTemplateForm
from malote.notify.formatting import format_money
from malote.notify.models import EmailTemplate
from malote.notify.statuses import CustomerStatus, ReturnEmail
from malote.orders.models import Order
from malote.returns import actions as returns_actions
from malote_dev.testing.orders import SYSTEM, bring_to


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("1234.56"), "BRL", "R$ 1.234,56"),
        (Decimal("1234567.891"), "BRL", "R$ 1.234.567,89"),
        (Decimal("0.005"), "BRL", "R$ 0,01"),
        (Decimal("-15"), "BRL", "-R$ 15,00"),
        ("99.9", "usd", "USD 99,90"),
    ],
)
def test_money_is_formatted_the_brazilian_way(value: Decimal | str, currency: str, expected: str) -> None:
    assert format_money(value, currency) == expected


def test_the_brl_filter_leaves_non_numbers_alone() -> None:
    text = defaults.EmailText("{{ a|brl }} / {{ b|brl }}", "")
    assert (
        rendering.render(text, {"a": Decimal("1000"), "b": "n/d"}, status="paid").subject
        == "R$ 1.000,00 / n/d"
    )


def test_english_defaults_only_for_english() -> None:
    assert defaults.defaults_for("en") is defaults.EN
    assert defaults.defaults_for("en-us") is defaults.EN
    assert defaults.defaults_for("pt-br") is defaults.PT_BR
    assert set(defaults.PT_BR) == set(defaults.EN) == set(CustomerStatus.values)
    assert defaults.return_defaults_for("en-us") is defaults.RETURN_EN
    assert defaults.return_defaults_for("pt-br") is defaults.RETURN_PT_BR
    assert set(defaults.RETURN_PT_BR) == set(defaults.RETURN_EN) == set(ReturnEmail.values)


@pytest.mark.django_db
def test_the_migration_seeded_every_status_in_portuguese() -> None:
    rows = {t.status: (t.subject, t.body, t.enabled) for t in EmailTemplate.objects.all()}
    shipped = {**defaults.PT_BR, **defaults.RETURN_PT_BR}
    assert rows == {s: (t.subject, t.body, True) for s, t in shipped.items()}


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_every_default_renders_for_a_bare_order(make_order: Callable[..., Order], language: str) -> None:
    # A fresh order has no invoice or shipment: the defaults must still render cleanly.
    order = make_order()
    for status, text in defaults.defaults_for(language).items():
        email = rendering.render(text, rendering.build_context(order, status), status=status)
        assert str(order.number) in email.subject and "\n" not in email.subject
        assert email.body.rstrip().endswith("Loja Malote") and "None" not in email.body


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["pt-br", "en"])
def test_every_return_default_renders_for_a_fresh_return(
    make_order: Callable[..., Order], language: str
) -> None:
    # Just opened: no refusal note, no refund yet; the defaults must still render cleanly.
    order = bring_to(make_order(), "delivered")
    ret = returns_actions.create_return(
        order.pk, {"reason": "regret", "lines": [{"position": 1, "quantity": 1}]}, actor=SYSTEM
    )
    for status, text in defaults.return_defaults_for(language).items():
        email = rendering.render(text, rendering.build_return_context(ret, status), status=status)
        assert str(order.number) in email.subject and "\n" not in email.subject
        assert ret.number in email.body
        if status in ("return_requested", "return_authorized"):
            assert "- 1 × Chinelo de praia 42\n" in email.body
        assert email.body.rstrip().endswith("Loja Malote") and "None" not in email.body


@pytest.mark.django_db
def test_the_admin_form_takes_a_return_template_with_the_returns_variables() -> None:
    template = EmailTemplate.objects.get(status="return_refunded")
    form = EmailTemplateForm(
        data={
            "status": "return_refunded",
            "enabled": "on",
            "subject": "{{ refunded_amount }} devolvidos: {{ return_number }}",
            "body": "{% for line in return_lines %}{{ line.name }}{% endfor %}",
        },
        instance=template,
    )
    assert form.is_valid(), form.errors
    form.save()
    assert str(EmailTemplate.objects.get(status="return_refunded")) == "Devolução reembolsada"
    broken = EmailTemplateForm(
        data={"status": "return_refunded", "enabled": "on", "subject": "{{ x|nope }}", "body": "ok"},
        instance=template,
    )
    assert not broken.is_valid() and set(broken.errors) == {"subject"}


@pytest.mark.django_db
def test_the_admin_form_refuses_a_template_that_does_not_compile() -> None:
    template = EmailTemplate.objects.get(status="shipped")
    form = EmailTemplateForm(
        data={"status": "shipped", "enabled": "on", "subject": "{{ number|nope }}", "body": "{% for x in %}"},
        instance=template,
    )
    assert not form.is_valid()
    assert set(form.errors) == {"subject", "body"}
    good = EmailTemplateForm(
        data={
            "status": "shipped",
            "enabled": "on",
            "subject": "Enviado {{ number }}",
            "body": "{{ tracking_url }}",
        },
        instance=template,
    )
    assert good.is_valid(), good.errors
