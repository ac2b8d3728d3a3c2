"""Send one customer e-mail for an outbox message: the handler of the ``email`` destination.

Two kinds of message: ``email.status`` (an order status, once per order and status) and
``email.return`` (a return step, once per return and step: ``SentEmail(ret, status)``, Message-ID
``<return-{return number}-{step}@…>``, e.g. ``<return-MLT0000042-D1-authorized@…>``). Both follow
the rules below; a return's e-mail is skipped when the return is gone, when the order has no
e-mail address any more, or when its template was disabled after the message was queued.

Once per (order, status), or per (return, step), as far as SMTP allows:

- a ``SentEmail(order, status)`` row means the e-mail went out: the message is done, nothing sent;
- the e-mail carries ``Message-ID: <order-{number}-{status}@{MALOTE_EMAIL_DOMAIN}>``, the same on
  every attempt, so a repeated send is recognisably the same message;
- once the SMTP server has accepted it, ``SentEmail`` is written in its own transaction.

The window that remains: a crash (or a lost database) after the server accepted the message but
before the ``SentEmail`` row commits, or a timeout waiting for the server's answer to DATA, makes
the outbox deliver the message again, and it is sent a second time with the SAME Message-ID.
Delivery is therefore at-least-once; mail clients and servers de-duplicate by Message-ID.

Nothing is sent, and the message counts as delivered, when the order is gone, when the status is
not in ``order.status_path`` (never entered, or undone by ``reopen``: no e-mail for a status the
order skipped), when the order has no e-mail address any more, or when the operator disabled the
template after the message was queued.

Failures: SMTP and socket errors are retried (``DeliveryError(retryable=True)``), including a
recipient refused with a 4xx (greylisting, mailbox busy); a recipient refused with a 5xx, an
address that cannot be used, and a broken template are dead letters (fix, then replay).
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.utils import translation

from malote.notify import rendering, selectors
from malote.notify.models import SentEmail
from malote.notify.statuses import MESSAGE_KIND, REQUIRED_ORDER_STATUS, RETURN_MESSAGE_KIND, RETURN_STATUS
from malote.orders.models import Order
from malote.returns.models import Return
from malote.sync.errors import DeliveryError
from malote.sync.models import OutboxMessage

log = logging.getLogger(__name__)

PREFIX = "email"


def send_email(message: OutboxMessage) -> None:
    """The ``email`` handler: an order status's e-mail or a return step's, by the message's kind."""
    if message.kind == RETURN_MESSAGE_KIND:
        send_return_email(message)
    else:
        send_status_email(message)


def message_id(order: Order, status: str) -> str:
    """Stable per (order, status): every attempt to send the same e-mail carries the same id."""
    return f"<order-{order.number}-{status}@{settings.MALOTE_EMAIL_DOMAIN}>"


def skip_reason(order: Order, status: str) -> str | None:
    """Why this e-mail must not be sent (now or ever), or None to send it."""
    if SentEmail.objects.filter(order=order, status=status).exists():
        return "already sent"
    required = REQUIRED_ORDER_STATUS[status]
    if required is not None and required not in order.status_path:
        return f"the order is not (or no longer) {required}"
    if not order.customer_email.strip():
        return "the order has no customer e-mail"
    return None


def send_status_email(message: OutboxMessage) -> None:
    """Render and send the ``email.status`` e-mail of ``message``; raise ``DeliveryError`` on failure."""
    status = message.payload.get("status")
    if message.kind != MESSAGE_KIND or status not in REQUIRED_ORDER_STATUS:
        raise DeliveryError(
            f"Not a customer status e-mail: kind {message.kind!r}, status {status!r}.", retryable=False
        )
    order = Order.objects.filter(pk=message.order_id).first() if message.order_id is not None else None
    if order is None:
        log.info("e-mail %s for order %s not sent: the order is gone", status, message.order_id)
        return
    reason = skip_reason(order, status)
    text = selectors.template_for(status)
    if reason is None and not text.enabled:
        reason = "its template is disabled"
    if reason is not None:
        log.info("e-mail %s for order %s not sent: %s", status, order.number, reason)
        return
    with translation.override(settings.LANGUAGE_CODE):
        try:
            rendered = rendering.render(text, rendering.build_context(order, status), status=status)
        except rendering.TemplateBroken as exc:
            raise DeliveryError(str(exc), retryable=False) from exc
    to = order.customer_email.strip()
    mid = message_id(order, status)
    _send(to, rendered, mid)
    _record_sent(order, None, status, mid, to, rendered.subject, message.pk)


