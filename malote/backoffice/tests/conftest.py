"""Setup shared by every back-office test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils import translation


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Every test starts and ends in the default language (pt-BR).

    A request in English leaves English active in the test's thread (``LocaleMiddleware``
    activates the request's language and nothing deactivates it), so without this a test that
    reads labels outside a request passes or fails depending on which test ran before it.
    """
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
