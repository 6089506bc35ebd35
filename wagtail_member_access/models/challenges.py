from __future__ import annotations

import swapper
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_otp.models import ThrottlingMixin

from ..conf import app_settings
from .fields import optional_fk, optional_site, unsent_index


class EmailChallenge(models.Model):
    """One request for an emailed code and/or magic link: who asked, for what, and its state.

    The visitor's session holds the challenge's id (that binds the *code* to the browser); the
    link works in any browser. Code and link exist only in the email: we store HMACs of them.
    A challenge is created by the request (the same work for listed and unlisted emails) and
    *issued* by the background task that sends the email, only if the email may have access.
    Redeeming the code or the link marks the whole challenge redeemed, so using one cancels
    the other.
    """

    class Purpose(models.TextChoices):
        UNLOCK = "unlock", _("Unlock a page or document")
        SIGN_IN = "sign_in", _("Member sign-in")
        INVITE = "invite", _("Invitation")
        RESET = "reset", pgettext_lazy("kind of email", "Password reset")
        CHANGE_EMAIL = "change_email", _("New email address")
        DELETE_ACCOUNT = "delete_account", _("Account deletion")

    class CancelReason(models.TextChoices):
        NOT_ELIGIBLE = "not_eligible", _("The email may not view the page")
        REPLACED = "replaced", _("A newer code was sent")
        SEND_FAILED = "send_failed", _("The email could not be sent")
        EMAIL_CHANGED = "email_changed", _("The member changed their email address")

    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    email = models.EmailField(_("email"), max_length=254)
    page = optional_fk(
        swapper.get_model_name("wagtailcore", "Page"), _("page"), on_delete=models.CASCADE
    )
    #: The document an unlock is for (its collection's restriction decides), instead of a
    #: page. A plain id, not a foreign key: the document model is swappable
    #: (``WAGTAILDOCS_DOCUMENT_MODEL``); a challenge for a deleted document sends nothing.
    document_id = models.PositiveBigIntegerField(_("document"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    site = optional_site()
    next_url = models.CharField(_("return URL"), max_length=2000, blank=True)
    code_hash = models.CharField(_("code hash"), max_length=64, blank=True)
    link_hash = models.CharField(_("link hash"), max_length=64, blank=True, db_index=True)
    link_expires_at = models.DateTimeField(_("link expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(
        _("cancel reason"), max_length=20, choices=CancelReason.choices, blank=True
    )
    failed_attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    send_error = models.TextField(_("send error"), blank=True)
    # Delivery by the background task (docs/security.md#mail-retries): attempts so far, when
    # the next one is due (the back-off after a failure, or the lease of the attempt under
    # way: past it, the attempt counts as lost), and when the email was sent.
    # A database default too: 0.1.0 code, still running during a rolling upgrade, inserts
    # challenges without this column (docs/deployment.md#upgrades-with-migrations).
    send_attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0, db_default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("email challenge")
        verbose_name_plural = _("email challenges")
        indexes = [
            models.Index(fields=["email", "page"], name="wma_challenge_email_page"),
            unsent_index("wma_challenge_unsent"),
        ]

    def __str__(self):
        return f"{self.purpose} {self.pk}"


class _VerifyAllowed(models.Model):
    # ThrottlingMixin.verify_is_allowed() ends with super().verify_is_allowed(); django-otp's
    # Device provides it, so do we.
    class Meta:
        abstract = True

    def verify_is_allowed(self):
        return True, None


class EmailThrottle(ThrottlingMixin, _VerifyAllowed):
    """Failed code entries per email, across all of its codes, with django-otp's exponential
    back-off: asking for a new code does not reset it, a successful entry does."""

    email = models.EmailField(_("email"), max_length=254, unique=True)

    class Meta:
        verbose_name = _("email throttle")
        verbose_name_plural = _("email throttles")

    def __str__(self):
        return self.email

    def get_throttle_factor(self):
        return app_settings.THROTTLE_FACTOR

    @classmethod
    def reserve_check(cls, email: str):
        """Count one code check for ``email`` before it is made: ``(True, None)``, or
        ``(False, locked_until)`` while the back-off runs, or when a parallel check took this
        step (then ``locked_until`` is None). A compare-and-set on the counter, so parallel
        checks cannot all read "allowed" (docs/security.md#atomic-limits); a right code then
        resets the counter."""
        throttle, _ = cls.objects.get_or_create(email=email)
        allowed, info = throttle.verify_is_allowed()
        if not allowed:
            return False, (info or {}).get("locked_until")
        won = cls.objects.filter(
            pk=throttle.pk,
            throttling_failure_count=throttle.throttling_failure_count,
            throttling_failure_timestamp=throttle.throttling_failure_timestamp,
        ).update(
            throttling_failure_count=F("throttling_failure_count") + 1,
            throttling_failure_timestamp=timezone.now(),
        )
        return (True, None) if won else (False, None)

    def throttle_increment(self, commit=True):
        # An atomic increment: concurrent failures must all count.
        now = timezone.now()
        rows = type(self).objects.filter(email=self.email)
        increment = {
            "throttling_failure_count": F("throttling_failure_count") + 1,
            "throttling_failure_timestamp": now,
        }
        if not rows.update(**increment):
            # The row was deleted meanwhile (member_access_cleanup): the failure still counts.
            _, created = type(self).objects.get_or_create(
                email=self.email,
                defaults={"throttling_failure_count": 1, "throttling_failure_timestamp": now},
            )
            if not created:
                rows.update(**increment)
        fresh = rows.values("pk", "throttling_failure_count", "throttling_failure_timestamp").get()
        self.pk = fresh.pop("pk")
        for name, value in fresh.items():
            setattr(self, name, value)
