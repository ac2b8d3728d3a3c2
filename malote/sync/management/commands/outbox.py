"""``malote outbox list|retry|replay|drain``: see and act on the outbox and its dead letters."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from malote.core.errors import MaloteError
from malote.sync import outbox
from malote.sync.models import MessageState, OutboxMessage
from malote.sync.worker import drain


class Command(BaseCommand):
    help = "List outbox messages, retry one, replay dead letters, or deliver what is due now."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="list messages (default: dead letters)")
        listing.add_argument("--state", choices=[s.value for s in MessageState], default=MessageState.DEAD)
        listing.add_argument("--destination", default=None)
        listing.add_argument("--limit", type=int, default=50)
        retry = sub.add_parser("retry", help="make one pending or dead message due now")
        retry.add_argument("id", type=int)
        replay = sub.add_parser("replay", help="replay dead letters: given ids, or --all")
        replay.add_argument("ids", type=int, nargs="*")
        replay.add_argument("--all", action="store_true")
        replay.add_argument("--destination", default=None)
        sub.add_parser("drain", help="deliver everything due now in this process, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            qs = OutboxMessage.objects.filter(state=options["state"]).order_by("id")
            if options["destination"]:
                qs = qs.filter(destination=options["destination"])
            for m in qs[: options["limit"]]:
                self.stdout.write(
                    f"{m.pk}\t{m.destination}\t{m.kind}\t{m.key}\tattempts={m.attempts}\t{m.last_error[:80]}"
                )
        elif action == "retry":
            try:
                outbox.retry_now(options["id"])
            except MaloteError as exc:
                raise CommandError(exc.detail) from None
            self.stdout.write(f"message {options['id']} is due now")
        elif action == "replay":
            if options["all"]:
                count = outbox.replay_all_dead(options["destination"])
            elif options["ids"]:
                count = outbox.replay(options["ids"])
            else:
                raise CommandError("Give message ids or --all.")
            self.stdout.write(f"replayed {count} message(s)")
        else:
            self.stdout.write(f"delivered {drain()} message(s)")
