"""Faithful fake servers of Jumpseller, Tiny ERP and Pagar.me, with fault injection.

Malote's end-to-end tests and its demo talk to these fakes over real HTTP on loopback exactly as
they would to the real APIs. Each fake is a plain WSGI application (no Django, no web framework)
with its state in memory behind a lock, served by a threaded HTTP server:

* :mod:`~malote.sandbox.jumpseller` — storefront, API v1 (``/v1``), HMAC-signed hooks;
* :mod:`~malote.sandbox.tiny` — ERP, API 2.0 (``/api2/<service>.php``), sales notifications;
* :mod:`~malote.sandbox.pagarme` — payment gateway, core v5 (``/core/v5``), RS256-signed webhooks.

Python API (tests)::

    from malote.sandbox import start_fake

    with start_fake("pagarme", webhook_url=receiver_url) as pagarme:
        pagarme.faults.set("error_5xx", count=2, method="POST", path_prefix="/core/v5/orders")
        ...
        assert pagarme.webhooks.wait_for(2)

Every fake also has a JSON control API under ``/_sandbox/`` (see :mod:`~malote.sandbox.app`)
and :mod:`~malote.sandbox.cli` starts all three for the demo. Faults are described in
:mod:`~malote.sandbox.faults`; each fake's docstring lists its endpoints, control actions and
every assumption made where the vendor documentation is silent or unconfirmed.
"""

from malote.sandbox.server import FakeKind, RunningFake, start_fake

__all__ = ["FakeKind", "RunningFake", "start_fake"]
