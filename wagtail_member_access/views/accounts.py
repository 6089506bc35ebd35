"""Member-account pages: forgotten password (code or link), invitation and reset links,
set / change password, sign out (the account page is views/member_account.py).

Invitation and reset links (``/access/invitation/<token>/``, ``/access/password/reset/<token>/``)
change nothing when opened (email scanners open links first): the GET only checks the token,
keeps it in the visitor's server-side session and redirects to ``/access/password/set/`` (as
Django's own password-reset view does), so the token leaves the address bar before any form
is shown. The set-password POST is what uses the link. Every failure is a friendly page with
a way to ask again, never a 500; token URLs send ``Referrer-Policy: no-referrer`` and are kept
out of Django's request log.
"""

from __future__ import annotations

from django.contrib.auth import logout
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import durations, ratelimits, sends, tasks, tokens
from ..conf import app_settings
from ..flows import password_reset, password_sign_in, pending
from ..flows import set_password as passwords
from ..forms import (
    EmailForm,
    MemberPasswordChangeForm,
    MemberSetPasswordForm,
    ResetCodeForm,
)
from ..members import is_privileged
from ..models import EmailChallenge
from ..tokens import Outcome
from .common import (
    code_message,
    member_page,
    post_only,
    quiet,
    ratelimited_response,
    redirect,
    safe_next,
    token_methods,
)
from .sign_in import SIGNED_OUT_KEY
from .unlock import MESSAGES

__all__ = [
    "change_password",
    "forgot_password",
    "forgot_password_change",
    "forgot_password_code",
    "invitation",
    "password_reset_link",
    "set_password",
    "sign_out",
]

Purpose = EmailChallenge.Purpose

#: The invitation or reset link this browser opened: ``{"token", "purpose"}``.
SET_SESSION_KEY = "wagtail_member_access.set_password"

INVALID = {
    Outcome.EXPIRED: (
        _("This link has expired"),
        _("For your security, the link only worked for a limited time. Ask for a new one below."),
    ),
    Outcome.USED: (
        _("This link has already been used"),
        _(
            "Each link works once, and a newer email replaces an older one. If you already "
            "chose your password, sign in with it; otherwise ask for a new link."
        ),
    ),
    Outcome.MISSING: (
        _("This link is not valid"),
        _("The link may be incomplete: some email programs break long links. Ask for a new one."),
    ),
    Outcome.NO_ACCESS: (
        _("This account cannot set a password here"),
        _(
            "This email address cannot sign in here (any more). If you think it should, "
            "contact the site's owner."
        ),
    ),
}

RESET_MESSAGES = MESSAGES | {
    Outcome.MISSING: _("Ask for a code first."),
    Outcome.NO_ACCESS: _("This email address cannot sign in here."),
}


def _ctx(**extra) -> dict:
    return {"base_template": app_settings.BASE_TEMPLATE} | extra


def _sign_in_url(next_url: str = "") -> str:
    url = reverse("wagtail_member_access:sign_in")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _invalid(request, outcome: Outcome):
    heading, message = INVALID[outcome]
    status = {Outcome.MISSING: 404, Outcome.NO_ACCESS: 403}.get(outcome, 410)
    context = _ctx(
        heading=heading,
        message=message,
        retry_url=reverse("wagtail_member_access:forgot_password"),
        retry_label=_("Ask for a new link"),
    )
    return quiet(
        TemplateResponse(request, "wagtail_member_access/link_invalid.html", context, status=status)
    )


# --- invitation and reset links -----------------------------------------------------------------


def _open_token(request, token: str, purpose):
    if ratelimits.link_limited(request):
        return quiet(ratelimited_response(request))
    state = tokens.peek_link(token, purposes=(purpose,))  # changes nothing
    if not state.ok:
        return _invalid(request, state.outcome)
    request.session[SET_SESSION_KEY] = {"token": token, "purpose": str(purpose)}
    return quiet(redirect(reverse("wagtail_member_access:set_password")))


@csrf_exempt  # GET and HEAD only: else CsrfViewMiddleware logs a POST's path, token included
@token_methods("GET", "HEAD")
def invitation(request, token):
    """An invitation link: check it, keep it in the session, go to the set-password page."""
    return _open_token(request, token, Purpose.INVITE)


