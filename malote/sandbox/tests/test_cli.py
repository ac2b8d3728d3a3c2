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

from malote.sandbox import cli


def test_main_starts_the_three_fakes_prints_urls_and_credentials_and_stops() -> None:
    output = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    argv = [
        "--jumpseller-port",
        "0",
        "--tiny-port",
        "0",
        "--pagarme-port",
        "0",
        "--tiny-webhook-url",
        "http://127.0.0.1:9/x",
    ]
    runner = threading.Thread(target=lambda: result.append(cli.main(argv, stop=stop, out=output)))
    runner.start()
    deadline = time.monotonic() + 5
    while "Pagar.me" not in output.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    text = output.getvalue()
    try:
        assert "Jumpseller (storefront): http://127.0.0.1:" in text and "/v1" in text
        assert "authtoken: " in text and "token: " in text and "secret_key: sk_test_" in text
        assert "webhooks: http://127.0.0.1:9/x" in text
        tiny_control = re.search(r"Tiny ERP: (http://127\.0\.0\.1:\d+)/api2", text)
        assert tiny_control is not None
        with httpx.Client(trust_env=False) as client:
            assert client.get(f"{tiny_control.group(1)}/_sandbox").json()["kind"] == "tiny"
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


def test_defaults_are_the_documented_ports() -> None:
    args = cli.build_parser().parse_args([])
    assert (args.jumpseller_port, args.tiny_port, args.pagarme_port) == (8101, 8102, 8103)
    assert args.host == "127.0.0.1" and args.no_seed is False


def _run_cli_until(signum: int) -> tuple[int, str]:
    script = (
        "import sys, malote.sandbox.cli as cli\n"
        "assert 'django' not in sys.modules, 'the sandbox must not import Django'\n"
        "raise SystemExit(cli.main(sys.argv[1:]))\n"
    )
    ports = ["--jumpseller-port", "0", "--tiny-port", "0", "--pagarme-port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-c", script, *ports],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Pagar.me"):
            break
    process.send_signal(signum)
    output, _ = process.communicate(timeout=10)
    return process.returncode, "".join(lines) + output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_cli_runs_without_django_until_a_signal(signum: int) -> None:
    returncode, output = _run_cli_until(signum)
    assert returncode == 0, output
    assert "Malote sandbox running" in output and "Tiny ERP: http://127.0.0.1:" in output
