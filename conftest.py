"""Suite-wide test setup.

When ``DATABASE_URL`` points at PostgreSQL and no server answers, every database test is
skipped with that reason instead of failing; tests marked ``postgres`` need PostgreSQL and are
skipped on SQLite runs (``make test`` runs the suite on both).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

# No timed assertions in the suite (performance lives in `malote bench`): a property test on a loaded
# machine must not fail for taking longer than hypothesis's default 200 ms per example.
hypothesis_settings.register_profile("malote", deadline=None)
hypothesis_settings.load_profile("malote")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Test users get throwaway passwords: the production hasher (PBKDF2, a million rounds) costs
    about half a second of CPU per password set or checked, minutes over the suite's logins. The
    servers a test starts as processes (gunicorn, workers) keep the production hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _postgres_unreachable() -> str | None:
    db = settings.DATABASES["default"]
    if "postgresql" not in str(db["ENGINE"]):
        return None
    import psycopg

    try:
        psycopg.connect(
            host=str(db.get("HOST") or "127.0.0.1"),
            port=int(db.get("PORT") or 5432),
            user=str(db.get("USER") or ""),
            password=str(db.get("PASSWORD") or ""),
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {db.get('HOST')}:{db.get('PORT')} is not reachable ({str(exc).strip()[:120]})"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unreachable = _postgres_unreachable()
    on_postgres = "postgresql" in str(settings.DATABASES["default"]["ENGINE"])
    for item in items:
        # Tests marked postgres reach the server themselves (a database of their own per run).
        uses_db = (
            item.get_closest_marker("django_db") is not None
            or item.get_closest_marker("postgres") is not None
            or bool(
                {"db", "transactional_db", "live_server", "django_db_setup"}
                & set(getattr(item, "fixturenames", ()))
            )
        )
        if unreachable and uses_db:
            item.add_marker(pytest.mark.skip(reason=unreachable))
        elif item.get_closest_marker("own_sqlite") and on_postgres:
            item.add_marker(
                pytest.mark.skip(
                    reason="runs on its own scratch SQLite whatever DATABASE_URL says: "
                    "the SQLite pass runs it"
                )
            )
        elif item.get_closest_marker("postgres") and not on_postgres:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL: runs in the DATABASE_URL=postgres://… pass of make test"
                )
            )


def pytest_report_header(config: pytest.Config) -> str:
    db = settings.DATABASES["default"]
    return (
        f"malote database: {db['ENGINE']} {db.get('HOST') or ''} {os.environ.get('DATABASE_URL', '(sqlite)')}"
    )
