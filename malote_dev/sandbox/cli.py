"""Start the demo's fakes: ``python -m malote_dev.sandbox.cli`` (or ``main(argv)``).

Defaults (:data:`DEFAULT_PORTS`): Jumpseller on 8101, Tiny on 8102, Pagar.me on 8103, SkyHub on
8104, Mercado Livre on 8105, Bling on 8106, VTEX on 8107, Adyen on 8108, Zendesk on 8109, all on
127.0.0.1 and seeded with the demo store; each port is an option (``--skyhub-port 9104``; 0 = any
free port). The URLs and credentials are printed, then the fakes run until SIGINT or SIGTERM.
Importable without Django (``malote sandbox`` wraps :func:`main`; ``malote up`` starts the same
kinds on the same ports).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, TextIO

from malote_dev.sandbox.server import FakeKind, RunningFake, start_fake

# The order is the start-up and print order.
DEFAULT_PORTS: dict[FakeKind, int] = {
    "jumpseller": 8101,
    "tiny": 8102,
    "pagarme": 8103,
    "skyhub": 8104,
    "mercadolivre": 8105,
    "bling": 8106,
    "vtex": 8107,
    "adyen": 8108,
    "zendesk": 8109,
}
TITLES: dict[FakeKind, str] = {
    "jumpseller": "Jumpseller (storefront)",
    "tiny": "Tiny ERP",
    "pagarme": "Pagar.me",
    "skyhub": "SkyHub (Americanas Marketplace)",
    "mercadolivre": "Mercado Livre",
    "bling": "Bling ERP",
    "vtex": "VTEX (storefront)",
    "adyen": "Adyen",
    "zendesk": "Zendesk Support",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="malote-sandbox",
        description=f"Fake servers of {', '.join(TITLES.values())} for Malote's demo and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    for kind, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{kind}-port", type=int, default=port, help=f"{kind} port (default {port})")
        parser.add_argument(
            f"--{kind}-webhook-url", default=None, help=f"where the {kind} fake POSTs webhooks"
        )
    parser.add_argument("--no-seed", action="store_true", help="start with empty stores")
    return parser


def describe(fake: RunningFake[Any]) -> str:
    lines = [f"{TITLES[fake.kind]}: {fake.api_url}", f"  control:  {fake.url}/_sandbox"]
    lines += [f"  {name}: {value}" for name, value in fake.credentials.items()]
    webhook_url = fake.config.get("webhook_url")
    lines.append(f"  webhooks: {webhook_url or '(recorded only; set webhook_url via POST /_sandbox/config)'}")
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None, *, stop: threading.Event | None = None, out: TextIO | None = None
) -> int:
    """Run the fakes until SIGINT/SIGTERM (or until ``stop`` is set); returns the exit status."""
    args = build_parser().parse_args(argv)
    output = out or sys.stdout
    stop_event = stop or threading.Event()
    fakes: list[RunningFake[Any]] = []
    # Handlers go in before anything starts: a signal during start-up must still stop cleanly.
    with _stopped_by_signals(stop_event):
        try:
            for kind in DEFAULT_PORTS:
                port = getattr(args, f"{kind}_port")
                webhook_url = getattr(args, f"{kind}_webhook_url")
                try:
                    fakes.append(
                        start_fake(
                            kind, port=port, host=args.host, seed=not args.no_seed, webhook_url=webhook_url
                        )
                    )
                except OSError as error:
                    print(f"cannot start the {kind} fake on {args.host}:{port}: {error}", file=sys.stderr)
                    return 1
            print("Malote sandbox running (Ctrl+C to stop)\n", file=output)
            for fake in fakes:
                print(describe(fake) + "\n", file=output)
            output.flush()
            # Short waits keep the main thread responsive to signals.
            while not stop_event.wait(0.2):
                pass
            return 0
        finally:
            for fake in fakes:
                fake.stop()


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``stop.set()`` (only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
