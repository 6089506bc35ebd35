"""Editor-written emails (per kind, site and language) and the layout around them (per site).

Both keep revisions (history, compare, revert) and preview with sample data in a sandboxed
frame (docs/editing-emails.md#editing). Validation lives in ``email_syntax``: ``clean()`` runs
it, so the admin's form and ``api.set_email_template`` refuse the same things.
"""

from __future__ import annotations

from email.utils import getaddresses

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, validate_email
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from wagtail.admin.localization import get_localized_response
from wagtail.models import PreviewableMixin, RevisionMixin

from .. import email_html, email_syntax
from ..email_kinds import KINDS, kind_choices
from .fields import optional_site

__all__ = ["EmailLayout", "EmailTemplate", "language_choices"]


def language_choices() -> list[tuple[str, str]]:
    return [("", _("Every language")), *[(code, name) for code, name in settings.LANGUAGES]]


_SITE_OR_ZERO = Coalesce("site", Value(0))
_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$", _("Enter a colour like #0b57d0."))


def _check_one_mailbox(value: str) -> None:
    """Refuse a From that is not exactly one mailbox (``"Bank <a@b.com>, victim@evil.com"``
    would send each email from, and show, a second address)."""
    message = _('Enter one sender address, like "Example School <school@example.com>".')
    addresses = getaddresses([value])
    if len(addresses) != 1 or not addresses[0][1]:
        raise ValidationError({"from_email": message})
    try:
        validate_email(addresses[0][1])
    except ValidationError:
        raise ValidationError({"from_email": message}) from None


class _SandboxedPreview(PreviewableMixin):
    # The preview shows editor-written HTML: it is served with ``Content-Security-Policy:
    # sandbox`` (no scripts, no same-origin access, no forms) as an extra wall around an
    # email that is escaped already (docs/security.md#email-escaping).
    preview_template = "wagtail_member_access/admin/email_preview.html"

    def get_preview_template(self, request, mode_name):
        return self.preview_template

    def serve_preview(self, request, mode_name):
        """The email in its own language; the frame around it ("Subject", "Text") rendered as
        Wagtail renders its admin views, in the editor's language and time zone
        (``get_localized_response``): Wagtail builds the preview's request anew, outside them."""
        template = self.get_preview_template(request, mode_name)
        context = self.get_preview_context(request, mode_name)

        def frame(request):
            return TemplateResponse(request, template, context)

        # A request built without Django's auth middleware (a test's) has no user to ask.
        localized = hasattr(request, "user")
        response = get_localized_response(frame, request) if localized else frame(request)
        response["Content-Security-Policy"] = "sandbox"
        response["Referrer-Policy"] = "no-referrer"
        return response


class _EditorVersioned(RevisionMixin, _SandboxedPreview, models.Model):
    """Revisions (history, compare, revert) and the sandboxed preview of what editors write;
    each subclass declares ``_revisions`` with its own query name."""

    class Meta:
        abstract = True

    @property
    def revisions(self):
        return self._revisions


class EmailLayout(_EditorVersioned):
    """The HTML frame and the sender of every email of one site (or of every site)."""

    site = optional_site(
        help_text=_("Leave empty for the layout of every site that has none of its own.")
    )
    brand_name = models.CharField(
        _("name shown at the top"), max_length=255, blank=True, help_text=_("Empty: the site name.")
    )
    logo_url = models.URLField(
        _("logo address"), blank=True, help_text=_("An absolute https:// address of an image.")
    )
    accent_colour = models.CharField(
        _("accent colour"), max_length=7, default="#0b57d0", validators=[_COLOUR]
    )
    text_colour = models.CharField(
        _("text colour"), max_length=7, default="#1d1d1f", validators=[_COLOUR]
    )
    background_colour = models.CharField(
        _("background colour"), max_length=7, default="#f4f4f6", validators=[_COLOUR]
    )
    footer = models.TextField(
        _("footer"),
        blank=True,
        help_text=_("Sender's postal address and legal line, shown under every email."),
    )
    from_email = models.CharField(
        _("From"),
        max_length=255,
        blank=True,
        help_text=_('E.g. "Example School <school@example.com>". Empty: the default sender.'),
    )
    reply_to = models.EmailField(_("Reply-To"), blank=True)
    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="email_layout")

    class Meta:
        verbose_name = _("email layout")
        verbose_name_plural = _("email layouts")
        constraints = [
            # One layout for every site (no site) and one per site: NULL never equals NULL in
            # a plain unique index, so the index is on the site id or 0.
            models.UniqueConstraint(_SITE_OR_ZERO, name="wma_one_email_layout_per_site"),
        ]

    def __str__(self):
        return str(self.site) if self.site else str(_("Every site"))

    def clean(self):
        super().clean()
        for field in ("from_email", "brand_name"):
            if any(c in getattr(self, field) for c in "\r\n"):
                raise ValidationError({field: _("This must be one line.")})
        if self.from_email:
            _check_one_mailbox(self.from_email)

    def style(self) -> dict:
        return {f: getattr(self, f) for f in email_html.DEFAULT_STYLE}

    @classmethod
    def for_site(cls, site) -> EmailLayout | None:
        """The layout of ``site``, else the one for every site, else None."""
        site_id = getattr(site, "pk", None)
        layouts = {
            layout.site_id: layout
            for layout in cls.objects.filter(
                models.Q(site__isnull=True) | models.Q(site_id=site_id)
            )
        }
        return layouts.get(site_id) or layouts.get(None)

    @classmethod
    def style_for(cls, site, site_name: str) -> dict:
        """The layout values for ``site``'s emails (the shipped look where none is set)."""
        layout = cls.for_site(site)
        style = layout.style() if layout else dict(email_html.DEFAULT_STYLE)
        style["brand_name"] = style["brand_name"] or site_name
        return style

    def get_preview_context(self, request, mode_name):
        kind = KINDS["unlock_code"]
        context = kind.sample_context()
        body = email_html.text_to_html(
            str(_("Hello,\n\nThis is how your emails look. Your code: %(code)s"))
            % {"code": context["code"]}
        )
        style = self.style() | {"brand_name": self.brand_name or context["site_name"]}
        return {
            "object": self,
            "subject": str(kind.label),
            "text": "",
            "html": email_html.frame(body, subject=str(kind.label), style=style),
        }


