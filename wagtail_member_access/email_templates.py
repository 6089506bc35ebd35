"""Storing editors' versions of the emails: one path for the admin and the API.

``set_email_template`` (public as ``api.set_email_template``) validates
(``EmailTemplate.clean``, which runs ``email_syntax.validate``), saves, keeps a revision and
writes the audit log; ``reset_template`` removes a version, so the shipped default (or a wider
version) applies again (docs/editing-emails.md#fallback).
``default_source`` turns a shipped default into what an editor starts from.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.log_actions import log

from . import log_actions
from .email_kinds import KINDS
from .models import EmailTemplate

__all__ = ["check_kind", "default_source", "reset_template", "set_email_template"]

_TRANSLATE = re.compile(r'{%\s*translate\s+"((?:[^"\\]|\\.)*)"\s*%}')
_BLOCK = re.compile(r"{%\s*blocktranslate\s*%}(.*?){%\s*endblocktranslate\s*%}", re.S)
_VAR = re.compile(r"{{\s*(\w+)\s*}}")
_PERCENT = re.compile(r"%\((\w+)\)s")
_NOISE = re.compile(r"{%\s*(load i18n|autoescape off|endautoescape)\s*%}")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValidationError(
            _("Unknown email %(kind)s. Known emails: %(kinds)s."),
            code="kind",
            params={"kind": kind, "kinds": ", ".join(KINDS)},
        )


def set_email_template(
    kind: str,
    *,
    subject: str,
    text: str,
    html: str | None = None,
    site=None,
    language: str | None = None,
    user=None,
) -> EmailTemplate:
    """Replace the email ``kind`` (a key of ``emails.KINDS``) for ``site`` (None: every site)
    and ``language`` (None: every language) and return the stored ``EmailTemplate``. Public
    as ``api.set_email_template`` (docs/api.md#set_email_template).

    ``html=None`` builds the HTML part from the text. The same validation and storage as the
    admin's email editor, with a revision and an audit-log entry: raises ``ValidationError``
    with the admin's message (and changes nothing) for an unknown kind or language, a
    forbidden tag or filter (``{% load %}``, ``{% include %}``, ``{% extends %}``,
    ``{% autoescape %}``, ``{% debug %}``, ``|safe``), an unknown or missing required
    placeholder, a syntax error or a subject of more than one line."""
    check_kind(kind)
    template = EmailTemplate.objects.filter(
        kind=kind, site=site, language=language or ""
    ).first() or EmailTemplate(kind=kind, site=site, language=language or "")
    created = template.pk is None
    template.subject, template.text, template.html = subject or "", text or "", html or ""
    template.full_clean()
    with transaction.atomic():
        template.save()
        revision = template.save_revision(user=user, clean=False)
        log(
            instance=template,
            action="wagtail.create" if created else "wagtail.edit",
            user=user,
            revision=revision,
            content_changed=True,
        )
    return template


def reset_template(template: EmailTemplate, *, user=None) -> None:
    """Remove an editors' version: the next email of its kind falls back to the shipped
    default (or to a version for every site or language). Written to the audit log."""
    with transaction.atomic():
        log(
            instance=template,
            action=log_actions.EMAIL_RESET,
            user=user,
            data={
                "email_kind": template.kind,
                "site": str(template.site) if template.site_id else "",
                "language": template.language,
            },
        )
        template.delete()


def default_source(kind: str, language: str | None) -> dict[str, str]:
    """The shipped default of ``kind`` in ``language`` as an editor writes it (translated
    text and placeholders, no ``{% load %}`` or translation tags): the start of a new
    version. ``subject``, ``text`` and ``html``."""
    check_kind(kind)

    def block(match):
        message = _PERCENT.sub(r"%(\1)s", _VAR.sub(r"%(\1)s", match.group(1)))
        return _PERCENT.sub(r"{{ \1 }}", gettext(message).replace("%%", "%"))

    source = {}
    with translation.override(language or None):
        for part, name in (
            ("subject", "subject.txt"),
            ("text", "message.txt"),
            ("html", "message.html"),
        ):
            raw = get_template(f"wagtail_member_access/emails/{kind}_{name}").template.source
            raw = _NOISE.sub("", raw)
            raw = _TRANSLATE.sub(lambda m: gettext(m.group(1)), raw)
            source[part] = _BLOCK.sub(block, raw).strip()
    return source
