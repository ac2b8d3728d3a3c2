"""``malote bench <name>``: benchmarks that print JSON figures (never assert)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

BENCH_SETTINGS = "malote_dev.bench.settings"


class Command(BaseCommand):
    help = "Run a benchmark on a scratch SQLite database and print its figures as JSON."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="which", required=True)
        transitions = sub.add_parser("transitions", help="pay → invoice → ship → deliver for N orders")
        transitions.add_argument("--orders", type=int, default=2500)
        search = sub.add_parser("search", help="p50/p95 of the q search over many orders")
        search.add_argument("--orders", type=int, default=1_000_000)
        search.add_argument("--queries", type=int, default=200, help="target orders sampled (6 queries each)")
        search.add_argument("--reuse", action="store_true", help="keep and reuse var/bench/search-N.sqlite3")
        delivery = sub.add_parser("delivery", help="outbox → HTTP sink, against django-tasks-db as a peer")
        delivery.add_argument("--messages", type=int, default=5000)
        delivery.add_argument("--orders", type=int, default=500)
        delivery.add_argument("--threads", type=int, default=8)
        latency = sub.add_parser("latency", help="p50/p99 commit → delivery at a steady rate")
        latency.add_argument("--rate", type=float, default=200.0)
        latency.add_argument("--seconds", type=float, default=15.0)

        backoffice = sub.add_parser("backoffice", help="p50/p95 of the back office list and order pages")
        backoffice.add_argument("--orders", type=int, default=100_000)
        backoffice.add_argument("--requests", type=int, default=200)
        reconcile = sub.add_parser("reconcile", help="compare two systems' order listings")
        reconcile.add_argument("--orders", type=int, default=1_000_000)
        retention = sub.add_parser("retention", help="table sizes after a simulated year, and malote prune")
        retention.add_argument("--days", type=int, default=365)
        retention.add_argument("--orders-per-day", type=int, default=200, help="10000 is the target shop")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["which"] in ("delivery", "latency") and settings.SETTINGS_MODULE != BENCH_SETTINGS:
            # The peer (django-tasks-db) is installed only in the benchmark's own settings.
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}
            raise SystemExit(subprocess.call([sys.executable, "-m", "malote.cli", *sys.argv[1:]], env=env))
        if options["which"] == "delivery":
            from malote_dev.bench import delivery

            result = delivery.run_delivery(options["messages"], options["orders"], options["threads"])
        elif options["which"] == "latency":
            from malote_dev.bench import delivery

            result = delivery.run_latency(options["rate"], options["seconds"])
        elif options["which"] == "backoffice":
            from malote_dev.bench import backoffice

            result = backoffice.run(options["orders"], requests=options["requests"])
        elif options["which"] == "reconcile":
            from malote_dev.bench import reconcile

            result = reconcile.run(options["orders"])
        elif options["which"] == "retention":
            from malote_dev.bench import retention

            result = retention.run(options["days"], options["orders_per_day"])
        elif options["which"] == "transitions":
            from malote_dev.bench import transitions

            result = transitions.run(options["orders"])
        else:
            from malote_dev.bench import search

            result = search.run(options["orders"], reuse=options["reuse"], queries=options["queries"])
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