@csrf_exempt  # GET and HEAD only: else CsrfViewMiddleware logs a POST's path, token included
@token_methods("GET", "HEAD")
def password_reset_link(request, token):
    """A password-reset link: check it, keep it in the session, go to the set-password page."""
    return _open_token(request, token, Purpose.RESET)


@require_http_methods(["GET", "HEAD", "POST"])
def set_password(request):
    """Choose a password with the invitation or reset link opened in this browser."""
    held = request.session.get(SET_SESSION_KEY)
    if not held:
        return _invalid(request, Outcome.MISSING)
    token, purpose = held["token"], held["purpose"]
    state = tokens.peek_link(token, purposes=(purpose,))
    if not state.ok:
        request.session.pop(SET_SESSION_KEY, None)
        return _invalid(request, state.outcome)
    email = state.challenge.email
    user = passwords.user_for_email(email)
    # Whoever has not accepted the terms yet accepts them with the password they choose, by
    # invitation or by reset link alike (a reset link is how a buyer without a password
    # gets their first one, too).
    terms = passwords.terms_required(user)
    form = MemberSetPasswordForm(
        user, request.POST if request.method == "POST" else None, terms=terms
    )
    if request.method == "POST":
        if ratelimits.link_limited(request):
            return ratelimited_response(request)
        if form.is_valid():
            result = passwords.set_password_with_token(
                request,
                token,
                purpose,
                form.cleaned_data["new_password1"],
                accept_terms=bool(form.cleaned_data.get("accept_terms")),
            )
            request.session.pop(SET_SESSION_KEY, None)
            if not result.ok:
                return _invalid(request, result.outcome)
            my_account = reverse("wagtail_member_access:my_access")
            return redirect(safe_next(request, state.challenge.next_url, my_account))
    context = _ctx(
        form=form,
        email=email,
        invitation=purpose == Purpose.INVITE,
        terms_url=app_settings.TERMS_URL,
    )
    status = 400 if form.is_bound else 200
    return member_page(request, "wagtail_member_access/set_password.html", context, status=status)


# --- forgotten password ----------------------------------------------------------------------


def _reset_next(request) -> str:
    """Where the member goes after the reset: the form's or the address's ``next``, else the
    one this browser's reset request keeps, else "My access"."""
    state = password_reset.pending_reset(request) or {}
    given = request.POST.get("next") or request.GET.get("next") or state.get("next")
    return safe_next(request, given, reverse("wagtail_member_access:my_access"))


def _render_forgot(request, *, email_form=None, code_form=None, error=None, status=200):
    state = password_reset.pending_reset(request)
    if state and code_form is None:
        code_form = _reset_code_form(state)
    next_url = _reset_next(request)
    if next_url == reverse("wagtail_member_access:my_access"):
        next_url = ""  # the default: nothing to carry
    context = _ctx(
        next_url=next_url,
        sign_in_url=_sign_in_url(next_url),
        step="code" if state else "email",
        pending_email=state["email"] if state else "",
        resend_wait=pending.resend_wait(state),
        mail_down=sends.mail_down(),
        code_minutes=durations.minutes(app_settings.CODE_VALIDITY),
        link_hours=durations.hours(app_settings.RESET_LINK_VALIDITY),
        email_form=email_form or EmailForm(),
        code_form=code_form,
        error=error,
        terms_url=app_settings.TERMS_URL,
    )
    return member_page(request, "wagtail_member_access/password_reset.html", context, status=status)


def _reset_code_form(state, data=None) -> ResetCodeForm:
    # With TERMS_URL set, the terms box is on this form for every address: it is shown before
    # the code proves the address, so asking only those who have not accepted yet would tell
    # anyone who types an address whether it has accepted (that is, whether it has an account).
    return ResetCodeForm(
        passwords.transient_user(state["email"]), data, terms=bool(app_settings.TERMS_URL)
    )


@require_http_methods(["GET", "HEAD", "POST"])
def forgot_password(request):
    """GET: ask for the email (or, after asking, the code step). POST: the same redirect for
    every well-formed address, whether or not it has an account (no enumeration)."""
    if request.method != "POST":
        return _render_forgot(request)
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _render_forgot(request, email_form=form, status=400)
    email = form.cleaned_data["email"]
    if ratelimits.send_limited(request, email):
        return ratelimited_response(request)
    next_url = _reset_next(request)
    challenge = password_reset.request_password_reset(request, email, next_url=next_url)
    response = redirect(reverse("wagtail_member_access:forgot_password"))
    if challenge is not None:
        tasks.enqueue_after_response(response, tasks.deliver_challenge, challenge.pk)
    return response


