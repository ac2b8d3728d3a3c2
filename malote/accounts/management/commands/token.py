"""``malote token create --user NAME [--name LABEL]`` and ``malote token revoke PREFIX``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from malote.accounts.models import ApiToken


class Command(BaseCommand):
    help = "Create or revoke API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token for a user and print it once.")
        create.add_argument("--user", required=True)
        create.add_argument("--name", default="default")
        revoke = sub.add_parser("revoke", help="Revoke the token that starts with PREFIX.")
        revoke.add_argument("prefix")
        sub.add_parser("list", help="List tokens (prefixes only).")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}.")
            _, raw = ApiToken.issue(user, options["name"])
            self.stdout.write(raw)
        elif action == "revoke":
            count = ApiToken.objects.filter(prefix=options["prefix"][:12], revoked_at=None).update(
                revoked_at=timezone.now()
            )
            if not count:
                raise CommandError("No active token with that prefix.")
            self.stdout.write(f"revoked {count} token(s)")
        else:
            for token in ApiToken.objects.select_related("user"):
                state = "revoked" if token.revoked_at else "active"
                self.stdout.write(f"{token.prefix}…\t{token.user.get_username()}\t{token.name}\t{state}")
