"""Faithful fake servers of every system Malote connects to, with fault injection.

Malote's end-to-end tests and its demo talk to these fakes over real HTTP on loopback exactly as
they would to the real APIs. Each fake is a plain WSGI application (no Django, no web framework)
with its state in memory behind a lock, served by a threaded HTTP server:

* :mod:`~malote.sandbox.jumpseller` — storefront, API v1 (``/v1``), HMAC-signed hooks;
* :mod:`~malote.sandbox.tiny` — ERP, API 2.0 (``/api2/<service>.php``), sales notifications;
* :mod:`~malote.sandbox.pagarme` — payment gateway, core v5 (``/core/v5``), RS256-signed webhooks;
* :mod:`~malote.sandbox.skyhub` — marketplace hub (B2W/Americanas), order queue, three auth headers;
* :mod:`~malote.sandbox.vtex` — storefront OMS, feed v3 with handles, order hook;
* :mod:`~malote.sandbox.mercadolivre` — marketplace, OAuth, notifications, NF-e XML upload;
* :mod:`~malote.sandbox.bling` — ERP, API v3, situações by id, NF-e, signed webhooks;
* :mod:`~malote.sandbox.adyen` — payment gateway, HMAC-signed standard webhooks;
* :mod:`~malote.sandbox.zendesk` — help desk, tickets with attachments and idempotency keys.

Python API (tests)::

    from malote.sandbox import start_fake

    with start_fake("pagarme", webhook_url=receiver_url) as pagarme:
        pagarme.faults.set("error_5xx", count=2, method="POST", path_prefix="/core/v5/orders")
        ...
        assert pagarme.webhooks.wait_for(2)

Every fake also has a JSON control API under ``/_sandbox/`` (see :mod:`~malote.sandbox.app`)
and :mod:`~malote.sandbox.cli` starts every fake in ``DEFAULT_PORTS`` for the demo. Faults are described in
:mod:`~malote.sandbox.faults`; each fake's docstring lists its endpoints, control actions and
every assumption made where the vendor documentation is silent or unconfirmed.
"""

from malote.sandbox.server import FakeKind, RunningFake, start_fake

__all__ = ["FakeKind", "RunningFake", "start_fake"]
