"""DEMO ONLY. An email backend that prints every message to the terminal, exactly like
Django's console backend, and also keeps it for the outbox page at /outbox/."""

from __future__ import annotations

from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend

from . import store


class EmailBackend(ConsoleEmailBackend):
    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        for message in email_messages or ():
            if message.recipients():
                store.save(message)
        return sent
