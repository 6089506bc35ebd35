from __future__ import annotations

from django.apps import AppConfig


class DemoOutboxConfig(AppConfig):
    """Demo only: keeps sent emails so the demo can show them at /outbox/."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo_outbox"
    verbose_name = "Demo outbox"
