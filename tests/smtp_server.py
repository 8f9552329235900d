"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for email tests."""

from __future__ import annotations

import email
import json
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller

from include.devdb import free_port


@dataclass
class Received:
    """One message as the server got it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded ``text/<subtype>`` body ('' when the message has none)."""
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None and body.get_content_subtype() == subtype else ""


@dataclass
class _Collector:
    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it by this name
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """``with SmtpServer() as server:`` an SMTP server on a free loopback port."""

    def __init__(self, sender: str = "airflow@beachwood.test") -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.sender = sender
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname=self.host, port=self.port)

    @property
    def messages(self) -> list[Received]:
        return self._collector.messages

    def connection_json(self) -> str:
        """The ``AIRFLOW_CONN_SMTP_DEFAULT`` value for this server: plain SMTP, no SSL or STARTTLS."""
        extra = {"disable_ssl": True, "disable_tls": True, "from_email": self.sender, "timeout": 5,
                 "retry_limit": 0}
        return json.dumps({"conn_type": "smtp", "host": self.host, "port": self.port, "extra": extra})

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The messages once at least ``count`` have arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            time.sleep(0.02)
        return self.messages

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
