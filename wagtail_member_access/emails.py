"""Every email we send is rendered and sent here.

An email is the editor's version (``EmailTemplate``, per site and language, rendered by the
locked-down engine of ``email_syntax``) when there is one, else the shipped default: files
named as django-allauth names them, ``<kind>_subject.txt``, ``<kind>_message.txt`` and
``<kind>_message.html`` (the body inside the layout) under ``wagtail_member_access/emails/``,
which a project overrides like any Django template. The context holds plain strings only, so
a template can print nothing but what it is given (docs/security.md#email-context). The HTML
part is framed by the site's ``EmailLayout`` (``email_html``).

Every email goes out through :func:`deliver`: it renders and sends, and when the mail server
fails it records the failure on the code or link request it carries (``sends.failed``:
retried with back-off when the background task sends it, docs/security.md#mail-retries),
writes it to the audit log and to the server log with the address masked, and returns a
false :class:`Delivery` instead of raising (docs/security.md#mail-failures).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation
from wagtail.log_actions import log

from . import email_html, email_kinds, email_secrets, log_actions, sends, sites
from .conf import app_settings
from .email_html import RenderedEmail
from .members import NotAllowed, find_member, mask_email
from .models import EmailChallenge, EmailLayout, EmailTemplate

__all__ = [
    "KINDS",
    "Delivery",
    "RenderedEmail",
    "deliver",
    "describe_error",
    "email_language",
    "find_template",
    "record_failure",
    "render_email",
    "send_email",
]

logger = logging.getLogger("wagtail_member_access")

#: Each kind of email and the placeholders its templates may use (descriptions, examples and
#: required placeholders in ``email_kinds.KINDS``).
KINDS: dict[str, tuple[str, ...]] = {
    name: tuple(kind.placeholders) for name, kind in email_kinds.KINDS.items()
}


def _plain(context: dict) -> dict:
    # Only strings (and lists/dicts of strings) reach a template: a model object would expose
    # every attribute, e.g. ``{{ user.password }}``.
    def convert(value):
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return "" if value is None else str(value)

    return {str(k): convert(v) for k, v in context.items()}


def _languages(language: str | None) -> list[str]:
    """``de-at`` → ``["de-at", "de"]``: the language, then its base language."""
    language = (language or "").lower()
    chain = [language] if language else []
    if "-" in language:
        chain.append(language.split("-")[0])
    return chain


def find_template(kind: str, *, site=None, language: str | None = None) -> EmailTemplate | None:
    """The editor's version of ``kind`` that applies to ``site`` and ``language``, or None.

    Order (docs/editing-emails.md#fallback): this site and language, every site and this
    language, this site and the base language (``de`` for ``de-at``), every site and the base
    language, this site and every language, every site and every language. One query."""
    site_id = getattr(site, "pk", None)
    chain = _languages(language)
    rows = {
        (row.site_id, row.language): row
        for row in EmailTemplate.objects.filter(
            Q(site__isnull=True) | Q(site_id=site_id), kind=kind, language__in=[*chain, ""]
        ).select_related("site")
    }
    for lang in [*chain, ""]:
        for where in (site_id, None):
            if (where, lang) in rows:
                return rows[(where, lang)]
    return None


def _render_default(kind: str, context: dict) -> tuple[str, str, str]:
    """The shipped default of ``kind``, in the active language (:func:`render_email`'s)."""
    base = f"wagtail_member_access/emails/{kind}"
    subject = render_to_string(f"{base}_subject.txt", context)
    text = render_to_string(f"{base}_message.txt", context)
    try:
        body = render_to_string(f"{base}_message.html", context)
    except TemplateDoesNotExist:
        body = email_html.text_to_html(text)
    return " ".join(subject.split()), text, body


def render_email(
    kind: str,
    context: dict,
    *,
    language: str | None = None,
    site=None,
    template: EmailTemplate | None = None,
) -> RenderedEmail:
    """Render one email: the editor's version for ``site`` and ``language`` (or ``template``
    when given, as the preview does), else the shipped default file in ``language``. The
    subject is one line (no header injection); the HTML part is in the site's layout with its
    CSS inlined; the text part is always there. Raises ``ValueError`` for an unknown kind."""
    if kind not in KINDS:
        raise ValueError(f"Unknown email kind {kind!r}.")
    # In the email's language: lazy values (dates), and the layout's <html lang>.
    with translation.override(language):
        context = _plain(context)
        if template is None:
            template = find_template(kind, site=site, language=language)
        style = EmailLayout.style_for(site, context.get("site_name", "") or sites.site_name(site))
        if template is not None:
            rendered = template.render(context, style=style)
            if not _misplaced_secrets(kind, rendered, context):
                return rendered
            # Checked on save with sample values; a version that still prints a secret where it
            # could leak (a branch the samples did not take) is not sent: the shipped default is.
            logger.warning(
                "The editors' version %s of the %s email prints a secret outside a word or a "
                "link's href: the shipped default was sent instead.",
                template.pk,
                kind,
            )
        subject, text, body = _render_default(kind, context)
        return RenderedEmail(subject, text, email_html.frame(body, subject=subject, style=style))


def _misplaced_secrets(kind: str, rendered: RenderedEmail, context: dict) -> list[str]:
    """The code and links of ``context`` that ``rendered`` prints anywhere but as a whole word
    or a link's entire href (docs/security.md#email-escaping)."""
    values = email_kinds.KINDS[kind].secret_values(context)
    return [
        *email_secrets.misplaced_in_text(rendered.subject, values),
        *email_secrets.misplaced_in_text(rendered.text, values),
        *email_secrets.misplaced_in_html(rendered.html, values),
    ]


def email_language(to: str, *, page=None, language: str | None = None) -> str:
    """The language of an email to ``to`` (docs/editing-emails.md#language): the language the
    member last used on the site, else the page's locale (with Wagtail i18n on), else
    ``language`` (the request's), else the site's default language, then English."""
    member = find_member_quietly(to)
    profile = getattr(member, "member_access_profile", None) if member else None
    candidates = [getattr(profile, "language", "")]
    if page is not None and app_settings.WAGTAIL_I18N_ENABLED:
        candidates.append(page.locale.language_code)
    candidates += [language, settings.LANGUAGE_CODE, "en"]
    known = {code.lower() for code, _name in settings.LANGUAGES}
    for candidate in candidates:
        for code in _languages(candidate):
            if code in known:
                return code
    return "en"


def send_email(
    kind: str,
    to: str,
    context: dict,
    *,
    language: str | None = None,
    about=None,
    site=None,
    page=None,
    template: EmailTemplate | None = None,
) -> None:
    """Render and send one email to ``to`` (one address), in the member's language
    (:func:`email_language`). Nothing of the body is logged.

    The sender and Reply-To come from the site's email layout, else ``FROM_EMAIL``; every
    email says ``Auto-Submitted: auto-generated`` (RFC 3834), so auto-responders stay quiet.
    If the mail backend fails, the failure is written to Wagtail's audit log (so editors see
    it in the history of ``about``, the page, grant or user the email is about, and in the
    site history report), then the backend's exception is raised again: callers record it
    where a retry will find it."""
    if site is None:
        site = sites.default_site()
    if template is not None:  # a test of an editor's version: exactly that version
        language = template.language or language
    language = email_language(to, page=page, language=language)
    rendered = render_email(kind, context, language=language, site=site, template=template)
    layout = EmailLayout.for_site(site)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=(layout and layout.from_email) or app_settings.FROM_EMAIL,
        to=[to],
        reply_to=[layout.reply_to] if layout and layout.reply_to else None,
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(rendered.html, "text/html")
    try:
        message.send()
    except Exception as exc:
        _log_send_failure(kind, to, exc, about)
        raise
    logger.info("Sent %s email to %s.", kind, mask_email(to))


@dataclass(frozen=True)
class Delivery:
    """What :func:`deliver` did: true when the email was sent; otherwise ``error`` is the
    mail server's error as :func:`describe_error` records it."""

    sent: bool
    error: str = ""

    def __bool__(self) -> bool:
        return self.sent


def deliver(
    kind: str,
    to: str,
    context: dict,
    *,
    language: str | None = None,
    about=None,
    challenge: EmailChallenge | None = None,
    site=None,
    page=None,
    template: EmailTemplate | None = None,
) -> Delivery:
    """Send one email through :func:`send_email` and return whether it was sent.

    Never raises for a mail server failure: the failure is written to the audit log (on
    ``about``, see :func:`send_email`), recorded on ``challenge`` when the email carries one
    (:func:`record_failure`: its code and link cannot be used; the task tries again),
    logged with the address masked, and returned as a false :class:`Delivery`. A sent
    email is recorded on ``challenge`` too (``sent_at``: no retry sends it again). Raises
    ``ValueError`` for an unknown ``kind`` (a programming error, not a mail failure)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown email kind {kind!r}.")
    try:
        send_email(
            kind,
            to,
            context,
            language=language or None,
            about=about,
            site=site if site is not None else getattr(challenge, "site", None),
            page=page if page is not None else getattr(challenge, "page", None),
            template=template,
        )
    except Exception as exc:  # any mail backend error: record it, the caller gets False
        error = describe_error(exc)
        sends.mail_failed()
        if challenge is not None:
            record_failure(challenge, error)
        logger.error(
            "Could not send the %s email to %s (%s).", kind, mask_email(to), type(exc).__name__
        )
        return Delivery(False, error)
    sends.mail_sent()
    if challenge is not None:
        sends.succeeded(challenge)
    return Delivery(True)


def record_failure(challenge: EmailChallenge, error: str) -> None:
    """Record on ``challenge`` that its email was not sent (``send_error``); its code and link
    stop working (nobody received them). A challenge the background task sends is tried
    again with back-off, then cancelled for good; any other is cancelled at once
    (``sends.failed``, docs/security.md#mail-retries). For a caller that sent inside a
    transaction it rolled back (an invitation), and for :func:`deliver`."""
    sends.failed(challenge, error)


_ADDRESS = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+")


def describe_error(exc: Exception) -> str:
    """A mail error for the record (``EmailChallenge.send_error``): its class and message,
    with every email address in it masked (``SMTPRecipientsRefused`` names the recipient)."""
    text = _ADDRESS.sub(lambda m: mask_email(m.group(0)), f"{type(exc).__name__}: {exc}")
    return text[:1000]


def find_member_quietly(email: str):
    """The member account of ``email``, or None (also when several accounts share it)."""
    try:
        return find_member(email)
    except NotAllowed:
        return None


def _log_send_failure(kind: str, to: str, exc: Exception, about) -> None:
    """The audit-log entry for an email the mail backend refused: on ``about``, else on the
    member account of ``to``, else on the default site. Only the error's class is stored
    (its text can carry server details; the server log has the rest)."""
    if about is None:
        about = find_member_quietly(to)
    if about is None:
        about = sites.default_site()
    if about is None:
        return
    try:
        log(
            instance=about,
            action=log_actions.SEND_FAILED,
            data={"email_kind": kind, "email": mask_email(to), "error": type(exc).__name__},
        )
    except Exception:  # the log must never hide the mail error it reports
        logger.exception("Could not write the audit-log entry for a failed %s email.", kind)
