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
# Benchmarks that also run on a scratch PostgreSQL database of their own (``--database postgres://…``).
ON_POSTGRES = ("transitions", "search", "delivery", "latency", "backoffice", "workers")


class Command(BaseCommand):
    help = (
        "Run a benchmark on a scratch SQLite database (or, with --database postgres://…, a scratch "
        "PostgreSQL database) and print its figures as JSON."
    )
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
        growth = sub.add_parser("growth", help="work on an empty vs a filled database")
        growth.add_argument("--outbox-rows", type=int, default=10_000_000, help="delivered messages")
        growth.add_argument("--orders", type=int, default=1_000_000, help="a year of orders")
        growth.add_argument("--reuse", action="store_true", help="keep the filled var/bench/growth-*/")
        workers = sub.add_parser("workers", help="PostgreSQL: 1/2/4 worker processes against procrastinate")
        workers.add_argument("--messages", type=int, default=4000)
        workers.add_argument("--orders", type=int, default=400)
        workers.add_argument("--threads", type=int, default=4, help="deliveries in flight per process")
        workers.add_argument("--counts", default="1,2,4", help="worker process counts to measure")
        for name in ON_POSTGRES:
            sub.choices[name].add_argument(
                "--database",
                default=None,
                help="postgres://… : run on a scratch database on that server (created, then dropped)",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["which"] in ("delivery", "latency") and settings.SETTINGS_MODULE != BENCH_SETTINGS:
            # The peer (django-tasks-db) is installed only in the benchmark's own settings.
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}
            raise SystemExit(subprocess.call([sys.executable, "-m", "malote.cli", *sys.argv[1:]], env=env))
        from malote_dev.bench import database

        try:
            database.select_database(options.get("database"))
        except database.DatabaseUnavailable as exc:
            skipped = {"benchmark": options["which"], "skipped": str(exc)}
            self.stdout.write(json.dumps(skipped, indent=2, ensure_ascii=False))
            return
        try:
            result = database.relabel(self._run(options))
        finally:
            database.drop_scratch_databases()
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))

    def _run(self, options: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any]
        if options["which"] == "workers":
            from malote_dev.bench import workers

            counts = [int(n) for n in options["counts"].split(",")]
            result = workers.run(options["messages"], options["orders"], options["threads"], counts)
        elif options["which"] == "delivery":
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
        elif options["which"] == "growth":
            from malote_dev.bench import growth

            result = growth.run(options["outbox_rows"], options["orders"], reuse=options["reuse"])
        elif options["which"] == "retention":
            from malote_dev.bench import retention

            result = retention.run(options["days"], options["orders_per_day"])
        elif options["which"] == "transitions":
            from malote_dev.bench import transitions

            result = transitions.run(options["orders"])
        else:
            from malote_dev.bench import search

            result = search.run(options["orders"], reuse=options["reuse"], queries=options["queries"])
        return result
