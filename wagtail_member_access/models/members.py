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
    language = models.CharField(_("language"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("member profile")
        verbose_name_plural = _("member profiles")

    def __str__(self):
        return str(self.user)