def return_message_id(ret: Return, status: str) -> str:
    """Stable per (return, step): ``<return-MLT0000042-D1-authorized@…>``."""
    step = status.removeprefix("return_")
    return f"<return-{ret.number}-{step}@{settings.MALOTE_EMAIL_DOMAIN}>"


def return_skip_reason(ret: Return, status: str) -> str | None:
    """Why this return e-mail must not be sent (now or ever), or None to send it."""
    if SentEmail.objects.filter(ret=ret, status=status).exists():
        return "already sent"
    if not ret.order.customer_email.strip():
        return "the order has no customer e-mail"
    return None


def send_return_email(message: OutboxMessage) -> None:
    """Render and send the ``email.return`` e-mail of ``message``; raise ``DeliveryError`` on failure."""
    status = message.payload.get("status")
    return_id = message.payload.get("return_id")
    if message.kind != RETURN_MESSAGE_KIND or status not in RETURN_STATUS or not isinstance(return_id, int):
        raise DeliveryError(
            f"Not a customer return e-mail: kind {message.kind!r}, status {status!r}, return {return_id!r}.",
            retryable=False,
        )
    ret = Return.objects.select_related("order").filter(pk=return_id).first()
    if ret is None:
        log.info("e-mail %s for return %s not sent: the return is gone", status, return_id)
        return
    reason = return_skip_reason(ret, status)
    text = selectors.template_for(status)
    if reason is None and not text.enabled:
        reason = "its template is disabled"
    if reason is not None:
        log.info("e-mail %s for return %s not sent: %s", status, ret.number, reason)
        return
    with translation.override(settings.LANGUAGE_CODE):
        try:
            rendered = rendering.render(text, rendering.build_return_context(ret, status), status=status)
        except rendering.TemplateBroken as exc:
            raise DeliveryError(str(exc), retryable=False) from exc
    to = ret.order.customer_email.strip()
    mid = return_message_id(ret, status)
    _send(to, rendered, mid)
    _record_sent(ret.order, ret, status, mid, to, rendered.subject, message.pk)


def _send(to: str, rendered: rendering.RenderedEmail, mid: str) -> None:
    email = EmailMessage(
        rendered.subject,
        rendered.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        # Auto-Submitted (RFC 3834) keeps vacation responders from answering a notification.
        headers={"Message-ID": mid, "Auto-Submitted": "auto-generated"},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        answers = list(exc.recipients.values())
        permanent = all(code >= 500 for code, _ in answers)
        detail = "; ".join(f"{code} {_text(reply)}" for code, reply in answers)
        raise DeliveryError(f"SMTP server refused recipient {to}: {detail}", retryable=not permanent) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP error {exc.smtp_code} {_text(exc.smtp_error)} sending {mid}", retryable=True
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS failed
        raise DeliveryError(
            f"SMTP unreachable sending {mid}: {type(exc).__name__}: {exc}", retryable=True
        ) from exc
    except ValueError as exc:  # Django refuses an address it cannot put in a header (BadHeaderError too)
        raise DeliveryError(f"Unusable customer e-mail address {to!r}: {exc}", retryable=False) from exc


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _record_sent(
    order: Order, ret: Return | None, status: str, mid: str, to: str, subject: str, outbox_id: int
) -> None:
    try:
        with transaction.atomic():
            SentEmail.objects.create(
                order=order,
                ret=ret,
                status=status,
                message_id=mid,
                to=to,
                subject=subject[:255],
                outbox_message_id=outbox_id,
            )
    except IntegrityError:
        # Another worker that took over an expired lease sent and logged it too (same Message-ID).
        log.warning("sent log for %s already written by another delivery", mid)
