from __future__ import annotations

import swapper
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from .lists import AccessList


class PageAccessRestriction(models.Model):
    """Member access for a page and every page below it.

    Kept beside Wagtail's own ``PageViewRestriction`` (not instead of it): every restriction
    on a page's path must pass. Each protected page also carries a ``PageViewRestriction`` of
    type ``member_access`` (``mirror.py``), so that Wagtail hides it from ``.public()``, the
    sitemap and the APIs (docs/protected-channels.md).
    """

    class Mode(models.TextChoices):
        MEMBERS = "members", _("Signed-in members")
        CODE = "code", _("One-time email code")
        LINK = "link", _("Magic link")
        CODE_OR_LINK = "code_or_link", _("Email code or magic link")

        # What each mode does lives here, once: the unlock form, the email and the audit
        # log all ask the mode.
        @property
        def sends_code(self) -> bool:
            """The email carries a one-time code."""
            return self in (type(self).CODE, type(self).CODE_OR_LINK)

        @property
        def sends_link(self) -> bool:
            """The email carries a magic link."""
            return self in (type(self).LINK, type(self).CODE_OR_LINK)

        @property
        def email_kind(self) -> str | None:
            """The :data:`~wagtail_member_access.emails.KINDS` entry of the unlock email;
            None for ``MEMBERS`` (no email)."""
            return None if self is type(self).MEMBERS else f"unlock_{self.value}"

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
        # Who may set, change or remove member access of pages (the privacy dialog and the
        # "Member access" view), on top of Wagtail's right to change a page's privacy
        # (docs/editor-guide.md#who-may-change-member-access).
        permissions = [("change_member_access", _("Can change member access of pages"))]

    def __str__(self):
        return f"{self.get_mode_display()}: {self.page_id}"


class CollectionAccessRestriction(models.Model):
    """Member access for the documents of a collection and of every collection below it.

    The same modes, lists and groups as :class:`PageAccessRestriction`, decided by the same
    rules (``access.rules_for_collection``); kept beside Wagtail's own
    ``CollectionViewRestriction`` (every restriction must pass). See docs/security.md#documents.
    """

    Mode = PageAccessRestriction.Mode

    collection = models.OneToOneField(
        "wagtailcore.Collection",
        on_delete=models.CASCADE,
        related_name="member_access_restriction",
        verbose_name=_("collection"),
    )
    mode = models.CharField(_("access mode"), max_length=20, choices=Mode.choices)
    access_lists = models.ManyToManyField(
        AccessList,
        blank=True,
        related_name="collection_restrictions",
        verbose_name=_("access lists"),
        help_text=_("Emails with an active grant on any of these lists may open the documents."),
    )
    groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="+",
        verbose_name=_("groups"),
        help_text=_("Members-only documents: signed-in members of these groups may open them."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("collection access restriction")
        verbose_name_plural = _("collection access restrictions")

    def __str__(self):
        return f"{self.get_mode_display()}: {self.collection_id}"
