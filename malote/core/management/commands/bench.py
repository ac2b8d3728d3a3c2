"""``malote bench transitions|search``: benchmarks that print JSON figures (never assert)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["which"] == "transitions":
            from malote.bench import transitions

            result = transitions.run(options["orders"])
        else:
            from malote.bench import search

            result = search.run(options["orders"], reuse=options["reuse"], queries=options["queries"])
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
