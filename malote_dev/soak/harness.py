"""The soak's process tree: every sandbox fake, the SMTP sink, gunicorn and ``malote worker`` × N.

Runs inside the soak's inner process, whose ``MALOTE_VAR_DIR`` is the scratch directory
(``var/soak/``), so Django's default SQLite database, the mailbox and every child's database are
the scratch ones. The pieces are ``malote up``'s: :func:`~malote_dev.management.commands.up.start_sandbox`
for the fakes, its mailbox and stock helpers, and ``malote demo``'s
:func:`~malote_dev.management.commands.demo.configure_sandbox_channels` for the channels. What the
soak adds: free ports everywhere, child output to log files, N workers, short reconciliation
intervals and grace periods (a day compressed into minutes), and the go-live date.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management import call_command

from malote.channels.models import Channel
from malote.core.actors import Actor
from malote.stock.actions import set_physical
from malote.stock.models import MovementReason
from malote.sync.models import Schedule
from malote_dev.management.commands.demo import configure_sandbox_channels
from malote_dev.management.commands.up import Command as UpCommand
from malote_dev.management.commands.up import start_sandbox
from malote_dev.sandbox.cli import DEFAULT_PORTS
from malote_dev.sandbox.server import FakeKind, RunningFake

#: Channel options for a day compressed into minutes (reconcile often, short graces).
SOAK_OPTIONS: dict[str, Any] = {
    "reconcile_interval_seconds": 15,
    "integration_grace_minutes": 0.5,
    "divergence_grace_minutes": 0.5,
}
#: Global schedules run more often than in production.
SCHEDULE_INTERVALS = {"reconcile:divergent": 30, "reconcile:unpaid": 60, "reconcile:tickets": 60}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Harness:
    """Start with :meth:`start`, stop with :meth:`stop` (idempotent; also a context manager)."""

    def __init__(self, *, workers: int = 2, stock: dict[str, int] | None = None) -> None:
        self.workers = workers
        self.stock = stock or {}
        self.var_dir = Path(settings.VAR_DIR)
        self.log_dir = self.var_dir / "logs"
        self.web_port = free_port()
        self.smtp_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.fakes: dict[FakeKind, RunningFake[Any]] = {}
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.mailbox: Any = None
        self.maildir: Path | None = None
        self.go_live_at: datetime | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, go_live_at: datetime) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0, interactive=False)
        self.fakes = start_sandbox(self.base, dict.fromkeys(DEFAULT_PORTS, 0))
        up = UpCommand()
        self.mailbox, self.maildir = up._mailbox(self.smtp_port)
        channels = configure_sandbox_channels(self.fakes)
        self.go_live_at = go_live_at
        for channel in channels:
            # Stock pushes, repairs and the rest keep the product's defaults: the soak judges them.
            channel.options = {**(channel.options or {}), **SOAK_OPTIONS}
            channel.go_live_at = go_live_at
            channel.save()  # re-syncs the channel's reconciliation schedule
        for name, interval in SCHEDULE_INTERVALS.items():
            Schedule.objects.filter(name=name).update(interval_seconds=interval)
        up._stock()
        for sku, quantity in self.stock.items():
            set_physical(sku, quantity, actor=Actor.system("soak"), reason=MovementReason.INVENTORY_COUNT)
        os.environ["MALOTE_EMAIL_PORT"] = str(self.smtp_port)
        self._spawn(
            "web",
            str(Path(sys.executable).parent / "gunicorn"),
            "malote.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--graceful-timeout",
            "10",
            "--timeout",
            "60",
        )
        for n in range(self.workers):
            self._spawn(f"worker-{n}", sys.executable, "-m", "malote.cli", "worker", "--threads", "4")
        self._wait_ready()

    def _spawn(self, name: str, program: str, *args: str) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        child = subprocess.Popen(
            [program, *args], env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT
        )
        self.children.append((name, child))

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while time.monotonic() < deadline:
                try:
                    if http.get(f"{self.base}/healthz").status_code < 500:
                        return
                except httpx.HTTPError:
                    pass
                self.check_children()
                time.sleep(0.3)
        raise RuntimeError(f"the web server did not answer on {self.base} within {timeout:g} s")

    def check_children(self) -> None:
        for name, child in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"the {name} exited with {child.returncode} (see {self.log_dir})")

    def stop(self) -> None:
        for _, child in self.children:
            if child.poll() is None:
                child.terminate()
        for _, child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
        self.children = []
        if self.mailbox is not None:
            self.mailbox.stop()
            self.mailbox = None
        for fake in self.fakes.values():
            fake.stop()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers
    def url(self, kind: FakeKind) -> str:
        return self.fakes[kind].url

    def channel_codes(self) -> dict[str, str]:
        """Fake kind → channel code."""
        return {c.kind: c.code for c in Channel.objects.exclude(kind="manual")}
