"""``malote rotate_credentials_key [--check]``: re-encrypt every channel's credentials under the
first key of ``MALOTE_CREDENTIALS_KEY`` (docs/security.md, "Credentials at rest")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from malote.channels.actions import reencrypt_credentials
from malote.channels.errors import ChannelsErrorCode
from malote.core import vault


class Command(BaseCommand):
    help = (
        f"Re-encrypt every channel's credentials under the first key of {vault.ENV_VAR}; "
        "--check only verifies that the configured keys decrypt them all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="write nothing; fail if any channel's credentials are unreadable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check_only = options["check"]
        try:
            result = reencrypt_credentials(check_only=check_only)
        except vault.VaultKeyError as exc:
            raise CommandError(str(exc)) from None
        verb = "readable" if check_only else "re-encrypted"
        self.stdout.write(f"{len(result.done)} channel(s) {verb}")
        if result.unreadable:
            raise CommandError(
                f"{ChannelsErrorCode.CREDENTIALS_UNREADABLE}: no configured key decrypts the credentials of"
                f" {', '.join(result.unreadable)}; they were left as they are."
            )
