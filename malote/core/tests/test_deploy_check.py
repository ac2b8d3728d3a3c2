"""``check --deploy`` is clean in the production configuration docs/security.md documents, and the
settings follow those environment variables."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

SECURITY_DOC = Path(settings.BASE_DIR) / "docs" / "security.md"
# What the environment decides (the rest of the settings are the same in every environment).
ENV_SETTINGS = [
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "MALOTE_TRUSTED_PROXY_HEADER",
    "MALOTE_TRUSTED_PROXY_COUNT",
    "DEBUG",
]


def documented_production_env() -> dict[str, str]:
    """The ``MALOTE_…=…`` lines of the production example under "## Deployment settings"."""
    text = SECURITY_DOC.read_text()
    section = text[text.index("## Deployment settings") :]
    block = section[section.index("```bash") : section.index("```", section.index("```bash") + 3)]
    return dict(re.findall(r"^(MALOTE_\w+)=(\S+)$", block, re.MULTILINE))


def settings_for(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    """The environment-dependent settings the product's settings module computes from ``env``."""
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {ENV_SETTINGS!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "malote.settings",
            "MALOTE_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if values["SECURE_PROXY_SSL_HEADER"] is not None:
        values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def deploy_warnings(**overrides: Any) -> list[str]:
    out = io.StringIO()
    with override_settings(**overrides):
        call_command("check", deploy=True, stdout=out, stderr=out)
    return re.findall(r"\((security\.W\d+)\)", out.getvalue())


def test_the_documented_production_configuration_passes_check_deploy(tmp_path: Path) -> None:
    env = documented_production_env()
    assert {"MALOTE_SECURE_COOKIES", "MALOTE_HSTS_SECONDS", "MALOTE_SSL_REDIRECT"} <= set(env)
    production = settings_for(env, tmp_path)
    assert production["SESSION_COOKIE_SECURE"] and production["CSRF_COOKIE_SECURE"]
    assert production["SECURE_HSTS_SECONDS"] == 31536000 and production["SECURE_SSL_REDIRECT"]
    assert production["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert production["MALOTE_TRUSTED_PROXY_HEADER"] == "HTTP_X_FORWARDED_FOR"
    assert production["CSRF_TRUSTED_ORIGINS"] == ["https://malote.example.com"]
    assert deploy_warnings(**production) == []


def test_the_default_configuration_is_flagged_by_check_deploy(tmp_path: Path) -> None:
    defaults = settings_for({}, tmp_path)
    assert not defaults["SESSION_COOKIE_SECURE"] and defaults["SECURE_PROXY_SSL_HEADER"] is None
    assert defaults["MALOTE_TRUSTED_PROXY_HEADER"] == ""
    found = deploy_warnings(**defaults)
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= set(found)
