"""The member's account page ("My access", docs/member-accounts.md) and its actions: a new
email address, sign out everywhere, download my data, delete my account, remove the password.
Every action is a CSRF-protected POST, rate-limited (``RATE_ACCOUNT_PER_MEMBER``, codes as
every code), and ends in a redirect back to the page or a re-rendered page with a specific
error."""

from __future__ import annotations

import json
from functools import wraps

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from .. import durations, ratelimits, tasks
from ..conf import app_settings
from ..flows import member_account, pending, sessions
from ..flows import my_access as access_lists
from ..flows import set_password as passwords
from ..flows.password_sign_in import password_attempt
from ..forms import CodeForm, CurrentPasswordForm, NewEmailForm
from ..members import is_privileged
from ..tokens import Outcome
from .common import code_message, member_page, post_only, private, ratelimited_response, redirect
from .unlock import MESSAGES

__all__ = [
    "account_deleted",
    "change_email",
    "change_email_cancel",
    "change_email_code",
    "delete_account",
    "delete_account_code",
    "download_data",
    "my_access",
    "remove_password",
    "sign_out_everywhere",
]

NOTICE_KEY = "wagtail_member_access.account_notice"
NOTICES = {
    "email_code": _("We have sent a code to the new address. Enter it below."),
    "email_changed": _("Your email address was changed. Your access moved with it."),
    "delete_code": _(
        "We have sent a code to your email address. Enter it below to delete your account."
    ),
    "signed_out": _("All your other sessions were signed out."),
    "password_removed": _(
        "Your password was removed. You now sign in with an emailed code or link."
    ),
}
ACCOUNT_MESSAGES = MESSAGES | {Outcome.NO_ACCESS: _("This account cannot be changed here.")}
SAME = _("This is your email address already.")


def _page_url() -> str:
    return reverse("wagtail_member_access:my_access")


#: Where the page continues after a code was sent: the section with its code form, which
#: is further down than a screen (the browser scrolls to it).
_SECTION_OF = {"email_code": "wma-email-heading", "delete_code": "wma-data-heading"}


def _back(request, notice: str | None = None):
    if notice:
        request.session[NOTICE_KEY] = notice
    section = _SECTION_OF.get(notice)
    return redirect(f"{_page_url()}#{section}" if section else _page_url())


def _member(view):
    """Signed-in members only (editors manage their account in the admin)."""

    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            login = reverse("wagtail_member_access:sign_in")
            return redirect(f"{login}?{urlencode({'next': _page_url()})}")
        if request.method == "POST" and is_privileged(request.user):
            return redirect(_page_url())
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _action(*, limited: bool = False):
    """An account action: a POST (a GET or HEAD goes back to the page) by a signed-in member;
    with ``limited``, refused first once ``RATE_ACCOUNT_PER_MEMBER`` is spent."""

    def decorator(view):
        @wraps(view)
        def checked(request):
            if limited and ratelimits.account_limited(request):
                return ratelimited_response(request, _page_url())
            return view(request)

        return post_only(lambda request: _page_url())(_member(checked))

    return decorator


def _state(request, key):
    state = pending.get(request, key)
    return state if state and state.get("user") == request.user.pk else None


def _render(
    request,
    *,
    email_form=None,
    code_form=None,
    delete_form=None,
    password_form=None,
    error=None,
    status=200,
):
    user = request.user
    change = _state(request, member_account.CHANGE_KEY)
    delete = _state(request, member_account.DELETE_KEY)
    context = {
        "entries": access_lists.member_access(user, request),
        "email": getattr(user, user.get_email_field_name(), ""),
        "has_password": user.has_usable_password(),
        "privileged": is_privileged(user),
        "notice": NOTICES.get(request.session.pop(NOTICE_KEY, ""), ""),
        "error": error,
        "email_form": email_form or NewEmailForm(),
        "change": change,
        "change_wait": pending.seconds_left(change) if change else 0,
        "code_form": code_form or CodeForm(),
        "delete": delete,
        "delete_form": delete_form or CodeForm(),
        "password_form": password_form or CurrentPasswordForm(user),
        "code_minutes": durations.minutes(app_settings.CODE_VALIDITY),
        "sessions": access_lists.browsers(request) if not is_privileged(user) else [],
    }
    return member_page(request, "wagtail_member_access/my_access.html", context, status=status)


def _back_sending(request, notice: str, challenge):
    """Back to the page saying ``notice``; the code email of ``challenge`` (None: nothing new
    to send, within the cooldown) goes out once the response is sent."""
    response = _back(request, notice)
    if challenge is not None:
        tasks.enqueue_after_response(response, tasks.deliver_challenge, challenge.pk)
    return response


