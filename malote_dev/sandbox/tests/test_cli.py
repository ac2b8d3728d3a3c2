"""The demo launcher."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from malote_dev.sandbox import cli
from malote_dev.sandbox.server import FAKE_APPS, LAZY_FAKE_APPS

# The fakes start and print in DEFAULT_PORTS order: the last one printed means all are up.
LAST_KIND = list(cli.DEFAULT_PORTS)[-1]
LAST_TITLE = cli.TITLES[LAST_KIND]


def _any_free_ports() -> list[str]:
    """Every fake on a free port: the defaults may be taken by a running demo."""
    return [arg for kind in cli.DEFAULT_PORTS for arg in (f"--{kind}-port", "0")]


def test_main_starts_every_fake_prints_urls_and_credentials_and_stops() -> None:
    output = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    argv = [*_any_free_ports(), "--tiny-webhook-url", "http://127.0.0.1:9/x"]
    runner = threading.Thread(target=lambda: result.append(cli.main(argv, stop=stop, out=output)))
    runner.start()
    deadline = time.monotonic() + 10
    while LAST_TITLE not in output.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    text = output.getvalue()
    try:
        assert "Jumpseller (storefront): http://127.0.0.1:" in text and "/v1" in text
        assert "authtoken: " in text and "token: " in text and "secret_key: sk_test_" in text
        assert "webhooks: http://127.0.0.1:9/x" in text
        assert "accountmanager_key: " in text  # SkyHub's third key
        assert "client_secret: " in text and "user_id: " in text  # Mercado Livre's OAuth app
        roots = dict(re.findall(r"^(\S.*?): (http://127\.0\.0\.1:\d+)\S*$", text, re.MULTILINE))
        assert set(roots) == set(cli.TITLES.values())
        with httpx.Client(trust_env=False) as client:
            for kind, title in cli.TITLES.items():
                assert client.get(f"{roots[title]}/_sandbox").json()["kind"] == kind
        tiny_api = re.search(r"Tiny ERP: http://127\.0\.0\.1:\d+(/\S*)", text)
        assert tiny_api is not None and tiny_api.group(1) == "/api2"
    finally:
        stop.set()
        runner.join(5)
    assert result == [0]


def test_main_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["--jumpseller-port", str(port)], stop=threading.Event()) == 1


def test_main_stops_the_fakes_it_started_when_a_later_one_cannot_start() -> None:
    before = set(threading.enumerate())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = [*_any_free_ports(), f"--{LAST_KIND}-port", str(port)]
        assert cli.main(argv, stop=threading.Event(), out=io.StringIO()) == 1
    serving = [
        thread.name
        for thread in set(threading.enumerate()) - before
        if thread.name.startswith("sandbox-") and thread.name != "sandbox-webhooks"
    ]
    assert serving == []


def test_defaults_are_the_documented_ports() -> None:
    args = cli.build_parser().parse_args([])
    assert (args.jumpseller_port, args.tiny_port, args.pagarme_port) == (8101, 8102, 8103)
    assert (args.skyhub_port, args.mercadolivre_port, args.bling_port) == (8104, 8105, 8106)
    assert (args.vtex_port, args.adyen_port, args.zendesk_port) == (8107, 8108, 8109)
    assert args.host == "127.0.0.1" and args.no_seed is False


def test_every_default_port_is_distinct_and_every_kind_is_a_startable_fake() -> None:
    assert len(set(cli.DEFAULT_PORTS.values())) == len(cli.DEFAULT_PORTS)
    assert set(cli.TITLES) == set(cli.DEFAULT_PORTS)
    assert set(cli.DEFAULT_PORTS) <= set(FAKE_APPS) | set(LAZY_FAKE_APPS)


def _run_cli_until(signum: int) -> tuple[int, str]:
    script = (
        "import sys, malote_dev.sandbox.cli as cli\n"
        "assert 'django' not in sys.modules, 'the sandbox must not import Django'\n"
        "raise SystemExit(cli.main(sys.argv[1:]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, *_any_free_ports()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(LAST_TITLE):
            break
    process.send_signal(signum)
    output, _ = process.communicate(timeout=10)
    return process.returncode, "".join(lines) + output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_cli_runs_without_django_until_a_signal(signum: int) -> None:
    returncode, output = _run_cli_until(signum)
    assert returncode == 0, output
    assert "Malote sandbox running" in output and "Tiny ERP: http://127.0.0.1:" in output
