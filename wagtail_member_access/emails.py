"""Every email we send is rendered and sent here.

Templates are files named as django-allauth names them: ``<kind>_subject.txt``,
``<kind>_message.txt`` and (optional) ``<kind>_message.html`` under
``wagtail_member_access/emails/``; a project overrides them like any Django template. The
context holds plain strings only, so a template can print nothing but what it is given.
Editable templates (per site and language, edited in the admin) plug in at
:func:`render_email`.

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

from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation
from wagtail.log_actions import log

from . import log_actions, sends, sites
from .conf import app_settings
from .members import NotAllowed, find_member, mask_email
from .models import EmailChallenge

__all__ = [
    "KINDS",
    "Delivery",
    "RenderedEmail",
    "deliver",
    "describe_error",
    "record_failure",
    "render_email",
    "send_email",
]

logger = logging.getLogger("wagtail_member_access")

#: Each kind of email and the placeholders its templates may use.
_UNLOCK = ("page_title", "page_url", "site_name", "email")
KINDS: dict[str, tuple[str, ...]] = {
    "unlock_code": ("code", "minutes", *_UNLOCK),
    "unlock_link": ("link", "link_minutes", *_UNLOCK),
    "unlock_code_or_link": ("code", "minutes", "link", "link_minutes", *_UNLOCK),
    "sign_in": ("code", "minutes", "link", "link_minutes", "site_name", "email"),
    "access_ready": (
        "name",
        "email",
        "list_name",
        "pages",
        "site_name",
        "expires",
        "link_hours",
        "set_password_link",
        "invite_days",
    ),
    # Member accounts (flows/, docs/member-accounts.md).
    "invitation": ("name", "email", "link", "days", "site_name", "sign_in_url", "password"),
    "password_reset": ("code", "minutes", "link", "link_hours", "site_name", "email"),
    "password_changed": ("email", "site_name", "changed_at", "reset_url"),
    "sign_in_link": ("link", "link_hours", "site_name", "email"),
    # Expiry reminders (expiry.py, docs/expiry.md).
    "expiry_reminder": ("name", "email", "list_name", "pages", "site_name", "expires"),
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


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


def render_email(kind: str, context: dict, *, language: str | None = None) -> RenderedEmail:
    """Render one email. The subject is forced to one line (no header injection)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown email kind {kind!r}.")
    context = _plain(context)
    base = f"wagtail_member_access/emails/{kind}"
    with translation.override(language):
        subject = render_to_string(f"{base}_subject.txt", context)
        text = render_to_string(f"{base}_message.txt", context)
        try:
            html = render_to_string(f"{base}_message.html", context)
        except TemplateDoesNotExist:
            html = None
    subject = " ".join(subject.split())
    return RenderedEmail(subject=subject, text=text, html=html)


def send_email(
    kind: str, to: str, context: dict, *, language: str | None = None, about=None
) -> None:
    """Render and send one email to ``to`` (one address). Nothing of the body is logged.

    If the mail backend fails, the failure is written to Wagtail's audit log (so editors see
    it in the history of ``about``, the page, grant or user the email is about, and in the
    site history report), then the backend's exception is raised again: callers record it
    where a retry will find it."""
    rendered = render_email(kind, context, language=language)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=app_settings.FROM_EMAIL,
        to=[to],
    )
    if rendered.html:
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
        send_email(kind, to, context, language=language or None, about=about)
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


def _log_send_failure(kind: str, to: str, exc: Exception, about) -> None:
    """The audit-log entry for an email the mail backend refused: on ``about``, else on the
    member account of ``to``, else on the default site. Only the error's class is stored
    (its text can carry server details; the server log has the rest)."""
    if about is None:
        try:
            about = find_member(to)
        except NotAllowed:
            about = None
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
