from __future__ import annotations

import swapper
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

from .lists import AccessList


class _AccessRestriction(models.Model):
    """What a page's and a collection's member access share: the mode, the lists and groups
    that may pass, and when it was set. Each subclass adds its target (a one-to-one field
    named ``TARGET``) and the words of its help texts."""

    TARGET: str

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

    mode = models.CharField(_("access mode"), max_length=20, choices=Mode.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.get_mode_display()}: {getattr(self, f'{self.TARGET}_id')}"


def _access_lists(related_name: str, help_text) -> models.ManyToManyField:
    return models.ManyToManyField(
        AccessList,
        blank=True,
        related_name=related_name,
        verbose_name=_("access lists"),
        help_text=help_text,
    )


def _groups(help_text) -> models.ManyToManyField:
    return models.ManyToManyField(
        Group, blank=True, related_name="+", verbose_name=_("groups"), help_text=help_text
    )


class PageAccessRestriction(_AccessRestriction):
    """Member access for a page and every page below it.

    Kept beside Wagtail's own ``PageViewRestriction`` (not instead of it): every restriction
    on a page's path must pass. Each protected page also carries a ``PageViewRestriction`` of
    type ``member_access`` (``mirror.py``), so that Wagtail hides it from ``.public()``, the
    sitemap and the APIs (docs/protected-channels.md).
    """

    TARGET = "page"

    page = models.OneToOneField(
        swapper.get_model_name("wagtailcore", "Page"),
        on_delete=models.CASCADE,
        related_name="member_access_restriction",
        verbose_name=_("page"),
    )
    access_lists = _access_lists(
        "restrictions", _("Emails with an active grant on any of these lists may view the pages.")
    )
    groups = _groups(_("Members-only pages: signed-in members of these groups may view them."))

    class Meta:
        verbose_name = _("page access restriction")
        verbose_name_plural = _("page access restrictions")
        # Who may set, change or remove member access of pages (the privacy dialog and the
        # "Member access" view), on top of Wagtail's right to change a page's privacy
        # (docs/editor-guide.md#who-may-change-member-access).
        permissions = [("change_member_access", _("Can change member access of pages"))]


class CollectionAccessRestriction(_AccessRestriction):
    """Member access for the documents of a collection and of every collection below it.

    The same modes, lists and groups as :class:`PageAccessRestriction`, decided by the same
    rules (``access.rules_for_collection``); kept beside Wagtail's own
    ``CollectionViewRestriction`` (every restriction must pass). See docs/security.md#documents.
    """

    TARGET = "collection"

    collection = models.OneToOneField(
        "wagtailcore.Collection",
        on_delete=models.CASCADE,
        related_name="member_access_restriction",
        verbose_name=_("collection"),
    )
    access_lists = _access_lists(
        "collection_restrictions",
        _("Emails with an active grant on any of these lists may open the documents."),
    )
    groups = _groups(_("Members-only documents: signed-in members of these groups may open them."))

    class Meta:
        verbose_name = _("collection access restriction")
        verbose_name_plural = _("collection access restrictions")
