"""Customer e-mails per order status and per return step, delivered through the outbox once each.

``listeners`` queues one outbox message per customer-visible status an order enters, and per
return step (opened, authorized, refused, refunded), inside the change's transaction; ``delivery``
renders the operator-editable ``EmailTemplate`` and sends it through Django's SMTP backend,
recording a ``SentEmail`` so a status is mailed once per order and a step once per return.
"""
