"""The member sign-in page: email me a code or a link. No password (member accounts with
passwords extend this page). Staff are never signed in here: they get the same neutral
screen and no email, and sign in to the admin with their password."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from .. import flows, ratelimits
from ..conf import app_settings
from ..forms import CodeForm, EmailForm
from ..tasks import deliver_challenge, enqueue_after_response
from ..tokens import Outcome
from .common import private, ratelimited_response, redirect, safe_next, steps_context
from .unlock import MESSAGES

SIGN_IN_MESSAGES = MESSAGES | {Outcome.NO_ACCESS: _("This email address cannot sign in here.")}


def _actions() -> dict:
    return {
        "request": reverse("wagtail_member_access:sign_in"),
        "verify": reverse("wagtail_member_access:sign_in_code"),
        "change": reverse("wagtail_member_access:sign_in_change"),
    }


def _next(request) -> str:
    value = request.POST.get("next") or request.GET.get("next")
    return safe_next(request, value, app_settings.SIGN_IN_REDIRECT_URL)


def _render(request, *, email_form=None, code_form=None, error=None):
    context = steps_context(
        request,
        None,
        sends_code=True,
        sends_link=True,
        actions=_actions(),
        next_url=_next(request),
        email_form=email_form,
        code_form=code_form,
        error=error,
    )
    return private(TemplateResponse(request, "wagtail_member_access/sign_in.html", context))


@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request):
    """GET: the form (or the "check your inbox" step). POST: the same redirect for every
    well-formed address, whether or not it may sign in (no enumeration)."""
    if request.method != "POST":
        return _render(request)
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _render(request, email_form=form)
    email = form.cleaned_data["email"]
    if ratelimits.send_limited(request, email):
        return ratelimited_response(request)
    next_url = _next(request)
    challenge = flows.request_email(request, email, None, next_url=next_url)
    response = redirect(f"{reverse('wagtail_member_access:sign_in')}?next={next_url}")
    if challenge is not None:
        enqueue_after_response(response, deliver_challenge, challenge.pk)
    return response


@require_POST
def sign_in_code(request):
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _render(request, code_form=form)
    if ratelimits.verify_limited(request):
        return ratelimited_response(request)
    next_url = _next(request)
    result = flows.verify_code(request, None, form.cleaned_data["code"])
    if result.ok:
        return redirect(next_url)
    if result.outcome is Outcome.MISSING:
        flows.clear_challenge(request)
    return _render(request, error=SIGN_IN_MESSAGES[result.outcome])


@require_POST
def sign_in_change(request):
    flows.clear_challenge(request)
    return redirect(f"{reverse('wagtail_member_access:sign_in')}?next={_next(request)}")
