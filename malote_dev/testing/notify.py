"""A real SMTP server (aiosmtpd) on a free local port that keeps what it accepts (tests, demos)."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpSink:
    """Collects every accepted message; ``refuse`` maps a recipient to the reply that rejects it.

    ``stop()`` and ``start()`` take the server down and bring it back on the same port.
    """

    def __init__(self) -> None:
        self.port = _free_port()
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}
        self._controller: Controller | None = None

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def bodies(self) -> list[str]:
        # SMTP carries CRLF line ends; compare with the templates' LF.
        return [
            str(cast(Any, m.get_body(("plain",))).get_content()).replace("\r\n", "\n") for m in self.messages
        ]

    def header(self, name: str) -> list[str]:
        return [str(m[name]) for m in self.messages]
