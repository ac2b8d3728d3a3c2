"""The secret key: generated once and kept in var/ (0600, atomically, one key for concurrent first
starts), the environment's when set, and a published key refused in production mode."""

from __future__ import annotations

import multiprocessing
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from malote.core import secret_key

# The key printed in malote/settings.py before issue 12 (an attacker's starting point).
PUBLISHED_DEFAULT = "dev-only-insecure-key-change-me-in-production"


def test_a_key_is_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    first = secret_key.configured_secret_key({}, tmp_path, debug=False)
    kept = tmp_path / secret_key.FILE_NAME
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert len(first) >= 50 and len(set(first)) >= 5  # what Django's check --deploy asks
    assert secret_key.configured_secret_key({}, tmp_path, debug=False) == first
    assert secret_key.configured_secret_key({}, tmp_path / "elsewhere", debug=False) != first
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [secret_key.FILE_NAME]  # no leftovers


def test_a_loosened_key_file_is_made_private_again(tmp_path: Path) -> None:
    key = secret_key.load_or_create(tmp_path)
    (tmp_path / secret_key.FILE_NAME).chmod(0o644)
    assert secret_key.load_or_create(tmp_path) == key
    assert stat.S_IMODE((tmp_path / secret_key.FILE_NAME).stat().st_mode) == 0o600


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / secret_key.FILE_NAME).write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="empty"):
        secret_key.load_or_create(tmp_path)


def _start(var_dir: str, barrier: Any, keys: Any) -> None:
    barrier.wait()  # every process reaches the missing file at once
    keys.put(secret_key.load_or_create(Path(var_dir)))


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        var_dir = tmp_path / f"run-{attempt}"
        barrier, keys = context.Barrier(8), context.Queue()
        starts = [context.Process(target=_start, args=(str(var_dir), barrier, keys)) for _ in range(8)]
        for start in starts:
            start.start()
        found = {keys.get(timeout=30) for _ in starts}
        for start in starts:
            start.join(30)
        assert found == {(var_dir / secret_key.FILE_NAME).read_text().strip()}
        assert [p.name for p in var_dir.iterdir()] == [secret_key.FILE_NAME]


def test_the_environment_key_wins_and_nothing_is_written(tmp_path: Path) -> None:
    configured = "k" * 20 + "-a-long-random-looking-key-from-the-environment-1234567890"
    assert (
        secret_key.configured_secret_key({"MALOTE_SECRET_KEY": configured}, tmp_path, debug=False)
        == configured
    )
    assert not (tmp_path / secret_key.FILE_NAME).exists()


@pytest.mark.parametrize("published", [PUBLISHED_DEFAULT, "django-insecure-" + "x1y2z3" * 10])
def test_production_mode_refuses_a_published_key(tmp_path: Path, published: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="publicly known"):
        secret_key.configured_secret_key({"MALOTE_SECRET_KEY": published}, tmp_path, debug=False)
    (tmp_path / secret_key.FILE_NAME).write_text(published + "\n")  # copied into var/: refused too
    with pytest.raises(ImproperlyConfigured, match="publicly known"):
        secret_key.configured_secret_key({}, tmp_path, debug=False)
    # Debug mode (a developer's machine) still starts.
    assert (
        secret_key.configured_secret_key({"MALOTE_SECRET_KEY": published}, tmp_path, debug=True) == published
    )


def _settings_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "malote.settings",
        "MALOTE_VAR_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_server_refuses_to_start_on_the_published_default(tmp_path: Path) -> None:
    refused = _settings_process(tmp_path, MALOTE_SECRET_KEY=PUBLISHED_DEFAULT)
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and "publicly known" in refused.stderr
    started = _settings_process(tmp_path)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == (tmp_path / secret_key.FILE_NAME).read_text().strip()
