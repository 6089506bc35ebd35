from __future__ import annotations

from datetime import timedelta

import swapper
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .lists import AccessList, Grant

#: The longest drip delay: about ten years (docs/courses-and-teams.md#drip).
MAX_OPENS_AFTER = timedelta(days=3650)


def check_opens_after(opens_after, *, has_lists: bool) -> None:
    """Raise ``ValidationError`` (the message the admin shows) unless ``opens_after`` is None
    or a whole number of days from 1 to 3650 on a restriction that names access lists.

    A drip delay counts from the start of the member's grant on one of the restriction's
    lists; a restriction without lists (members-only for any member or for groups) has no
    grant to count from, so it cannot have one (docs/courses-and-teams.md#drip)."""
    if opens_after is None:
        return
    if not isinstance(opens_after, timedelta):
        raise ValidationError(
            _("The delay before a page opens must be a duration (datetime.timedelta)."),
            code="opens_after",
        )
    if opens_after <= timedelta(0) or opens_after % timedelta(days=1):
        raise ValidationError(
            _("A page opens a whole number of days after a member's access starts: 1 or more."),
            code="opens_after",
        )
    if opens_after > MAX_OPENS_AFTER:
        raise ValidationError(
            ngettext(
                "A page can open at most %(days)d day after a member's access starts.",
                "A page can open at most %(days)d days after a member's access starts.",
                MAX_OPENS_AFTER.days,
            )
            % {"days": MAX_OPENS_AFTER.days},
            code="opens_after",
        )
    if not has_lists:
        raise ValidationError(
            _(
                "Opening a page some days after a member's access starts needs at least one "
                "access list: the days count from the start of the member's grant on it, and "
                "signed-in members or groups have no such start."
            ),
            code="opens_after",
        )


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
    opens_after = models.DurationField(
        _("opens after"),
        null=True,
        blank=True,
        help_text=_(
            "Drip: the pages open this long after the member's grant on one of the lists "
            "started (empty: at once)."
        ),
    )

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


class LessonNotice(models.Model):
    """The "a lesson has opened" email to one address for one page's restriction: the row is
    written before the email is sent (unique per address and restriction, whichever of the
    member's grants made it due), so that no run sends it twice
    (docs/courses-and-teams.md#lesson-email)."""

    grant = models.ForeignKey(
        Grant, on_delete=models.CASCADE, related_name="+", verbose_name=_("grant")
    )
    restriction = models.ForeignKey(
        PageAccessRestriction,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("restriction"),
    )
    #: The grant's address when the email was due.
    email = models.EmailField(_("email"), max_length=254)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("lesson email")
        verbose_name_plural = _("lesson emails")
        constraints = [
            models.UniqueConstraint(fields=["email", "restriction"], name="wma_lesson_notice_once"),
        ]

    def __str__(self):
        return f"{self.grant_id}: {self.restriction_id}"
