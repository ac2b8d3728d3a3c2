"""``malote worker``: deliver the outbox and run schedules until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from malote.sync.retention import ensure_prune_schedule
from malote.sync.worker import Worker, WorkerOptions


class Command(BaseCommand):
    help = "Run a delivery worker (any number may run at once; on PostgreSQL, on any number of hosts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=50, help="messages claimed per round")
        parser.add_argument("--threads", type=int, default=8, help="parallel deliveries within a batch")
        parser.add_argument("--lease", type=float, default=30.0, help="lease seconds (renewed by heartbeat)")
        parser.add_argument("--no-schedules", action="store_true", help="deliver only; run no periodic jobs")
        parser.add_argument("--name", default=None, help="worker name (default host:pid:random)")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = Worker(
            WorkerOptions(
                batch=options["batch"],
                threads=options["threads"],
                lease_seconds=options["lease"],
                run_schedules=not options["no_schedules"],
            ),
            name=options["name"],
        )
        if not options["no_schedules"]:
            ensure_prune_schedule()  # a new install's first worker brings the daily retention
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        self.stdout.write(f"worker {worker.name} running (SIGTERM to stop)")
        self.stdout.flush()
        worker.run()
