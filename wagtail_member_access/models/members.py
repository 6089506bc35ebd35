from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class MemberProfile(models.Model):
    """What wagtail-member-access keeps about a member account beside the user model (which
    may be any custom model): invitation, forced password change, terms acceptance."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="member_access_profile",
        verbose_name=_("user"),
    )
    invited_at = models.DateTimeField(_("invited"), null=True, blank=True)
    must_change_password = models.BooleanField(_("must change password"), default=False)
    terms_accepted_at = models.DateTimeField(_("terms accepted"), null=True, blank=True)
    # The language the member last used on the site: their emails are written in it
    # (docs/editing-emails.md#language).
    # A database default too: 0.1.0 code, still running during a rolling upgrade, creates
    # profiles without this column (docs/deployment.md#upgrades-with-migrations).
    language = models.CharField(_("language"), max_length=16, blank=True, default="", db_default="")

    class Meta:
        verbose_name = _("member profile")
        verbose_name_plural = _("member profiles")

    def __str__(self):
        return str(self.user)


class MemberSession(models.Model):
    """A signed-in member's session, for "Sign out everywhere" and the list of active
    sessions on the account page: which browser, since when, last seen. The session key is
    what ends it (the session engine's own record is deleted); it is never shown or
    exported."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("user"),
    )
    session_key = models.CharField(_("session key"), max_length=64, unique=True)
    device = models.CharField(_("device"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("signed in"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("member session")
        verbose_name_plural = _("member sessions")

    def __str__(self):
        return f"{self.user} ({self.device})"
