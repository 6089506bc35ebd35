"""Magic links. Opening one (GET or HEAD, any number of times, by anyone: email scanners
such as Outlook Safe Links, Mimecast and Barracuda open links before people do) changes
nothing and shows a "Continue" page; only its CSRF-protected POST uses the link, signs the
member in and redirects to a URL without the token."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from .. import flows, ratelimits
from ..conf import app_settings
from ..tokens import Outcome
from .common import quiet, ratelimited_response, redirect

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
        _(
            "Each link works once. If it was you, you are probably signed in already; otherwise "
            "ask for a new one."
        ),
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
    if challenge is not None and challenge.page_id:
        return challenge.page.specific.get_url(request) or "/", _("Ask for a new link")
    return reverse("wagtail_member_access:sign_in"), _("Ask for a new sign-in link")


def _invalid(request, result):
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


@require_http_methods(["GET", "HEAD", "POST"])
def link(request, token):
    if ratelimits.link_limited(request):
        return quiet(ratelimited_response(request))
    if request.method != "POST":
        result = flows.open_link(token)
        if not result.ok:
            return _invalid(request, result)
        challenge = result.challenge
        page = challenge.page.specific if challenge.page_id else None
        site = page.get_site() if page else challenge.site
        context = {
            "base_template": app_settings.BASE_TEMPLATE,
            "title": page.title
            if page
            else _("Sign in to %(site)s")
            % {"site": (site.site_name or site.hostname) if site else ""},
            "page_title": page.title if page else "",
            "email": challenge.email,
        }
        return quiet(TemplateResponse(request, "wagtail_member_access/link_confirm.html", context))
    result = flows.confirm_link(request, token)
    if not result.ok:
        return _invalid(request, result)
    return quiet(redirect(flows.landing_url(result.challenge, request)))
