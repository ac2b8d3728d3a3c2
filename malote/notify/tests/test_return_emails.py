"""Customer e-mails for returns end to end: return changes → outbox → real SMTP server, once per
(return, step): requested, authorized, refused, refunded; nothing for the other steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from malote.core.errors import InvalidInput
from malote.notify.models import EmailTemplate, SentEmail
from malote.notify.statuses import DESTINATION, RETURN_MESSAGE_KIND
from malote.notify.tests.conftest import SmtpSink
from malote.orders.models import Order
from malote.returns import actions, changes
from malote.returns.changes import ReturnChange
from malote.returns.models import Return
from malote.sync import outbox
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.orders import SYSTEM, bring_to

pytestmark = pytest.mark.django_db

MakeOrder = Callable[..., Order]

# Two lines, paid 1.515,00 in all: big enough for a refund with a thousands separator.
ORDER: dict[str, Any] = {
    "items": [
        {"sku": "CHINELO-42", "name": "Chinelo de praia 42", "quantity": 2, "unit_price": "50.00"},
        {"sku": "CADEIRA-01", "name": "Cadeira de praia", "quantity": 1, "unit_price": "1400.00"},
    ],
    "total": "1515.00",
}


@pytest.fixture
def delivered(make_order: MakeOrder) -> Order:
    return bring_to(make_order(**ORDER), "delivered")


@pytest.fixture
def sent_order_emails(delivered: Order, smtp: SmtpSink) -> Iterator[Order]:
    """The order's own status e-mails already went out: what follows is the returns'."""
    send_all()
    smtp.messages.clear()
    yield delivered


def send_all() -> int:
    return drain(prefix="email")


def open_return(order: Order, *lines: tuple[int, int], **fields: Any) -> Return:
    payload = {"reason": "defective", "lines": [{"position": p, "quantity": q} for p, q in lines], **fields}
    return actions.create_return(order.pk, payload, actor=SYSTEM)


def run(ret: Return, name: str, payload: dict[str, Any] | None = None) -> Return:
    return actions.run_return_transition(ret.pk, name, payload, actor=SYSTEM).ret


def receive_all(ret: Return) -> Return:
    lines = [{"line": line.pk, "quantity": line.quantity, "condition": "restock"} for line in ret.lines.all()]
    return run(ret, "receive", {"lines": lines})


def return_emails(order: Order) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(order=order, destination=DESTINATION, kind=RETURN_MESSAGE_KIND).order_by(
            "id"
        )
    )


def queued(order: Order) -> list[tuple[str, int]]:
    return [(m.payload["status"], m.payload["return_id"]) for m in return_emails(order)]


def subjects(smtp: SmtpSink) -> list[str]:
    # A long accented subject is RFC 2047-encoded and folded after "Subject:"; the parser keeps
    # the folding's leading space.
    return [subject.strip() for subject in smtp.header("Subject")]


def ref(order: Order) -> str:
    return f"{order.external_id} ({order.number})"


def mid(ret: Return, step: str) -> str:
    return f"<return-{ret.number}-{step}@malote.local>"


def test_a_return_is_mailed_when_requested_authorized_and_refunded_and_at_no_other_step(
    sent_order_emails: Order, smtp: SmtpSink
) -> None:
    order = sent_order_emails
    ret = open_return(order, (1, 1), (2, 1), requested_by="customer")
    run(ret, "authorize")
    receive_all(ret)
    run(ret, "request_refund", {"amount": "1234.56"})
    assert queued(order) == [("return_requested", ret.pk), ("return_authorized", ret.pk)]
    run(ret, "confirm_refund", {"reference": "re_123"})
    run(ret, "close")
    assert queued(order) == [
        ("return_requested", ret.pk),
        ("return_authorized", ret.pk),
        ("return_refunded", ret.pk),
    ], "receipt, the refund request and closing queue nothing"

    assert send_all() == 3

    assert smtp.header("Message-ID") == [mid(ret, s) for s in ("requested", "authorized", "refunded")]
    assert smtp.header("To") == ["maria@example.com"] * 3
    assert subjects(smtp) == [
        f"Recebemos a sua solicitação de devolução: pedido {ref(order)}",
        f"Devolução autorizada: pedido {ref(order)}",
        f"Reembolso de R$ 1.234,56 feito: pedido {ref(order)}",
    ]
    requested, authorized, refunded = smtp.bodies()
    assert requested.startswith(f"Olá, Maria!\n\nRecebemos a sua solicitação de devolução {ret.number}")
    assert "- 1 × Chinelo de praia 42\n- 1 × Cadeira de praia\n" in requested
    assert "Motivo: Produto com defeito\n" in requested
    assert "Ainda não envie os produtos." in requested
    assert f"A sua devolução {ret.number}, do pedido {ref(order)}, foi autorizada." in authorized
    assert "Próximos passos:\n1. Embale os itens" in authorized
    assert f"2. Escreva o número da devolução, {ret.number}, do lado de fora da embalagem.\n" in authorized
    assert "Valor reembolsado: R$ 1.234,56\n" in refunded
    ret.refresh_from_db()
    assert ret.refunded_at is not None
    assert f"Data: {timezone.localtime(ret.refunded_at):%d/%m/%Y %H:%M}\n" in refunded
    assert all(body.rstrip().endswith("Loja Malote") for body in smtp.bodies())

    sent = SentEmail.objects.filter(ret=ret).order_by("id")
    assert [(s.order_id, s.status, s.message_id) for s in sent] == [
        (order.pk, f"return_{s}", mid(ret, s)) for s in ("requested", "authorized", "refunded")
    ]
    assert {m.state for m in return_emails(order)} == {"done"}


def test_a_refused_return_is_mailed_with_the_reason(sent_order_emails: Order, smtp: SmtpSink) -> None:
    order = sent_order_emails
    ret = open_return(order, (2, 1))
    run(ret, "refuse", {"note": "O prazo de 7 dias para arrependimento terminou em 10/11."})
    send_all()
    assert subjects(smtp)[1] == f"Devolução não aprovada: pedido {ref(order)}"
    refused = smtp.bodies()[1]
    assert (
        f"A sua solicitação de devolução {ret.number}, do pedido {ref(order)}, não foi aprovada." in refused
    )
    assert "Motivo: O prazo de 7 dias para arrependimento terminou em 10/11.\n" in refused


def test_a_canceled_return_sends_nothing_after_its_request(sent_order_emails: Order, smtp: SmtpSink) -> None:
    order = sent_order_emails
    ret = open_return(order, (1, 1))
    run(ret, "authorize")
    run(ret, "cancel", {"note": "o cliente desistiu"})
    assert [s for s, _ in queued(order)] == ["return_requested", "return_authorized"]


def test_an_orders_second_return_is_mailed_like_its_first(sent_order_emails: Order, smtp: SmtpSink) -> None:
    order = sent_order_emails
    first = open_return(order, (1, 1))
    second = open_return(order, (1, 1))
    run(first, "authorize")
    run(second, "authorize")
    send_all()
    assert smtp.header("Message-ID") == [
        mid(first, "requested"),
        mid(second, "requested"),
        mid(first, "authorized"),
        mid(second, "authorized"),
    ]
    assert SentEmail.objects.filter(order=order, status="return_authorized").count() == 2
    assert {m.state for m in return_emails(order)} == {"done"}


def test_the_sent_log_is_unique_per_return_and_step_and_per_order_and_status(
    sent_order_emails: Order,
) -> None:
    order = sent_order_emails
    first, second = open_return(order, (1, 1)), open_return(order, (1, 1))

    def log(ret: Return | None, status: str, n: int) -> None:
        with transaction.atomic():
            SentEmail.objects.create(order=order, ret=ret, status=status, message_id=f"<{n}@x>", to="a@b.c")

    log(first, "return_authorized", 1)
    log(second, "return_authorized", 2)  # another return of the same order: allowed
    log(first, "return_refunded", 3)  # another step of the same return: allowed
    with pytest.raises(IntegrityError):
        log(first, "return_authorized", 4)
    with pytest.raises(IntegrityError):
        log(None, "delivered", 5)  # the order's own e-mail, already sent by the fixture


def test_redelivering_or_repeating_sends_nothing_more(sent_order_emails: Order, smtp: SmtpSink) -> None:
    order = sent_order_emails
    ret = open_return(order, (2, 1))
    run(ret, "authorize")
    receive_all(ret)
    run(ret, "request_refund", {"amount": "100.00"})
    run(ret, "confirm_refund", {})
    assert send_all() == 3
    assert send_all() == 0

    OutboxMessage.objects.filter(kind=RETURN_MESSAGE_KIND).update(
        state="pending", attempts=0, next_attempt_at=timezone.now()
    )
    assert send_all() == 3, "every message delivered again…"
    assert len(smtp.messages) == 3, "…and no e-mail sent again"

    # A gateway confirming the refund again: a no-op, nothing queued.
    run(ret, "confirm_refund", {"reference": "again"})
    assert len(return_emails(order)) == 3


def test_a_send_whose_sent_log_was_lost_goes_again_with_the_same_message_id(
    sent_order_emails: Order, smtp: SmtpSink
) -> None:
    ret = open_return(sent_order_emails, (1, 1))
    send_all()
    SentEmail.objects.filter(ret=ret).delete()
    OutboxMessage.objects.filter(kind=RETURN_MESSAGE_KIND).update(
        state="pending", next_attempt_at=timezone.now()
    )
    send_all()
    assert smtp.header("Message-ID") == [mid(ret, "requested")] * 2
    assert SentEmail.objects.filter(ret=ret).count() == 1


def test_smtp_down_retries_until_the_server_is_back_and_sends_once(
    sent_order_emails: Order, smtp: SmtpSink
) -> None:
    smtp.stop()
    ret = open_return(sent_order_emails, (1, 1))
    assert send_all() == 1
    (message,) = return_emails(sent_order_emails)
    assert (message.state, message.attempts) == ("pending", 1)
    assert "SMTP unreachable" in message.last_error
    assert not SentEmail.objects.filter(ret=ret).exists()

    smtp.start()
    outbox.retry_now(message.pk)
    send_all()
    message.refresh_from_db()
    assert message.state == "done"
    assert smtp.header("Message-ID") == [mid(ret, "requested")]


def test_an_order_without_email_gets_no_return_email(
    make_order: MakeOrder, order_json: dict[str, Any], smtp: SmtpSink
) -> None:
    order = bring_to(make_order(**ORDER, customer={**order_json["customer"], "email": ""}), "delivered")
    ret = open_return(order, (1, 1))
    run(ret, "authorize")
    assert return_emails(order) == []
    send_all()
    assert smtp.messages == []


def test_an_email_address_removed_after_queueing_is_not_mailed(
    sent_order_emails: Order, smtp: SmtpSink
) -> None:
    order = sent_order_emails
    open_return(order, (1, 1))
    Order.objects.filter(pk=order.pk).update(customer_email="")
    send_all()
    assert smtp.messages == []
    assert {m.state for m in return_emails(order)} == {"done"}


def test_the_email_is_queued_in_the_returns_transaction(
    sent_order_emails: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = sent_order_emails
    ret = open_return(order, (1, 1))

    def refuse_everything(change: ReturnChange) -> None:
        raise RuntimeError("a later listener fails")

    monkeypatch.setattr(changes, "_LISTENERS", [*changes._LISTENERS, refuse_everything])
    with pytest.raises(RuntimeError):
        run(ret, "authorize")
    assert [s for s, _ in queued(order)] == ["return_requested"], "rolled back with the change"
    monkeypatch.undo()

    with pytest.raises(InvalidInput):  # a rule broken inside the transaction: nothing queued either
        open_return(order, (1, 5))
    run(ret, "authorize")
    assert [s for s, _ in queued(order)] == ["return_requested", "return_authorized"]


def test_an_edited_or_disabled_return_template(sent_order_emails: Order, smtp: SmtpSink) -> None:
    order = sent_order_emails
    EmailTemplate.objects.filter(status="return_requested").update(enabled=False)
    EmailTemplate.objects.filter(status="return_authorized").update(
        subject="{{ return_number }} ok ({{ return_status_label }})",
        body="{% for line in return_lines %}{{ line.sku }}={{ line.quantity }} {% endfor %}",
    )
    ret = open_return(order, (1, 2))
    assert queued(order) == [], "disabled: not even queued"
    run(ret, "authorize")
    EmailTemplate.objects.filter(status="return_requested").update(enabled=True)
    send_all()
    assert subjects(smtp) == [f"{ret.number} ok (Autorizada)"]
    assert smtp.bodies() == ["CHINELO-42=2 \n"]


def test_a_broken_return_template_is_a_dead_letter(sent_order_emails: Order, smtp: SmtpSink) -> None:
    EmailTemplate.objects.filter(status="return_requested").update(body="{% if %}")
    open_return(sent_order_emails, (1, 1))
    send_all()
    (message,) = return_emails(sent_order_emails)
    assert message.state == "dead"
    assert message.last_error.startswith("The e-mail template for 'return_requested' is broken (body)")
    assert smtp.messages == []


def test_english_return_emails_when_the_shop_language_is_english(
    sent_order_emails: Order, smtp: SmtpSink, settings: Any
) -> None:
    settings.LANGUAGE_CODE = "en-us"
    EmailTemplate.objects.filter(status__startswith="return_").delete()  # seeded in Portuguese
    order = sent_order_emails
    ret = open_return(order, (2, 1))
    run(ret, "authorize")
    receive_all(ret)
    run(ret, "request_refund", {"amount": "1234.56"})
    run(ret, "confirm_refund", {})
    send_all()
    assert subjects(smtp) == [
        f"We received your return request: order {ref(order)}",
        f"Return authorized: order {ref(order)}",
        f"Refund of R$ 1.234,56 made: order {ref(order)}",
    ]
    requested, authorized, refunded = smtp.bodies()
    assert "- 1 × Cadeira de praia\nReason: Defective product\n" in requested
    assert "Next steps:\n1. Pack the items" in authorized
    assert "Amount refunded: R$ 1.234,56\n" in refunded