@post_only(lambda request: reverse("wagtail_member_access:forgot_password"))
def forgot_password_code(request):
    """The code from the reset email and the new password, on one form."""
    state = password_reset.pending_reset(request)
    if state is None:
        return _render_forgot(request, error=RESET_MESSAGES[Outcome.MISSING], status=400)
    form = _reset_code_form(state, request.POST)
    if not form.is_valid():
        return _render_forgot(request, code_form=form, status=400)
    if ratelimits.verify_limited(request):
        return ratelimited_response(request)
    next_url = _reset_next(request)
    result = password_reset.reset_with_code(
        request,
        form.cleaned_data["code"],
        form.cleaned_data["new_password1"],
        accept_terms=bool(form.cleaned_data.get("accept_terms")),
    )
    if result.ok:
        return redirect(next_url)
    if result.outcome is Outcome.MISSING:
        password_reset.clear_reset(request)
    return _render_forgot(request, error=code_message(RESET_MESSAGES, result), status=400)


@post_only(lambda request: reverse("wagtail_member_access:forgot_password"))
def forgot_password_change(request):
    """ "Use a different email address": forget this browser's reset request."""
    password_reset.clear_reset(request)
    return redirect(reverse("wagtail_member_access:forgot_password"))


# --- signed-in members -----------------------------------------------------------------------


def _next(request, default: str) -> str:
    return safe_next(request, request.POST.get("next") or request.GET.get("next"), default)


@require_http_methods(["GET", "HEAD", "POST"])
def change_password(request):
    """Choose a password: forced after signing in with an initial password (no current
    password asked: it no longer works), otherwise a change that needs the current one (or a
    first password for a member who so far signed in by email). Every POST counts against
    ``RATE_ACCOUNT_PER_MEMBER`` as the account page's other actions do; current-password
    checks also count like password sign-ins (per account and per IP, failures in a row):
    429 when over either."""
    if not request.user.is_authenticated:
        return redirect(_sign_in_url(request.get_full_path()))
    if is_privileged(request.user):  # editors change their password in the admin
        return redirect(reverse("wagtailadmin_account"))
    user = request.user
    forced = passwords.pending_step(request) == "password"
    next_url = _next(request, reverse("wagtail_member_access:my_access"))
    data = request.POST if request.method == "POST" else None
    # Setting or changing the password is an action of the account page: its limit too
    # (docs/member-accounts.md#limits).
    if data is not None and ratelimits.account_limited(request):
        return ratelimited_response(request, next_url)
    # A first password (forced after an initial one, or chosen from "My access" by a member
    # who signed in by code or link) comes with the terms, as on every first-password path.
    terms = (forced or not user.has_usable_password()) and passwords.terms_required(user)
    if user.has_usable_password() and not forced:
        form = MemberPasswordChangeForm(user, data, terms=terms)
        if data is not None:
            # Whoever holds the session may guess the current password: the same limits as
            # password sign-in, counted before the form checks it
            # (docs/security.md#password-guessing).
            attempt = password_sign_in.password_attempt(request, user=user)
            if attempt.limited:
                return ratelimited_response(request)
            if form.is_valid() or "old_password" not in form.errors:
                attempt.succeeded()  # the current password was right
    else:
        form = MemberSetPasswordForm(user, data, terms=terms)
    if request.method == "POST" and form.is_valid():
        passwords.change_password(
            request,
            form.cleaned_data["new_password1"],
            accept_terms=bool(form.cleaned_data.get("accept_terms")),
        )
        return redirect(next_url)
    context = _ctx(form=form, forced=forced, next_url=next_url, terms_url=app_settings.TERMS_URL)
    status = 400 if form.is_bound else 200
    return member_page(
        request, "wagtail_member_access/change_password.html", context, status=status
    )


@require_POST
def sign_out(request):
    """Sign out (POST only, so a link or image elsewhere cannot sign anyone out), and say so
    on the sign-in page."""
    next_url = _next(request, reverse("wagtail_member_access:sign_in"))
    logout(request)
    request.session[SIGNED_OUT_KEY] = True
    return redirect(next_url)
