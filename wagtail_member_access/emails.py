"""Every email we send is rendered and sent here.

Templates are files named as django-allauth names them: ``<kind>_subject.txt``,
``<kind>_message.txt`` and (optional) ``<kind>_message.html`` under
``wagtail_member_access/emails/``; a project overrides them like any Django template. The
context holds plain strings only, so a template can print nothing but what it is given.
Editable templates (per site and language, edited in the admin) plug in at
:func:`render_email`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from .conf import app_settings
from .members import mask_email

__all__ = ["KINDS", "RenderedEmail", "render_email", "send_email"]

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
    # Member accounts (accounts.py, docs/member-accounts.md).
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
    from wagtail.log_actions import log
    from wagtail.models import Site

    from . import log_actions
    from .members import NotAllowed, find_member

    if about is None:
        try:
            about = find_member(to)
        except NotAllowed:
            about = None
    if about is None:
        about = Site.objects.filter(is_default_site=True).first()
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
