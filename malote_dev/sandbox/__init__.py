"""Faithful fake servers of every system Malote connects to, with fault injection.

The end-to-end tests and the demo talk to these fakes over real HTTP on loopback as they would to
the real APIs. Each fake is a plain WSGI application with its state in memory behind a lock:

* :mod:`~malote_dev.sandbox.jumpseller` — storefront, API v1 (``/v1``), HMAC-signed hooks;
* :mod:`~malote_dev.sandbox.tiny` — ERP, API 2.0 (``/api2/<service>.php``), sales notifications;
* :mod:`~malote_dev.sandbox.pagarme` — payment gateway, core v5 (``/core/v5``), RS256-signed webhooks;
* :mod:`~malote_dev.sandbox.skyhub` — marketplace hub (B2W/Americanas), order queue, three auth headers;
* :mod:`~malote_dev.sandbox.vtex` — storefront OMS, feed v3 with handles, order hook;
* :mod:`~malote_dev.sandbox.mercadolivre` — marketplace, OAuth, notifications, NF-e XML upload;
* :mod:`~malote_dev.sandbox.bling` — ERP, API v3, situações by id, NF-e, signed webhooks;
* :mod:`~malote_dev.sandbox.adyen` — payment gateway, HMAC-signed standard webhooks;
* :mod:`~malote_dev.sandbox.zendesk` — help desk, tickets with attachments and idempotency keys.

Python API (tests)::

    from malote_dev.sandbox import start_fake

    with start_fake("pagarme", webhook_url=receiver_url) as pagarme:
        pagarme.faults.set("error_5xx", count=2, method="POST", path_prefix="/core/v5/orders")
        ...
        assert pagarme.webhooks.wait_for(2)

Every fake also has a JSON control API under ``/_sandbox/`` (see :mod:`~malote_dev.sandbox.app`);
``GET /_sandbox`` lists its routes and settings, the settings described as assumed switching what the vendor
leaves unconfirmed. :mod:`~malote_dev.sandbox.cli` starts every fake in ``DEFAULT_PORTS`` for the
demo; faults are described in :mod:`~malote_dev.sandbox.faults`. The vendors' APIs are described
in docs/connectors/.
"""

from malote_dev.sandbox.server import FakeKind, RunningFake, start_fake

__all__ = ["FakeKind", "RunningFake", "start_fake"]
