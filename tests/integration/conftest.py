"""Fixtures for the integration tests: a real SMTP server (aiosmtpd) on 127.0.0.1.

The server runs in its own thread with its own event loop, as a mail relay would run in its
own process, so Django's SMTP backend talks to it over a real socket.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

import django
import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """One message as the server got it: the SMTP envelope and the raw bytes."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class CollectingHandler:
    """aiosmtpd handler that keeps every message it accepts."""

    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=envelope.original_content or envelope.content,
                )
            )
        return "250 Message accepted for delivery"


class SMTPServer:
    """A start/stoppable SMTP server on a fixed port, so a test can take it down and bring
    it back up at the same address the site is configured with."""

    def __init__(self, port: int):
        self.host = "127.0.0.1"
        self.port = port
        self.handler = CollectingHandler()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_port() -> int:
    return free_port()


SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture
def smtp_server(smtp_port, settings):
    """An SMTP server that is *not yet started*, and Django configured to send through it.

    Tests call ``smtp_server.start()``; until then nothing listens on the port, which is
    what "the mail server is down" looks like to the site.
    """
    if django.VERSION >= (6, 1):
        # Django 6.1 configures mail backends in MAILERS (see tests/settings.py).
        options = {"host": "127.0.0.1", "port": smtp_port, "use_tls": False, "use_ssl": False}
        options |= {"username": "", "password": "", "timeout": 5}
        settings.MAILERS = {"default": {"BACKEND": SMTP_BACKEND, "OPTIONS": options}}
    else:
        settings.EMAIL_BACKEND = SMTP_BACKEND
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = smtp_port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
    server = SMTPServer(smtp_port)
    yield server
    server.stop()
