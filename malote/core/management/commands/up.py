"""``malote up``: everything ``make run`` shows a newcomer, in one supervised process tree.

Starts the sandbox fakes (Jumpseller, Tiny, Pagar.me) and a local mailbox, points demo channels at
them, then runs the web server (gunicorn) and one delivery worker as child processes, and the
demo's shoppers and ERP operator. Ctrl+C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from malote.channels.jobs import sync_poll_schedule
from malote.channels.models import Channel, ChannelRole, ImportPolicy
from malote.core.actors import Actor
from malote.sandbox.demo import DemoDriver
from malote.sandbox.seed import PRODUCTS
from malote.sandbox.server import RunningFake, start_fake
from malote.stock.actions import set_physical
from malote.stock.models import MovementReason, StockItem


class Command(BaseCommand):
    help = "Run Malote with the sandbox, a mailbox, the web server and a worker (the demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--smtp-port", type=int, default=1025)
        parser.add_argument("--no-driver", action="store_true", help="no simulated shoppers or ERP operator")

    def handle(self, *args: Any, **options: Any) -> None:
        base = f"http://{options['host']}:{options['port']}"
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        tiny_hook_token = "demo-tiny-webhook-token"
        jumpseller = start_fake("jumpseller", port=8101, webhook_url=f"{base}/hooks/loja")
        tiny = start_fake("tiny", port=8102, webhook_url=f"{base}/hooks/tiny", webhook_token=tiny_hook_token)
        pagarme = start_fake("pagarme", port=8103, webhook_url=f"{base}/hooks/pagarme")
        fakes: list[RunningFake[Any]] = [jumpseller, tiny, pagarme]
        mailbox = self._mailbox(options["smtp_port"])
        self._configure(jumpseller, tiny, pagarme, tiny_hook_token)
        children: list[tuple[str, subprocess.Popen[bytes]]] = [
            ("web", self._spawn(
                "gunicorn", "malote.wsgi:application", "--bind", f"{options['host']}:{options['port']}",
                "--workers", "2", "--threads", "4", "--access-logfile", "-", "--graceful-timeout", "10",
            )),
            ("worker", self._spawn(sys.executable, "-m", "malote.cli", "worker", "--threads", "4")),
        ]  # fmt: skip
        if not options["no_driver"]:
            driver = DemoDriver(jumpseller, pagarme, tiny, stop=stop)
            threading.Thread(target=driver.run, name="demo-driver", daemon=True).start()
        self.stdout.write(
            self.style.SUCCESS(
                f"\nMalote is running on {base}  (API docs {base}/api/docs, admin {base}/admin/)\n"
                f"  sandbox: Jumpseller {jumpseller.url}  Tiny {tiny.url}  Pagar.me {pagarme.url}"
                f"  (state and faults under /_sandbox)\n"
                f"  customer e-mails land in {mailbox}\n"
                "  every 20 s a shopper buys in the Jumpseller store and pays through Pagar.me; Malote\n"
                "  imports the order, sends it to Tiny, and the Tiny operator invoices, ships and delivers.\n"
                "  Ctrl+C stops everything.\n"
            )
        )
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"the {name} exited with {child.returncode}; stopping")
                        stop.set()
        finally:
            for _, child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for _, child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
            for fake in fakes:
                fake.stop()

    def _spawn(self, program: str, *args: str) -> subprocess.Popen[bytes]:
        executable = program if program == sys.executable else str(Path(sys.executable).parent / program)
        return subprocess.Popen([executable, *args], env=os.environ.copy())

    def _mailbox(self, port: int) -> Path:
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Mailbox

        directory = Path(settings.VAR_DIR) / "mailbox"
        for part in ("tmp", "new", "cur"):  # a maildir; Python creates these only for a new folder
            (directory / part).mkdir(parents=True, exist_ok=True)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per SMTP command otherwise
        Controller(Mailbox(directory), hostname="127.0.0.1", port=port).start()
        return directory / "new"

    def _configure(
        self, jumpseller: RunningFake[Any], tiny: RunningFake[Any], pagarme: RunningFake[Any], hook_token: str
    ) -> None:
        """Demo channels pointing at the fakes, and stock for the store's SKUs."""
        js, tn, pg = jumpseller.credentials, tiny.credentials, pagarme.credentials
        rows = [
            ("loja", "Loja Jumpseller (sandbox)", ChannelRole.STOREFRONT, "jumpseller", jumpseller.api_url,
             {"login": js["login"], "authtoken": js["authtoken"], "hooks_token": js["hooks_token"]}, {}),
            ("tiny", "Tiny ERP (sandbox)", ChannelRole.ERP, "tiny", tiny.api_url,
             {"token": tn["token"], "webhook_token": hook_token}, {}),
            ("pagarme", "Pagar.me (sandbox)", ChannelRole.GATEWAY, "pagarme", pagarme.api_url,
             {"secret_key": pg["secret_key"]}, {"jwks_url": f"{pagarme.url}/.well-known/jwks.json"}),
        ]  # fmt: skip
        for code, name, role, kind, url, credentials, options in rows:
            channel, _ = Channel.objects.update_or_create(
                code=code,
                defaults={
                    "name": name, "role": role, "kind": kind, "base_url": url, "credentials": credentials,
                    "options": options, "enabled": True, "import_policy": ImportPolicy.ALL,
                },
            )  # fmt: skip
            sync_poll_schedule(channel)
        for product in PRODUCTS:
            if not StockItem.objects.filter(sku=product.sku).exists():
                set_physical(
                    product.sku, 50, actor=Actor.system("demo"), reason=MovementReason.INVENTORY_COUNT,
                    name=product.name,
                )  # fmt: skip
