"""``malote up``: everything ``make run`` shows a newcomer, in one supervised process tree.

Starts the sandbox fakes (:data:`malote_dev.sandbox.cli.DEFAULT_PORTS`: Jumpseller, Tiny, Pagar.me,
SkyHub, Mercado Livre, Bling, VTEX, Adyen, Zendesk; ``--<kind>-port`` moves one, 0 = any free port)
and a local mailbox, points the sandbox channels at them
(:func:`~malote_dev.management.commands.demo.configure_sandbox_channels`, the same channels
``malote demo`` creates), then runs the web server (gunicorn) and one delivery worker as child
processes, and the demo's shoppers, marketplaces and ERP operator
(:class:`~malote_dev.sandbox.demo.DemoDriver`). Ctrl+C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from malote.core.actors import Actor
from malote.stock.actions import set_physical
from malote.stock.models import MovementReason, StockItem
from malote_dev.management.commands.demo import (
    SANDBOX_BY_KIND,
    TINY_WEBHOOK_TOKEN,
    configure_sandbox_channels,
    webhook_url,
)
from malote_dev.sandbox.cli import DEFAULT_PORTS, TITLES
from malote_dev.sandbox.demo import DemoDriver
from malote_dev.sandbox.seed import PRODUCTS
from malote_dev.sandbox.server import FakeKind, RunningFake, start_fake


def start_sandbox(
    base: str, ports: Mapping[FakeKind, int] | None = None, *, host: str = "127.0.0.1"
) -> dict[FakeKind, RunningFake[Any]]:
    """Start every fake of :data:`DEFAULT_PORTS` (``ports`` overrides some), each sending its
    webhooks to Malote's web server at ``base``. On a failure the ones started are stopped."""
    fakes: dict[FakeKind, RunningFake[Any]] = {}
    try:
        for kind, default_port in DEFAULT_PORTS.items():
            config: dict[str, Any] = {}
            if (url := webhook_url(kind, base)) is not None:
                config["webhook_url"] = url
            if kind == "tiny":
                config["webhook_token"] = TINY_WEBHOOK_TOKEN
            port = (ports or {}).get(kind, default_port)
            try:
                fakes[kind] = start_fake(kind, port=port, host=host, **config)
            except OSError as error:
                raise CommandError(f"cannot start the {kind} fake on {host}:{port}: {error}") from error
    except BaseException:
        for fake in fakes.values():
            fake.stop()
        raise
    return fakes


def sandbox_summary(fakes: Mapping[FakeKind, RunningFake[Any]]) -> str:
    """One line per fake: its title, URL and the demo channel that talks to it."""
    lines = []
    for kind, fake in fakes.items():
        spec = SANDBOX_BY_KIND.get(kind)
        channel = f"  (channel {spec.code})" if spec is not None else ""
        lines.append(f"    {TITLES[kind] + ':':<36} {fake.url}{channel}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Run Malote with the sandbox, a mailbox, the web server and a worker (the demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--smtp-port", type=int, default=1025)
        parser.add_argument("--no-driver", action="store_true", help="no simulated shoppers or ERP operator")
        parser.add_argument(
            "--driver-period", type=float, default=20.0, help="seconds between two simulated purchases (20)"
        )
        for kind, port in DEFAULT_PORTS.items():
            parser.add_argument(
                f"--{kind}-port", type=int, default=port, help=f"{TITLES[kind]} fake's port (default {port})"
            )

    def handle(self, *args: Any, **options: Any) -> None:
        base = f"http://{options['host']}:{options['port']}"
        stop = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)
        }
        fakes: dict[FakeKind, RunningFake[Any]] = {}
        children: list[tuple[str, subprocess.Popen[bytes]]] = []
        mailbox: Any = None
        try:
            fakes = start_sandbox(base, {kind: options[f"{kind}_port"] for kind in DEFAULT_PORTS})
            mailbox, maildir = self._mailbox(options["smtp_port"])
            configure_sandbox_channels(fakes)
            self._stock()
            children += [
                ("web", self._spawn(
                    "gunicorn", "malote.wsgi:application", "--bind", f"{options['host']}:{options['port']}",
                    "--workers", "2", "--threads", "4", "--access-logfile", "-", "--graceful-timeout", "10",
                    # The access log without query strings (webhook tokens, searches).
                    "--config", "python:malote.gunicorn_config",
                )),
                ("worker", self._spawn(sys.executable, "-m", "malote.cli", "worker", "--threads", "4")),
            ]  # fmt: skip
            if not options["no_driver"]:
                driver = DemoDriver(
                    fakes["jumpseller"], fakes["pagarme"], fakes["tiny"],
                    skyhub=fakes.get("skyhub"), mercadolivre=fakes.get("mercadolivre"),
                    vtex=fakes.get("vtex"), period=options["driver_period"], stop=stop,
                )  # fmt: skip
                threading.Thread(target=driver.run, name="demo-driver", daemon=True).start()
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nMalote is running on {base}  (API docs {base}/api/docs, admin {base}/admin/)\n"
                    "  sandbox (state and faults under <url>/_sandbox):\n"
                    f"{sandbox_summary(fakes)}\n"
                    f"  customer e-mails land in {maildir}\n"
                    f"  every {options['driver_period']:g} s a shopper buys: every other time at the\n"
                    "  Jumpseller store (paying through Pagar.me), else at a SkyHub marketplace, at Mercado\n"
                    "  Livre or in the VTEX store. Malote imports the order and sends it to the ERPs (Tiny\n"
                    "  and Bling); the Tiny operator invoices and ships, the NF-e and tracking go back to\n"
                    "  the sale's channel, and the marketplaces' own logistics report their deliveries.\n"
                    "  Ctrl+C stops everything.\n"
                )
            )
            self.stdout.flush()
            while not stop.wait(0.5):
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"the {name} exited with {child.returncode}; stopping")
                        stop.set()
        finally:
            stop.set()
            for _, child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for _, child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            if mailbox is not None:
                mailbox.stop()
            for fake in fakes.values():
                fake.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _spawn(self, program: str, *args: str) -> subprocess.Popen[bytes]:
        executable = program if program == sys.executable else str(Path(sys.executable).parent / program)
        return subprocess.Popen([executable, *args], env=os.environ.copy())

    def _mailbox(self, port: int) -> tuple[Any, Path]:
        """A local SMTP server writing to a maildir: (its controller, the folder new mail lands in)."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Mailbox

        directory = Path(settings.VAR_DIR) / "mailbox"
        for part in ("tmp", "new", "cur"):  # a maildir; Python creates these only for a new folder
            (directory / part).mkdir(parents=True, exist_ok=True)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per SMTP command otherwise
        controller = Controller(Mailbox(directory), hostname="127.0.0.1", port=port)
        controller.start()
        return controller, directory / "new"

    def _stock(self) -> None:
        """Stock for the SKUs the fakes sell (the sandbox's catalogue)."""
        for product in PRODUCTS:
            if not StockItem.objects.filter(sku=product.sku).exists():
                set_physical(
                    product.sku, 50, actor=Actor.system("demo"), reason=MovementReason.INVENTORY_COUNT,
                    name=product.name,
                )  # fmt: skip
