"""``malote prune``: apply the retention policies now (see ``malote.sync.retention``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from malote.sync import retention


class Command(BaseCommand):
    help = (
        "Delete delivered outbox messages, settled inbox events, schedule runs and expired "
        "idempotency records past their retention; dead letters only with --dead-letters-older-than."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")
        parser.add_argument(
            "--export",
            type=Path,
            default=None,
            metavar="PATH",
            help="write every pruned row to this new gzip file (JSON lines) before deleting it",
        )
        parser.add_argument(
            "--dead-letters-older-than",
            type=float,
            default=None,
            metavar="DAYS",
            help="also prune dead letters that died more than DAYS ago (never done by the schedule)",
        )
        parser.add_argument("--batch", type=int, default=retention.BATCH_SIZE, help="rows per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        export: Path | None = options["export"]
        if export is not None and options["dry_run"]:
            raise CommandError("--export and --dry-run do not go together: a dry run writes nothing.")
        if export is not None and export.exists():
            raise CommandError(f"{export} exists; an export never overwrites a file.")
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        try:
            rules = retention.policy(dead_letter_days=options["dead_letters_older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            report = retention.prune(
                rules=rules, dry_run=options["dry_run"], export=export, batch_size=options["batch"]
            )
        except OSError as exc:
            raise CommandError(f"export failed, the batch being written was not deleted: {exc}") from None
        for table, count in report.counts.items():
            self.stdout.write(f"{table}\t{count}")
        if retention.DEAD_LETTERS in report.counts:
            note = "" if report.dry_run else (f", exported to {export}" if export else ", not exported")
            self.stdout.write(f"dead letters: {report.counts[retention.DEAD_LETTERS]}{note}")
        self.stdout.write(report.summary() + (f"; exported to {export}" if export is not None else ""))
