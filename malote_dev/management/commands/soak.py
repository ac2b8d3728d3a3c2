"""``malote soak [--seed N] [--minutes M] [--workers N] [--out PATH]``: a whole-system day with an
oracle (a benchmark: it prints JSON, it asserts nothing).

The command wipes ``var/soak/`` and runs the soak in a child process whose ``MALOTE_VAR_DIR`` is
that directory, so the scratch SQLite database (migrated first), the mailbox and every process the
soak starts (gunicorn, the workers) use it and never the developer's ``var/``. See
:mod:`malote_dev.soak`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

INNER = "MALOTE_SOAK_INNER"


class Command(BaseCommand):
    help = "Run a compressed day of sales and faults against the sandbox and print the oracle's JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--minutes", type=float, default=5.0, help="wall time (5)")
        parser.add_argument("--workers", type=int, default=2, help="malote worker processes (2)")
        parser.add_argument("--out", default=None, help="also write the JSON here")
        parser.add_argument("--small", action="store_true", help="only a couple of faults (the suite's soak)")
        parser.add_argument(
            "--sales",
            type=int,
            default=None,
            help="purchases in the day (default one per 10 s of the day, at least 6: 18 in 5 minutes)",
        )
        parser.add_argument("--dir", default=None, help="scratch directory, wiped first (default var/soak)")

    def handle(self, *args: Any, **options: Any) -> None:
        if os.environ.get(INNER) == "1":
            from malote_dev.soak.oracle import to_json
            from malote_dev.soak.run import run_soak

            report = run_soak(
                seed=options["seed"],
                minutes=options["minutes"],
                workers=options["workers"],
                small=options["small"],
                sales=options["sales"],
            )
            self.stdout.write(to_json(report))
            return
        scratch = Path(options["dir"] or Path(settings.BASE_DIR) / "var" / "soak")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        # The soak's database is always its own scratch SQLite file: a DATABASE_URL in the caller's
        # environment (a real database, or the suite's PostgreSQL pass) is never touched.
        env = {
            **{key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
            INNER: "1",
            "MALOTE_VAR_DIR": str(scratch),
            "DJANGO_SETTINGS_MODULE": "malote_dev.settings",
            "MALOTE_LOG_LEVEL": "WARNING",
        }
        argv = [
            sys.executable,
            "-m",
            "malote.cli",
            "soak",
            "--seed",
            str(options["seed"]),
            "--minutes",
            str(options["minutes"]),
            "--workers",
            str(options["workers"]),
        ]
        if options["small"]:
            argv.append("--small")
        if options["sales"] is not None:
            argv += ["--sales", str(options["sales"])]
        with (scratch / "soak.log").open("wb") as log:
            result = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=log, check=False)
        text = result.stdout.decode()
        if result.returncode != 0:
            raise CommandError(f"the soak failed ({result.returncode}); see {scratch / 'soak.log'}")
        json.loads(text)  # the inner process printed one JSON document
        if options["out"]:
            Path(options["out"]).write_text(text)
        self.stdout.write(text)
