"""Customer e-mails per order status, delivered through the outbox exactly once per status.

``listeners`` queues one outbox message per customer-visible status an order enters (inside the
change's transaction); ``delivery`` renders the operator-editable ``EmailTemplate`` and sends it
through Django's SMTP backend, recording a ``SentEmail`` so a status is mailed once per order.
"""
