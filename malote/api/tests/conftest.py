"""Fixtures of the API tests (the shared ones live in ``malote/conftest.py``)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Test users get throwaway passwords; the production hasher would cost ~0.1 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
