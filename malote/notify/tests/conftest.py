"""A real SMTP server (aiosmtpd) on a free local port, and Django pointed at it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from malote_dev.testing.notify import SmtpSink


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    # aiosmtpd logs every SMTP command at INFO: noise in a failing test's report.
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    sink = SmtpSink()
    sink.start()
    # pytest-django swaps in the locmem backend; these tests go through real SMTP.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "Loja Malote <pedidos@malote.local>"
    settings.MALOTE_EMAIL_DOMAIN = "malote.local"
    try:
        yield sink
    finally:
        sink.stop()
        mail_log.setLevel(level)