def _posted_code(request, form_name: str):
    """The code posted to an account action, or the response refusing it: the form's errors
    (shown in the form ``form_name`` of the page) or too many tries."""
    form = CodeForm(request.POST)
    if not form.is_valid():
        return None, _render(request, **{form_name: form}, status=400)
    if ratelimits.verify_limited(request):
        return None, ratelimited_response(request, _page_url())
    return form.cleaned_data["code"], None


def _confirm(request, form_name: str, key: str, confirm, done):
    """The code posted for the pending action ``key`` (its form ``form_name``):
    ``confirm(request, code)`` redeems it and carries the action out; ``done()`` is the
    response when it did. A code that did not pass leaves the action pending unless it is
    gone, and the page says why; an action refused after its code passed (``ValidationError``)
    is forgotten, with its message."""
    code, refusal = _posted_code(request, form_name)
    if refusal is not None:
        return refusal
    try:
        result = confirm(request, code)
    except ValidationError as error:
        pending.clear(request, key)
        return _render(request, error=" ".join(error.messages), status=400)
    if result.ok:
        return done()
    if result.outcome is Outcome.MISSING:
        pending.clear(request, key)
    return _render(request, error=code_message(ACCOUNT_MESSAGES, result), status=400)


@require_http_methods(["GET", "HEAD"])
@_member
def my_access(request):
    """The account page: every access list the member is on and what it opens, and the
    account's actions."""
    if passwords.pending_step(request) == "password":
        change = reverse("wagtail_member_access:change_password")
        return redirect(f"{change}?{urlencode({'next': request.get_full_path()})}")
    if not is_privileged(request.user):
        sessions.touch(request)
    return _render(request)


@_action()
def change_email(request):
    """Send a code to the new address (or, within the cooldown, nothing new)."""
    form = NewEmailForm(request.POST)
    if not form.is_valid():
        return _render(request, email_form=form, status=400)
    email = form.cleaned_data["email"]
    if ratelimits.account_limited(request) or ratelimits.send_limited(request, email):
        return ratelimited_response(request, _page_url())
    try:
        challenge = member_account.request_email_change(request, email)
    except ValidationError:
        form.add_error("email", SAME)
        return _render(request, email_form=form, status=400)
    return _back_sending(request, "email_code", challenge)


@_action()
def change_email_code(request):
    """The code from the new address: switch the account to it."""
    return _confirm(
        request,
        "code_form",
        member_account.CHANGE_KEY,
        member_account.confirm_email_change,
        lambda: _back(request, "email_changed"),
    )


@_action()
def change_email_cancel(request):
    """Forget this browser's pending change of address or deletion."""
    pending.clear(request, member_account.CHANGE_KEY)
    pending.clear(request, member_account.DELETE_KEY)
    return _back(request)


@_action(limited=True)
def sign_out_everywhere(request):
    """End every other session of the member."""
    sessions.sign_out_everywhere(request)
    return _back(request, "signed_out")


@_action(limited=True)
def download_data(request):
    """The member's data as a JSON file (a POST: CSRF-protected, never cached)."""
    data = member_account.export(request)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return private(response)


@_action(limited=True)
def delete_account(request):
    """Ask for the code that confirms the deletion (sent to the member's address)."""
    challenge = member_account.request_deletion(request)
    return _back_sending(request, "delete_code", challenge)


@_action()
def delete_account_code(request):
    """The deletion code: delete the account, sign out, say so on the sign-in page."""
    return _confirm(
        request,
        "delete_form",
        member_account.DELETE_KEY,
        member_account.confirm_deletion,
        lambda: redirect(reverse("wagtail_member_access:account_deleted")),
    )


@require_http_methods(["GET", "HEAD"])
def account_deleted(request):
    """After the deletion: what happened."""
    return member_page(request, "wagtail_member_access/account_deleted.html", {})


@_action()
def remove_password(request):
    """Remove the password (the current one proves it is the member): sign in by email."""
    user = request.user
    form = CurrentPasswordForm(user, request.POST)
    if not user.has_usable_password():
        return _back(request)
    attempt = password_attempt(request, user=user)
    if attempt.limited or ratelimits.account_limited(request):
        return ratelimited_response(request, _page_url())
    if not form.is_valid():
        return _render(request, password_form=form, status=400)
    attempt.succeeded()
    sessions.remove_password(request)
    return _back(request, "password_removed")
