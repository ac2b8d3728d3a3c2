"""``malote reconcile [--channel C] [--since DATE] [--backfill] [--dry-run] [--report PATH]``: run every
reconciliation check now (the same code the schedules run), with a progress bar on stderr, a
summary on stdout and a CSV report (its path is printed).

Checks: not-integrated orders for each enabled channel that lists orders (or only ``--channel``),
stuck orders, unpaid orders past their deadline (auto-cancel), divergences. ``--since`` replaces
the channels' look-back (``YYYY-MM-DD`` = that day's start in Brasília, or an ISO date-time).
The window never starts before a channel's go-live (``Channel.go_live_at``): older orders are
history. ``--backfill --since DATE`` is the operator's explicit exception: the not-integrated
checks then reach back to ``DATE`` across the go-live. ``--dry-run`` changes nothing (no issue, no
cancel, no repair) and lists, per order, the action it would take and why.
The CSV lists what this run found (dry run) or the active issues after it.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.orders.export import neutralise
from malote.reconcile import divergent, integration, selectors, stuck, unpaid
from malote.reconcile.calendar import BRASILIA
from malote.reconcile.errors import ReconcileErrorCode
from malote.reconcile.jobs import CHECKED_ROLES, lists_orders
from malote.sync.errors import DeliveryError

COLUMNS = [
    "kind",
    "what",
    "channel",
    "order",
    "external_ref",
    "reference",
    "state",
    "detail",
    "recommended_action",
    "action",
    "why",
]


def _cell(value: Any) -> str:
    return "" if value is None else neutralise(str(value))


def parse_since(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0, 0), BRASILIA)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since {text!r}: use YYYY-MM-DD or an ISO 8601 date-time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=BRASILIA)


class Progress:
    """A one-line progress bar on stderr (only redrawn; never mixed with stdout)."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total, self.done, self.stream = max(total, 1), 0, stream or sys.stderr

    def step(self, label: str) -> None:
        width = 30
        filled = int(width * self.done / self.total)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label[:40]:<40}"
        )
        self.stream.flush()

    def advance(self) -> None:
        self.done += 1

    def finish(self) -> None:
        self.step("pronto")
        self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Find non-integrated, stuck, unpaid and divergent orders now; print a summary, write a CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", help="only this channel's checks (code)")
        parser.add_argument("--since", help="look back to this date (YYYY-MM-DD) or ISO date-time")
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="with --since: also check orders placed before the channels' go-live",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="change nothing; report what would be done"
        )
        parser.add_argument("--report", help="CSV path (default var/reports/reconcile-<time>.csv)")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("malote reconcile")
        dry_run = bool(options["dry_run"])
        since = parse_since(options["since"]) if options["since"] else None
        backfill = bool(options["backfill"])
        if backfill and since is None:
            raise CommandError("--backfill needs --since DATE: how far back to reconcile.")
        channel: Channel | None = None
        if options["channel"]:
            channel = Channel.objects.filter(code=options["channel"]).first()
            if channel is None:
                raise CommandError(f"No channel {options['channel']!r}.")
        checked = [
            ch
            for ch in ([channel] if channel else Channel.objects.filter(enabled=True).exclude(kind="manual"))
            if ch.role in CHECKED_ROLES and lists_orders(ch)
        ]
        findings: list[dict[str, Any]] = []
        summary: dict[str, Counter[str]] = {}
        steps: list[tuple[str, Callable[[], Counter[str] | dict[str, int]]]] = [
            (
                f"integration:{ch.code}",
                partial(
                    integration.check,
                    ch,
                    actor=actor,
                    dry_run=dry_run,
                    since=since,
                    findings=findings,
                    backfill=backfill,
                ),
            )
            for ch in checked
        ]
        steps.append(("stuck", lambda: self._stuck(channel, actor, dry_run, findings)))
        steps.append(
            (
                "unpaid",
                lambda: unpaid.run(
                    actor=actor, dry_run=dry_run, channel_code=channel.code if channel else ""
                ),
            )
        )
        steps.append(
            (
                "divergent",
                lambda: divergent.detect(actor=actor, channel=channel, dry_run=dry_run, findings=findings),
            )
        )
        progress = Progress(len(steps), self.stderr._out)
        for label, step in steps:
            progress.step(label)
            try:
                summary[label] = Counter(step())
            except DeliveryError as exc:
                summary[label] = Counter({ReconcileErrorCode.UNREACHABLE: 1})
                findings.append(
                    {
                        "kind": "error",
                        "what": ReconcileErrorCode.UNREACHABLE,
                        "channel": label,
                        "detail": exc.detail,
                    }
                )
            progress.advance()
        progress.finish()
        rows = findings if dry_run else self._active_rows(channel)
        path = self._write(rows, options["report"])
        self.stdout.write("Dry run: nothing was changed." if dry_run else "Reconciliation done.")
        for label, counts in summary.items():
            text = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()) if value) or "ok"
            self.stdout.write(f"  {label}: {text}")
        if dry_run:
            for row in findings:
                if row.get("action"):
                    subject = row.get("order") or row.get("external_ref") or ""
                    self.stdout.write(
                        f"  {row['channel']} {subject}: {row['action']} — {row.get('why') or row['what']}"
                    )
        self.stdout.write(f"{len(rows)} row(s) in the report: {path}")

    @staticmethod
    def _stuck(
        channel: Channel | None, actor: Actor, dry_run: bool, findings: list[dict[str, Any]]
    ) -> dict[str, int]:
        if not dry_run:
            return stuck.detect(actor=actor, channel=channel)
        found = stuck.find_stuck(channel=channel)
        for order, stage, due in found:
            findings.append(
                {
                    "kind": "stuck",
                    "what": stage.code,
                    "channel": order.channel.code,
                    "order": order.number,
                    "external_ref": order.external_id,
                    "reference": due.isoformat(),
                }
            )
        return {"stuck": len(found)}

    @staticmethod
    def _active_rows(channel: Channel | None) -> list[dict[str, Any]]:
        qs = selectors.filtered(state="active", channel=channel.code if channel else None)
        return [
            {
                "kind": issue.kind,
                "channel": issue.channel.code,
                "order": issue.order.number if issue.order else "",
                "external_ref": issue.external_ref or (issue.order.external_id if issue.order else ""),
                "state": issue.state,
                "detail": issue.detail,
                "recommended_action": issue.recommended_action,
            }
            for issue in qs
        ]

    @staticmethod
    def _write(rows: list[dict[str, Any]], given: str | None) -> Path:
        if given:
            path = Path(given)
        else:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            path = Path(settings.VAR_DIR) / "reports" / f"reconcile-{stamp}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                # External references and details come from other systems: no formula reaches a sheet.
                writer.writerow({column: _cell(row.get(column)) for column in COLUMNS})
        return path
