"""Magic links. Opening one (GET or HEAD, any number of times, by anyone: email scanners
such as Outlook Safe Links, Mimecast and Barracuda open links before people do) changes
nothing and shows a "Continue" page; only its CSRF-protected POST uses the link, signs the
member in and redirects to a URL without the token.

Why our own CSRF token here: token pages send ``Referrer-Policy: no-referrer`` so the token
never reaches another site, and under that policy browsers send ``Origin: null`` and no
``Referer`` with the form's POST. Django's CSRF middleware refuses such a POST (and on HTTPS
always would). So the confirm form carries a random value kept in the visitor's session
(the synchronizer-token pattern): another site can make a browser POST, but cannot know it.
"""

from __future__ import annotations

import secrets

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt

from .. import ratelimits, sites, targets, tokens
from ..conf import app_settings
from ..flows import email_proof
from ..tokens import Outcome
from .common import quiet, ratelimited_response, redirect, token_methods

__all__ = [
    "link",
]

INVALID = {
    Outcome.EXPIRED: (
        _("This link has expired"),
        _(
            "For your security, links only work for a short time. Ask for a new one: it takes a "
            "moment."
        ),
    ),
    Outcome.USED: (
        _("This link has already been used"),
        _("Each link works once, and a newer email replaces an older one. Ask for a new one."),
    ),
    Outcome.MISSING: (
        _("This link is not valid"),
        _("The link may be incomplete: some email programs break long links. Ask for a new one."),
    ),
    Outcome.NO_ACCESS: (
        _("No access with this link"),
        _(
            "This email address has no access here (any more). If you think it should, contact "
            "the site's owner."
        ),
    ),
}


def _retry(challenge, request) -> tuple[str, str]:
    target = targets.of_challenge(challenge) if challenge is not None else None
    if target is not None:
        return targets.url(target, request), _("Ask for a new link")
    return reverse("wagtail_member_access:sign_in"), _("Ask for a new sign-in link")


def _signed_in_as_its_member(request, challenge) -> bool:
    """Is the visitor signed in as the member the used link was for?"""
    user = request.user
    if challenge is None or not user.is_authenticated:
        return False
    email = getattr(user, user.get_email_field_name(), "") or ""
    return constant_time_compare(email.lower(), challenge.email)


def _already_signed_in(request, challenge):
    context = {
        "base_template": app_settings.BASE_TEMPLATE,
        "heading": _("You are signed in already"),
        "message": _("This link was used already, and you are signed in as %(email)s.")
        % {"email": challenge.email},
        "retry_url": email_proof.landing_url(challenge, request),
        "retry_label": _("Continue"),
    }
    return quiet(TemplateResponse(request, "wagtail_member_access/link_invalid.html", context))


def _invalid(request, result):
    if result.outcome is Outcome.USED and _signed_in_as_its_member(request, result.challenge):
        return _already_signed_in(request, result.challenge)
    heading, message = INVALID[result.outcome]
    retry_url, retry_label = _retry(result.challenge, request)
    status = 404 if result.outcome is Outcome.MISSING else 410
    if result.outcome is Outcome.NO_ACCESS:
        status = 403
    context = {
        "base_template": app_settings.BASE_TEMPLATE,
        "heading": heading,
        "message": message,
        "retry_url": retry_url,
        "retry_label": retry_label,
    }
    return quiet(
        TemplateResponse(request, "wagtail_member_access/link_invalid.html", context, status=status)
    )


CONFIRM_KEY = "wagtail_member_access.link_confirm"


def _confirm_value(request) -> str:
    value = request.session.get(CONFIRM_KEY)
    if not value:
        value = request.session[CONFIRM_KEY] = secrets.token_urlsafe(32)
    return value


def _confirm_ok(request) -> bool:
    expected = request.session.get(CONFIRM_KEY) or ""
    given = request.POST.get("confirm") or ""
    return bool(expected) and constant_time_compare(expected, given)


def _forbidden(request):
    context = {
        "base_template": app_settings.BASE_TEMPLATE,
        "heading": _("Please use the button on the link's page"),
        "message": _(
            "We could not confirm that this request came from the page the link "
            "opens. Open the link from the email again and press the button."
        ),
        "retry_url": request.path,
        "retry_label": _("Open the link again"),
    }
    return quiet(
        TemplateResponse(request, "wagtail_member_access/link_invalid.html", context, status=403)
    )


@csrf_exempt  # protected by _confirm_ok instead: see the module docstring
@token_methods("GET", "HEAD", "POST")
def link(request, token):
    if ratelimits.link_limited(request):
        return quiet(ratelimited_response(request))
    state = tokens.peek_link(token)  # changes nothing (email scanners open links)
    if not state.ok:
        return _invalid(request, state)
    if request.method != "POST":
        return _confirm_page(request, state.challenge)
    if not _confirm_ok(request):
        return _forbidden(request)
    result = email_proof.confirm_link(request, token)
    if not result.ok:
        return _invalid(request, result)
    return quiet(redirect(email_proof.landing_url(result.challenge, request)))


def _confirm_page(request, challenge):
    page = targets.of_challenge(challenge)
    site = page.get_site() if page is not None and not targets.is_document(page) else None
    site = site or challenge.site
    site_name = sites.site_name(site)
    context = {
        "base_template": app_settings.BASE_TEMPLATE,
        "title": page.title if page else _("Sign in to %(site)s") % {"site": site_name},
        "page_title": page.title if page else "",
        "email": challenge.email,
        "confirm": _confirm_value(request),
        # Only code_or_link emails carry a code too.
        "has_code": bool(challenge.code_hash),
    }
    return quiet(TemplateResponse(request, "wagtail_member_access/link_confirm.html", context))
