"""``malote sandbox``: serve every sandbox fake on loopback until Ctrl+C."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from malote_dev.sandbox import cli


class Command(BaseCommand):
    help = (
        "Serve faithful fakes of Jumpseller (8101), Tiny (8102), Pagar.me (8103), SkyHub (8104), "
        "Mercado Livre (8105), Bling (8106), VTEX (8107), Adyen (8108) and Zendesk (8109); --help: options."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("args", nargs="*", help="options of the sandbox (e.g. --tiny-port 9102)")

    def run_from_argv(self, argv: list[str]) -> None:
        # Hand every option to the sandbox's own parser (it documents them with --help).
        raise SystemExit(cli.main(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:
        raise SystemExit(cli.main(list(args)))
