from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .challenges import EmailChallenge
from .fields import optional_fk, unsent_index


class EmailSend(models.Model):
    """One email that carries no code of its own and is sent by a background task (the
    access-ready email, one recipient of a bulk email, an expiry reminder): the idempotency
    record that lets a failed send be retried with back-off and never lets a retry send it
    again after a success (``sends``, docs/security.md#mail-retries)."""

    class Kind(models.TextChoices):
        ACCESS_READY = "access_ready", _("Access email")
        BULK = "bulk", _("Bulk email")
        EXPIRY_REMINDER = "expiry_reminder", _("Expiry reminder")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    #: What makes the send unique: a rerun of the job that records it finds the same row.
    key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    email = models.EmailField(_("email"), max_length=254)
    grant = optional_fk("wagtail_member_access.Grant", _("grant"), on_delete=models.CASCADE)
    job = optional_fk(
        "wagtail_member_access.BulkEmailJob", _("bulk email"), on_delete=models.CASCADE
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    send_attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    #: Failed for good, or nothing to send any more (a revoked grant, no account).
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    #: Why: ``send_failed`` (retries used up) or ``not_eligible`` (nothing to send any more),
    #: the values of ``EmailChallenge.CancelReason``.
    cancel_reason = models.CharField(
        _("cancel reason"), max_length=20, choices=EmailChallenge.CancelReason.choices, blank=True
    )
    send_error = models.TextField(_("send error"), blank=True)

    class Meta:
        verbose_name = _("email send")
        verbose_name_plural = _("email sends")
        indexes = [
            unsent_index("wma_send_unsent"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.pk})"
