"""A local SMTP server that keeps what it receives: for the tests and the benches.

Built on aiosmtpd, a dev dependency (the demo writes .eml files instead: `alerts.mail_dir`);
listens on 127.0.0.1 only. Messages are kept in memory (and optionally written as .eml files),
so a test can assert on the real emails banwatch sent over SMTP.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, sink: MailSink):
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.sink._keep(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class MailSink:
    """`with MailSink() as sink:` ... `sink.port`, `sink.messages`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, directory: str | Path | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.directory = Path(directory) if directory else None
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Lock()
        self._controller: Any = None

    def _keep(self, message: EmailMessage, rcpt: list[str]) -> None:
        with self._lock:
            self.messages.append(message)
            self.recipients.append(rcpt)
            if self.directory:
                self.directory.mkdir(parents=True, exist_ok=True)
                (self.directory / f"{len(self.messages):03d}.eml").write_bytes(message.as_bytes())

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
