from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .fields import optional_link


class BulkEmailJob(models.Model):
    """Emails sent by an editor to many members at once (resets, sign-in links, access
    emails), sent in the background with throttling; its counts are shown in the admin."""

    class Kind(models.TextChoices):
        RESET = "reset", pgettext_lazy("kind of email", "Password reset")
        # Named for the email it sends (``emails.KINDS["sign_in_link"]``); "sign_in" is the
        # code-and-link email of the sign-in page.
        SIGN_IN_LINK = "sign_in_link", _("Sign-in link")
        INVITE = "invite", _("Invitation")
        ACCESS_READY = "access_ready", _("Access email")

    kind = models.CharField(
        pgettext_lazy("kind of email", "email"), max_length=20, choices=Kind.choices
    )
    access_list = optional_link("wagtail_member_access.AccessList", _("access list"))
    recipients = models.JSONField(_("recipients"), default=list)
    total = models.PositiveIntegerField(_("total"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    created_by = optional_link(settings.AUTH_USER_MODEL, _("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk email")
        verbose_name_plural = _("bulk emails")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.total})"
