"""Fixtures of the API tests (the shared ones live in ``malote/conftest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings


@pytest.fixture(autouse=True, scope="session")
def _static_root() -> None:
    """WhiteNoise warns (an error under this suite's filterwarnings) when STATIC_ROOT is missing,
    as on a fresh clone before ``collectstatic``; the API does not serve static files."""
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Test users get throwaway passwords; the production hasher would cost ~0.1 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