class EmailTemplate(_EditorVersioned):
    """An editor's version of one kind of email for one site (or all) and one language (or
    all). Without one, the shipped default is sent (docs/editing-emails.md#fallback)."""

    kind = models.CharField(
        pgettext_lazy("kind of email", "email"), max_length=40, choices=kind_choices
    )
    site = optional_site(help_text=_("Leave empty for every site."))
    language = models.CharField(_("language"), max_length=16, blank=True, choices=language_choices)
    subject = models.CharField(_("subject"), max_length=255)
    text = models.TextField(_("text"))
    html = models.TextField(
        _("HTML"),
        blank=True,
        help_text=_("Optional. Empty: the HTML part is built from the text, in the site layout."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="email_template")

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["kind", "site", "language"]
        constraints = [
            models.UniqueConstraint(
                F("kind"),
                _SITE_OR_ZERO,
                F("language"),
                name="wma_one_email_template_per_kind_site_language",
                violation_error_message=_(
                    "This email already has a version for this site and language."
                ),
            ),
        ]

    def __str__(self):
        label = KINDS[self.kind].label if self.kind in KINDS else self.kind
        where = str(self.site) if self.site_id else _("every site")
        language = self.get_language_display() if self.language else _("every language")
        return f"{label} ({where}, {language})"

    def clean(self):
        super().clean()
        # Browsers send a textarea's lines as CRLF: stored as LF, so the text part is sent as
        # written and the editor's diff of two revisions shows only real changes.
        self.text = self.text.replace("\r\n", "\n")
        self.html = self.html.replace("\r\n", "\n")
        errors = {}
        kind = KINDS.get(self.kind)
        if kind is None:
            raise ValidationError({"kind": _("Unknown email.")})
        parts = [("subject", {"one_line": True}), ("text", {"required": kind.required})]
        if self.html.strip():
            parts.append(("html", {"required": kind.required, "html": True}))
        for field, options in parts:
            try:
                email_syntax.validate(
                    getattr(self, field),
                    placeholders=tuple(kind.placeholders),
                    items=kind.items,
                    secrets=kind.secrets,
                    secret_items=kind.secret_items,
                    sample=kind.sample_context(),
                    **options,
                )
            except ValidationError as exc:
                errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)

    def render(self, context: dict, *, style: dict) -> email_html.RenderedEmail:
        """This version rendered against ``context`` (plain strings, see ``emails.py``) in the
        locked-down engine; its HTML part in the layout ``style``."""
        subject = " ".join(email_syntax.render(self.subject, context, html=False).split())
        text = email_syntax.render(self.text, context, html=False)
        if self.html.strip():
            body = email_syntax.render(self.html, context, html=True)
        else:
            body = email_html.text_to_html(text)
        return email_html.RenderedEmail(
            subject, text, email_html.frame(body, subject=subject, style=style)
        )

    def get_preview_context(self, request, mode_name):
        # The kind's example values, in this site's layout: what a member would receive.
        context = KINDS[self.kind].sample_context()
        if self.site_id:
            context["site_name"] = self.site.site_name or self.site.hostname
        rendered = self.render(
            context, style=EmailLayout.style_for(self.site, context["site_name"])
        )
        return {"object": self, **rendered.as_dict()}
