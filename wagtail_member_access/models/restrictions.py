from __future__ import annotations

import swapper
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from .lists import AccessList


class PageAccessRestriction(models.Model):
    """Member access for a page and every page below it.

    Kept beside Wagtail's own ``PageViewRestriction`` (not instead of it): every restriction
    on a page's path must pass. A companion ``PageViewRestriction`` (so that Wagtail hides the
    page from ``.public()``, sitemaps and the APIs) can later be linked by one nullable field.
    """

    class Mode(models.TextChoices):
        MEMBERS = "members", _("Signed-in members")
        CODE = "code", _("One-time email code")
        LINK = "link", _("Magic link")
        CODE_OR_LINK = "code_or_link", _("Email code or magic link")

    page = models.OneToOneField(
        swapper.get_model_name("wagtailcore", "Page"),
        on_delete=models.CASCADE,
        related_name="member_access_restriction",
        verbose_name=_("page"),
    )
    mode = models.CharField(_("access mode"), max_length=20, choices=Mode.choices)
    access_lists = models.ManyToManyField(
        AccessList,
        blank=True,
        related_name="restrictions",
        verbose_name=_("access lists"),
        help_text=_("Emails with an active grant on any of these lists may view the pages."),
    )
    groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="+",
        verbose_name=_("groups"),
        help_text=_("Members-only pages: signed-in members of these groups may view them."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("page access restriction")
        verbose_name_plural = _("page access restrictions")

    def __str__(self):
        return f"{self.get_mode_display()}: {self.page_id}"

    @property
    def sends_code(self) -> bool:
        return self.mode in (self.Mode.CODE, self.Mode.CODE_OR_LINK)
