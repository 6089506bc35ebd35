"""The member sign-in page, one address for members and editors (docs/member-accounts.md):
email and password, or "email me a code or link".

Password failures are rate-limited per account (its username and email alike) and per client
IP, and capped at ``PASSWORD_MAX_FAILURES`` in a row per account
(docs/security.md#password-guessing); they get one
message whatever was wrong (no enumeration). Editors who sign in here with their password go
back where they came from, or to the admin. Staff are never signed in by a code or link: they
get the same neutral screen and no email."""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from .. import ratelimits, tasks
from ..conf import app_settings
from ..flows import email_proof
from ..flows.password_sign_in import (
    PasswordSignIn,
    authenticate_password,
    complete_password_sign_in,
    password_attempt,
)
from ..forms import CodeForm, EmailForm, PasswordSignInForm
from ..tokens import Outcome
from .common import (
    code_message,
    member_page,
    post_only,
    ratelimited_response,
    redirect,
    safe_next,
    steps_context,
)
from .unlock import MESSAGES

__all__ = ["SIGNED_OUT_KEY", "sign_in", "sign_in_change", "sign_in_code", "sign_in_password"]

#: Set in the fresh session after signing out: the sign-in page then says so, once.
SIGNED_OUT_KEY = "wagtail_member_access.signed_out"

SIGN_IN_MESSAGES = MESSAGES | {Outcome.NO_ACCESS: _("This email address cannot sign in here.")}
PASSWORD_REFUSED = _(
    "The email address or password is not right. Check them, or sign in with an emailed code "
    "or link instead."
)


def _actions() -> dict:
    return {
        "request": reverse("wagtail_member_access:sign_in"),
        "verify": reverse("wagtail_member_access:sign_in_code"),
        "change": reverse("wagtail_member_access:sign_in_change"),
    }


def _sign_in_url(next_url: str) -> str:
    # Encoded: a return URL with its own query ("/course/?page=2&tab=notes") stays whole.
    return f"{reverse('wagtail_member_access:sign_in')}?{urlencode({'next': next_url})}"


def _next(request) -> str:
    value = request.POST.get("next") or request.GET.get("next")
    return safe_next(request, value, app_settings.SIGN_IN_REDIRECT_URL)


def _render(
    request, *, email_form=None, code_form=None, error=None, password_form=None, status=200
):
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
    user = request.user
    typed = (email_form or password_form).data.get("email") if (email_form or password_form) else ""
    forgot = reverse("wagtail_member_access:forgot_password")
    next_url = _next(request)
    context |= {
        "password_form": password_form or PasswordSignInForm(initial={"next": next_url}),
        "password_error": getattr(password_form, "refused", None),
        "email_value": typed or "",
        "forgot_url": f"{forgot}?{urlencode({'next': next_url})}"
        if next_url != app_settings.SIGN_IN_REDIRECT_URL
        else forgot,
        "signed_out": bool(request.session.pop(SIGNED_OUT_KEY, False)),
        "signed_in_as": getattr(user, user.get_email_field_name(), "") or user.get_username()
        if user.is_authenticated
        else "",
    }
    return member_page(request, "wagtail_member_access/sign_in.html", context, status=status)


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
    challenge = email_proof.request_email(request, email, None, next_url=next_url)
    response = redirect(_sign_in_url(next_url))
    if challenge is not None:
        tasks.enqueue_after_response(response, tasks.deliver_challenge, challenge.pk)
    return response


@post_only(lambda request: reverse("wagtail_member_access:sign_in"))
def sign_in_code(request):
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _render(request, code_form=form)
    if ratelimits.verify_limited(request):
        return ratelimited_response(request)
    next_url = _next(request)
    result = email_proof.verify_code(request, None, form.cleaned_data["code"])
    if result.ok:
        return redirect(next_url)
    if result.outcome is Outcome.MISSING:
        email_proof.clear_challenge(request)
    return _render(request, error=code_message(SIGN_IN_MESSAGES, result))


@post_only(lambda request: reverse("wagtail_member_access:sign_in"))
def sign_in_change(request):
    email_proof.clear_challenge(request)
    return redirect(_sign_in_url(_next(request)))


@post_only(lambda request: reverse("wagtail_member_access:sign_in"))
def sign_in_password(request):
    """Email (or an editor's username) and password. Members go to ``next`` (or the sign-in
    default), editors to ``next`` or the admin, members with an initial password to the
    forced change first. With the password left empty, the one address field asks for a
    code or link instead (the Enter key submits with this form's first button)."""
    if not request.POST.get("password"):
        return sign_in(request)
    form = PasswordSignInForm(request.POST)
    if not form.is_valid():
        return _render(request, password_form=form, status=400)
    identifier = form.cleaned_data["email"]
    # Counted before the password is checked (parallel guesses cannot overshoot); a failure
    # needs nothing more, a success takes its count back.
    attempt = password_attempt(request, identifier)
    if attempt.limited:
        return ratelimited_response(request)
    user = authenticate_password(request, identifier, form.cleaned_data["password"])
    if user is None:
        form.refused = PASSWORD_REFUSED
        return _render(request, password_form=form, status=400)
    attempt.succeeded()
    email_proof.clear_challenge(request)
    result = complete_password_sign_in(request, user)
    given = request.POST.get("next")
    if result.kind is PasswordSignIn.STAFF:
        return redirect(safe_next(request, given, reverse("wagtailadmin_home")))
    next_url = _next(request)
    if result.kind is PasswordSignIn.MUST_CHANGE:
        change = reverse("wagtail_member_access:change_password")
        return redirect(f"{change}?{urlencode({'next': next_url})}")
    return redirect(next_url)
