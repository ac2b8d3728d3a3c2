"""Customer e-mails end to end: order changes → outbox → real SMTP server, once per status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from malote.conftest import SYSTEM
from malote.fiscal import format_nfe_key
from malote.notify.models import EmailTemplate, SentEmail
from malote.notify.statuses import DESTINATION, MESSAGE_KIND
from malote.notify.tests.conftest import SmtpSink
from malote.orders import actions
from malote.orders.models import Invoice, Order
from malote.sync import outbox
from malote.sync.models import OutboxMessage
from malote.sync.worker import drain
from malote_dev.testing.orders import bring_to, valid_input

pytestmark = pytest.mark.django_db

MakeOrder = Callable[..., Order]


def send_all() -> int:
    """Deliver the customer e-mails due now (only ours: other destinations are not under test)."""
    return drain(prefix="email")


def emails(order: Order) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(order=order, destination=DESTINATION).order_by("id"))


def queued(order: Order) -> list[str]:
    return [m.payload["status"] for m in emails(order)]


def run(order: Order, name: str, data: dict[str, Any] | None = None) -> None:
    actions.run_transition(order.pk, name, valid_input(order, name) if data is None else data, actor=SYSTEM)


def ref(order: Order) -> str:
    """The order as the customer knows it: the store's number, Malote's beside it."""
    return f"{order.external_id} ({order.number})"


def mid(order: Order, status: str) -> str:
    return f"<order-{order.number}-{status}@malote.local>"


def test_a_delivered_order_gets_five_portuguese_emails_in_order(
    make_order: MakeOrder, smtp: SmtpSink
) -> None:
    order = bring_to(make_order(), "delivered")
    assert [(m.kind, m.payload) for m in emails(order)] == [
        (MESSAGE_KIND, {"status": s}) for s in ("received", "paid", "invoiced", "shipped", "delivered")
    ]

    assert send_all() == 5

    steps = ("received", "paid", "invoiced", "shipped", "delivered")
    assert smtp.header("Message-ID") == [mid(order, s) for s in steps]
    assert smtp.header("To") == ["maria@example.com"] * 5
    assert smtp.header("From") == ["Loja Malote <pedidos@malote.local>"] * 5
    assert smtp.header("Subject") == [
        f"Recebemos o seu pedido {ref(order)}",
        f"Pagamento aprovado: pedido {ref(order)}",
        f"Nota fiscal emitida: pedido {ref(order)}",
        f"Seu pedido {ref(order)} foi enviado",
        f"Pedido {ref(order)} entregue",
    ]
    received, paid, invoiced, shipped, delivered = smtp.bodies()
    assert received.startswith("Olá, Maria!\n\nRecebemos o seu pedido")
    assert "- 2 × Chinelo de praia 42: R$ 99,80\n" in received
    assert "Frete (Correios SEDEX): R$ 15,00\nTotal: R$ 114,80\n" in received
    assert received.rstrip().endswith("Loja Malote")
    assert "foi aprovado" in paid and "R$ 114,80" in paid
    invoice = Invoice.objects.get(order=order)
    assert f"NF-e nº {invoice.number}, série 1\n" in invoiced
    assert f"Chave de acesso: {format_nfe_key(invoice.key)}\n" in invoiced
    assert "Transportadora: Correios (SEDEX)\n" in shipped
    assert "Código de rastreio: AA123456785BR\n" in shipped
    assert "https://rastreamento.correios.com.br/app/index.php?objetos=AA123456785BR" in shipped
    delivered_at = timezone.localtime(order.shipments.get().delivered_at)
    assert f"foi entregue em {delivered_at:%d/%m/%Y %H:%M}." in delivered

    sent = SentEmail.objects.filter(order=order).order_by("id")
    assert [(s.status, s.message_id, s.to) for s in sent] == [
        (s, mid(order, s), "maria@example.com") for s in steps
    ]
    assert [s.outbox_message_id for s in sent] == [m.pk for m in emails(order)]
    assert {m.state for m in emails(order)} == {"done"}


def test_draining_again_or_redelivering_a_message_sends_nothing_more(
    make_order: MakeOrder, smtp: SmtpSink
) -> None:
    order = bring_to(make_order(), "paid")
    assert send_all() == 2
    assert send_all() == 0

    OutboxMessage.objects.filter(destination=DESTINATION).update(
        state="pending", attempts=0, next_attempt_at=timezone.now()
    )
    assert send_all() == 2, "both messages delivered again…"
    assert len(smtp.messages) == 2, "…and neither e-mail sent again"
    assert {m.state for m in emails(order)} == {"done"}

    run(order, "approve_payment", {})  # a connector repeating the approval: a no-op, nothing queued
    assert queued(order) == ["received", "paid"]


def test_a_send_whose_sent_log_was_lost_goes_again_with_the_same_message_id(
    make_order: MakeOrder, smtp: SmtpSink
) -> None:
    # The documented window: the server took the e-mail, the worker died before logging it.
    order = make_order()
    send_all()
    SentEmail.objects.filter(order=order).delete()
    OutboxMessage.objects.filter(destination=DESTINATION).update(
        state="pending", next_attempt_at=timezone.now()
    )
    send_all()
    assert smtp.header("Message-ID") == [mid(order, "received")] * 2
    assert SentEmail.objects.filter(order=order).count() == 1


def test_an_order_imported_as_paid_is_received_then_paid(make_order: MakeOrder, smtp: SmtpSink) -> None:
    order = make_order(status="paid")
    assert queued(order) == ["received", "paid"]
    send_all()
    assert smtp.header("Message-ID") == [mid(order, "received"), mid(order, "paid")]


def test_a_canceled_order_gets_the_cancel_email_with_the_reason(
    make_order: MakeOrder, smtp: SmtpSink
) -> None:
    order = make_order()
    run(order, "cancel", {"reason": "payment_refused", "note": "cartão recusado pelo banco"})
    send_all()
    assert smtp.header("Subject") == [
        f"Recebemos o seu pedido {ref(order)}",
        f"Pedido {ref(order)} cancelado",
    ]
    body = smtp.bodies()[1]
    assert f"O seu pedido {ref(order)} foi cancelado.\nMotivo: Pagamento recusado\n" in body
    assert "cartão recusado" not in body, "the operator's note is internal"


def test_payment_overdue_email(make_order: MakeOrder, smtp: SmtpSink) -> None:
    order = bring_to(make_order(), "payment_overdue")
    send_all()
    assert smtp.header("Message-ID") == [mid(order, "received"), mid(order, "payment_overdue")]
    assert smtp.header("Subject")[1] == f"Pagamento do pedido {ref(order)} vencido"
    body = smtp.bodies()[1]
    due = order.payments.get().due_date
    assert due is not None
    assert f"pagamento do seu pedido {ref(order)} (R$ 114,80), com vencimento em {due:%d/%m/%Y}." in body


def test_an_order_without_email_queues_nothing(
    make_order: MakeOrder, order_json: dict[str, Any], smtp: SmtpSink
) -> None:
    order = bring_to(make_order(customer={**order_json["customer"], "email": ""}), "delivered")
    assert emails(order) == []
    send_all()
    assert smtp.messages == []


def test_a_disabled_template_sends_nothing(make_order: MakeOrder, smtp: SmtpSink) -> None:
    EmailTemplate.objects.filter(status="paid").update(enabled=False)
    order = bring_to(make_order(), "paid")
    assert queued(order) == ["received"], "disabled at the time of the change: not even queued"

    EmailTemplate.objects.filter(status="paid").update(enabled=True)
    other = bring_to(make_order(), "invoiced")
    assert queued(other) == ["received", "paid", "invoiced"]
    EmailTemplate.objects.filter(status="invoiced").update(enabled=False)  # disabled after queueing
    send_all()
    assert smtp.header("Message-ID") == [mid(order, "received"), mid(other, "received"), mid(other, "paid")]
    assert {m.state for m in emails(other)} == {"done"}


def test_statuses_the_order_skipped_get_no_email(make_order: MakeOrder, smtp: SmtpSink) -> None:
    order = bring_to(make_order(), "invoiced")
    run(order, "cancel")
    send_all()
    assert smtp.header("Message-ID") == [mid(order, s) for s in ("received", "paid", "invoiced", "canceled")]
    assert not SentEmail.objects.filter(order=order, status__in=["shipped", "delivered", "payment_overdue"])


def test_a_cancel_undone_before_sending_is_not_mailed_and_a_second_cancel_is_not_mailed_twice(
    make_order: MakeOrder, smtp: SmtpSink
) -> None:
    order = make_order()
    run(order, "cancel")
    run(order, "reopen")
    assert queued(order) == ["received", "canceled"], "reopen itself queues nothing"
    send_all()
    assert smtp.header("Message-ID") == [mid(order, "received")], "canceled is no longer in the order's path"
    assert {m.state for m in emails(order)} == {"done"}

    run(order, "cancel")
    send_all()
    run(order, "reopen")
    run(order, "cancel")
    send_all()
    assert smtp.header("Message-ID") == [mid(order, "received"), mid(order, "canceled")]


def test_an_edited_template_is_used(make_order: MakeOrder, smtp: SmtpSink) -> None:
    EmailTemplate.objects.filter(status="received").update(
        subject="{{ first_name }}, o pedido {{ number }} chegou ({{ order.subtotal|brl }})",
        body="Total: {{ total }}",
    )
    order = make_order()
    send_all()
    assert smtp.header("Subject") == [f"Maria, o pedido {order.number} chegou (R$ 99,80)"]
    assert smtp.bodies() == ["Total: R$ 114,80\n"]


def test_a_missing_template_row_falls_back_to_the_default(make_order: MakeOrder, smtp: SmtpSink) -> None:
    EmailTemplate.objects.filter(status="received").delete()
    order = make_order()
    assert queued(order) == ["received"]
    send_all()
    assert smtp.header("Subject") == [f"Recebemos o seu pedido {ref(order)}"]


def test_english_defaults_when_the_site_language_is_english(
    make_order: MakeOrder, smtp: SmtpSink, settings: Any
) -> None:
    settings.LANGUAGE_CODE = "en-us"
    EmailTemplate.objects.all().delete()  # the rows were seeded in Portuguese
    order = make_order()
    send_all()
    assert smtp.header("Subject") == [f"We received your order {ref(order)}"]
    assert "Total: R$ 114,80" in smtp.bodies()[0]


def test_smtp_server_down_keeps_the_message_pending_until_it_is_back(
    make_order: MakeOrder, smtp: SmtpSink
) -> None:
    smtp.stop()
    order = make_order()
    assert send_all() == 1
    (message,) = emails(order)
    assert (message.state, message.attempts) == ("pending", 1)
    assert "SMTP unreachable" in message.last_error and "ConnectionRefusedError" in message.last_error
    assert not SentEmail.objects.exists()

    smtp.start()
    outbox.retry_now(message.pk)  # the operator's "retry now"; otherwise the backoff decides when
    send_all()
    message.refresh_from_db()
    assert (message.state, message.last_error) == ("done", "")
    assert smtp.header("Message-ID") == [mid(order, "received")]


def test_a_refused_recipient_is_a_dead_letter_and_a_busy_mailbox_a_retry(
    make_order: MakeOrder, order_json: dict[str, Any], smtp: SmtpSink
) -> None:
    smtp.refuse["gone@example.com"] = "550 5.1.1 No such user"
    smtp.refuse["busy@example.com"] = "450 4.2.1 Mailbox busy, try later"
    gone = make_order(customer={**order_json["customer"], "email": "gone@example.com"})
    busy = make_order(customer={**order_json["customer"], "email": "busy@example.com"})
    send_all()
    (dead,) = emails(gone)
    (waiting,) = emails(busy)
    assert dead.state == "dead" and "refused recipient gone@example.com: 550" in dead.last_error
    assert waiting.state == "pending" and "450" in waiting.last_error
    assert smtp.messages == [] and not SentEmail.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Olá {% if %}", "TemplateSyntaxError"),
        ('Olá {% include "nao-existe.txt" %}', "TemplateDoesNotExist"),
    ],
)
def test_a_broken_template_is_a_dead_letter_that_can_be_replayed_once_fixed(
    make_order: MakeOrder, smtp: SmtpSink, body: str, error: str
) -> None:
    EmailTemplate.objects.filter(status="received").update(body=body)
    order = make_order()
    send_all()
    (message,) = emails(order)
    assert message.state == "dead"
    assert message.last_error.startswith(f"The e-mail template for 'received' is broken (body): {error}")
    assert "replay" in message.last_error
    assert smtp.messages == []

    EmailTemplate.objects.filter(status="received").update(body="Olá, {{ first_name }}!")
    assert outbox.replay_all_dead(DESTINATION) == 1
    send_all()
    assert smtp.bodies() == ["Olá, Maria!\n"]
