"""Visitor views: the page gate, and the unlock-by-code form posts.

The unlock page renders *in place* at the protected URL (status 200, like Wagtail's password
form). Its forms post here; every post ends in a redirect back to the page (POST/redirect/GET)
or re-renders the form with a specific error.
"""

from __future__ import annotations

import functools

import swapper
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from .. import access, flows, ratelimits
from ..conf import app_settings
from ..forms import CodeForm, EmailForm
from ..models import PageAccessRestriction
from ..tasks import deliver_unlock_code, enqueue_after_response
from ..tokens import Outcome

Mode = PageAccessRestriction.Mode

MESSAGES = {
    Outcome.WRONG: _("That code is not right. Check the email and try again."),
    Outcome.EXPIRED: _("This code has expired. Ask for a new one below."),
    Outcome.EXHAUSTED: _("Too many wrong tries for this code. Ask for a new one below."),
    Outcome.USED: _(
        "This code has already been used or replaced by a newer one. Ask for a new one below."
    ),
    Outcome.THROTTLED: _("Too many wrong tries. Please wait a moment, then try again."),
    Outcome.MISSING: _("Ask for a code first."),
    Outcome.NO_ACCESS: _("This email address has no access to this page."),
}


def private(response):
    """Protected, unlock and token responses: never cached, varied on the session cookie."""
    add_never_cache_headers(response)
    patch_vary_headers(response, ["Cookie"])
    return response


def safe_next(request, value: str | None, page) -> str:
    """A return URL inside this site, or the page's own URL (SECURITY 20): no scheme, no host,
    no ``//`` or ``/\\`` tricks."""
    if (
        value
        and value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return value
    return page.get_url(request) or "/"


def _unlockable(request, page_id):
    """The page and the decision for it; raises 404 unless an email restriction is what
    stands between this visitor and the page (or nothing does any more)."""
    Page = swapper.load_model("wagtailcore", "Page")
    page = get_object_or_404(Page.objects.live(), pk=page_id).specific
    decision = access.decide(request, page)
    if not decision.allowed and not decision.failed.by_email:
        raise Http404
    return page, decision


def _redirect(url):
    response = HttpResponseRedirect(url)
    response.status_code = 303  # see other: the browser GETs the page
    return private(response)


def render_unlock(
    request,
    page,
    decision,
    *,
    email_form=None,
    code_form=None,
    error=None,
    next_url=None,
    status=200,
):
    state = flows.pending_challenge(request, page)
    next_url = next_url or request.get_full_path()
    user = request.user
    context = {
        "page": page,
        "base_template": app_settings.BASE_TEMPLATE,
        "mode": decision.failed.mode if decision.failed else Mode.CODE,
        "step": "code" if state else "email",
        "pending_email": state["email"] if state else "",
        "resend_wait": flows.cooldown_seconds_left(state) if state else 0,
        "code_minutes": int(app_settings.CODE_VALIDITY.total_seconds() // 60),
        "code_length": app_settings.CODE_LENGTH,
        "email_form": email_form or EmailForm(initial={"next": next_url}),
        "code_form": code_form or CodeForm(initial={"next": next_url}),
        "resend_form": EmailForm(
            initial={"next": next_url, "email": state["email"] if state else ""}
        ),
        "next_url": next_url,
        "error": error,
        "signed_in_as": getattr(user, user.get_email_field_name(), "")
        if user.is_authenticated
        else "",
    }
    return private(
        TemplateResponse(request, "wagtail_member_access/unlock.html", context, status=status)
    )


def denied_response(request, page, decision):
    """What a visitor who may not see ``page`` gets instead."""
    rule = decision.failed
    if rule.by_email:
        return render_unlock(request, page, decision)
    if not request.user.is_authenticated:
        login_url = getattr(settings, "WAGTAIL_FRONTEND_LOGIN_URL", None) or settings.LOGIN_URL
        return private(redirect_to_login(request.get_full_path(), login_url))
    return private(
        TemplateResponse(
            request,
            "wagtail_member_access/no_access.html",
            {"page": page, "base_template": app_settings.BASE_TEMPLATE},
            status=403,
        )
    )


def gate(callback):
    """The ``on_serve_page`` wrapper: decide, then serve or refuse."""

    @functools.wraps(callback)
    def inner(page, request, serve_args, serve_kwargs):
        decision = access.decide(request, page)
        if not decision.allowed:
            return denied_response(request, page, decision)
        response = callback(page, request, serve_args, serve_kwargs)
        if decision.restricted:
            private(response)
        return response

    return inner


def ratelimited_response(request):
    return private(
        TemplateResponse(
            request,
            "wagtail_member_access/ratelimited.html",
            {"base_template": app_settings.BASE_TEMPLATE},
            status=429,
        )
    )


@require_POST
def request_code(request, page_id):
    """Email submitted: the same redirect for every well-formed address (no enumeration)."""
    page, decision = _unlockable(request, page_id)
    if decision.allowed:  # already unlocked (in another tab, say)
        return _redirect(safe_next(request, request.POST.get("next"), page))
    form = EmailForm(request.POST)
    if not form.is_valid():
        return render_unlock(
            request,
            page,
            decision,
            email_form=form,
            next_url=safe_next(request, request.POST.get("next"), page),
        )
    next_url = safe_next(request, form.cleaned_data["next"], page)
    email = form.cleaned_data["email"]
    if ratelimits.send_limited(request, email):
        return ratelimited_response(request)
    challenge = flows.request_code(request, page, email)
    response = _redirect(next_url)
    if challenge is not None:
        enqueue_after_response(response, deliver_unlock_code, challenge.pk)
    return response


@require_POST
def verify_code(request, page_id):
    page, decision = _unlockable(request, page_id)
    next_url = safe_next(request, request.POST.get("next"), page)
    if decision.allowed:
        return _redirect(next_url)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return render_unlock(request, page, decision, code_form=form, next_url=next_url)
    if ratelimits.verify_limited(request):
        return ratelimited_response(request)
    result = flows.verify_code(request, page, form.cleaned_data["code"])
    if result.ok:
        return _redirect(next_url)
    if result.outcome is Outcome.MISSING:
        flows.clear_challenge(request)
    return render_unlock(
        request,
        page,
        decision,
        error=MESSAGES[result.outcome],
        code_form=CodeForm(initial={"next": next_url}),
        next_url=next_url,
    )


@require_POST
def change_email(request, page_id):
    """ "Use a different email": forget this browser's code request for the page."""
    page, _ = _unlockable(request, page_id)
    flows.clear_challenge(request)
    return _redirect(safe_next(request, request.POST.get("next"), page))
