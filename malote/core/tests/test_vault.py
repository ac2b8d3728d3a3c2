"""The key ring of secrets at rest: where the keys come from, how the key file is created, rotation."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken

from malote.core import vault

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``var/`` and no key in the environment."""
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv(vault.ENV_VAR, raising=False)
    return tmp_path


def test_without_environment_a_key_file_is_created_once_private_and_reused(var_dir: Path) -> None:
    key_file = var_dir / vault.KEY_FILE_NAME
    assert not key_file.exists()
    token = vault.encrypt(b"segredo")
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Fernet(key_file.read_bytes().strip()).decrypt(token.encode()) == b"segredo"
    assert vault.decrypt(vault.encrypt(b"again")) == b"again"
    assert [p.name for p in var_dir.iterdir()] == [vault.KEY_FILE_NAME], "no temporary file is left"


def test_a_key_file_restored_with_loose_permissions_is_made_private(var_dir: Path) -> None:
    key_file = var_dir / vault.KEY_FILE_NAME
    key_file.write_text(KEY_A + "\n")
    key_file.chmod(0o644)
    assert Fernet(KEY_A).decrypt(vault.encrypt(b"x").encode()) == b"x"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_processes_starting_at_once_agree_on_one_key(var_dir: Path) -> None:
    key_file = var_dir / vault.KEY_FILE_NAME
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def first_start() -> None:
        start.wait()
        vault._create_key_file(key_file)
        keys.append(key_file.read_bytes())

    threads = [threading.Thread(target=first_start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in var_dir.iterdir()] == [vault.KEY_FILE_NAME]


def test_an_existing_key_file_is_never_replaced(var_dir: Path) -> None:
    key_file = var_dir / vault.KEY_FILE_NAME
    key_file.write_text(KEY_A + "\n")
    vault._create_key_file(key_file)
    assert key_file.read_text().strip() == KEY_A


def test_the_environment_wins_over_the_key_file_first_key_encrypts_all_decrypt(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(vault.ENV_VAR, KEY_A)
    under_a = vault.encrypt(b"old")
    assert not (var_dir / vault.KEY_FILE_NAME).exists()
    monkeypatch.setenv(vault.ENV_VAR, f" {KEY_B} , {KEY_A} ")
    under_b = vault.encrypt(b"new")
    assert vault.decrypt(under_a) == b"old" and vault.decrypt(under_b) == b"new"
    assert Fernet(KEY_B).decrypt(under_b.encode()) == b"new"
    with pytest.raises(InvalidToken):
        Fernet(KEY_A).decrypt(under_b.encode())


def test_a_token_no_configured_key_opens_is_undecryptable(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(vault.ENV_VAR, KEY_A)
    token = vault.encrypt(b"x")
    monkeypatch.setenv(vault.ENV_VAR, KEY_B)
    with pytest.raises(vault.Undecryptable):
        vault.decrypt(token)
    with pytest.raises(vault.Undecryptable):
        vault.decrypt("gAAAAAnot-a-token-é")
    assert vault.looks_encrypted(token) and not vault.looks_encrypted('{"token": "x"}')


@pytest.mark.parametrize(
    "configured", ["not-a-key", f"{KEY_A},short", " , "], ids=["garbage", "good-then-short", "blanks"]
)
def test_a_malformed_key_list_is_a_deployment_error_that_names_no_key(
    configured: str, var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(vault.ENV_VAR, configured)
    with pytest.raises(vault.VaultKeyError) as raised:
        vault.encrypt(b"x")
    assert vault.ENV_VAR in str(raised.value) and KEY_A not in str(raised.value)
    with pytest.raises(vault.VaultKeyError):
        vault.check_environment_keys()


def test_the_start_up_check_accepts_good_keys_and_creates_no_file(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.check_environment_keys()  # nothing configured: the key file comes on first use, not here
    monkeypatch.setenv(vault.ENV_VAR, f"{KEY_A},{KEY_B}")
    vault.check_environment_keys()
    assert not (var_dir / vault.KEY_FILE_NAME).exists()
