"""Visitor views for a protected page or document: the page gate, the document gate, and
the unlock form posts.

The unlock page renders *in place* at the protected URL (status 200, like Wagtail's password
form). Its forms post here; every post ends in a redirect back to the page or document
(POST/redirect/GET) or re-renders the form with a specific error. The posts answer 404 for
an id that is not member-protected, as for a missing one: they reveal nothing about other
pages (docs/security.md#unlock-endpoints).
"""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .. import access, compat_documents, mirror, ratelimits, targets, tasks
from ..conf import app_settings
from ..flows import email_proof, my_access, set_password
from ..forms import CodeForm, EmailForm
from ..models import PageAccessRestriction
from ..tokens import Outcome
from .common import (
    code_message,
    member_page,
    post_only,
    private,
    ratelimited_response,
    redirect,
    safe_next,
    steps_context,
    store_guarded,
)
from .editor_banner import with_banner

__all__ = [
    "MESSAGES",
    "change_email",
    "document_gate",
    "gate",
    "request_code",
    "verify_code",
]

Mode = PageAccessRestriction.Mode

MESSAGES = {
    Outcome.WRONG: _("That code is not right. Check the email and try again."),
    Outcome.EXPIRED: _("This code has expired. Ask for a new one below."),
    Outcome.EXHAUSTED: _("Too many wrong tries for this code. Ask for a new one below."),
    Outcome.USED: _(
        "This code has already been used or replaced by a newer one. Ask for a new one below."
    ),
    Outcome.REPLACED: _(
        "That code was replaced by a newer one. Enter the code from the latest email."
    ),
    Outcome.THROTTLED: _("The last code was not right. Please wait a moment, then try again."),
    Outcome.MISSING: _("Ask for a code first."),
    Outcome.NO_ACCESS: _("This email address has no access to this page."),
}


def _actions(page) -> dict:
    # A document's endpoints carry its filename, as Wagtail's serve URL does: knowing the
    # endpoint proves knowing the document's URL (docs/security.md#unlock-endpoints).
    if targets.is_document(page):
        prefix, args = "document_", [page.pk, page.filename]
    else:
        prefix, args = "", [page.pk]

    def url(name):
        return reverse(f"wagtail_member_access:{prefix}{name}", args=args)

    return {
        "request": url("request_code"),
        "verify": url("verify_code"),
        "change": url("change_email"),
    }


def _page_url(request, page) -> str:
    return targets.url(page, request)


def render_unlock(
    request, page, decision, *, email_form=None, code_form=None, error=None, next_url=None
):
    mode = Mode(access.email_mode(decision.rules) or Mode.CODE)
    user = request.user
    context = steps_context(
        request,
        page,
        sends_code=mode.sends_code,
        sends_link=mode.sends_link,
        actions=_actions(page),
        next_url=next_url or request.get_full_path(),
        email_form=email_form,
        code_form=code_form,
        error=error,
    )
    context |= {
        "mode": mode,
        "signed_in_as": getattr(user, user.get_email_field_name(), "")
        if user.is_authenticated
        else "",
    }
    return member_page(request, "wagtail_member_access/unlock.html", context, page=page)


def login_url() -> str:
    """Where signed-out visitors of members-only pages sign in: our ``LOGIN_URL`` setting,
    else Wagtail's ``WAGTAIL_FRONTEND_LOGIN_URL``, else our member sign-in page."""
    return (
        app_settings.LOGIN_URL
        or app_settings.WAGTAIL_FRONTEND_LOGIN_URL
        or reverse("wagtail_member_access:sign_in")
    )


def denied_response(request, page, decision):
    """What a visitor who may not see ``page`` gets instead: the unlock form (email modes),
    the sign-in page and back (members-only, signed out), or a 403 page that says what the
    member's access does include (members-only, signed in without the right grant): never
    a sign-in loop."""
    rule = decision.failed
    if rule.by_email:
        return render_unlock(request, page, decision)
    if not request.user.is_authenticated:
        return private(redirect_to_login(request.get_full_path(), login_url()))
    context = {
        "entries": my_access.member_access(request.user, request),
        "signed_in_as": getattr(request.user, request.user.get_email_field_name(), "")
        or request.user.get_username(),
        "switch_url": f"{login_url()}?{urlencode({'next': request.get_full_path()})}",
    }
    return member_page(
        request, "wagtail_member_access/no_access.html", context, status=403, page=page
    )


def gate(callback):
    """The ``on_serve_page`` wrapper, outside Wagtail's own privacy check: decide, then serve
    (through Wagtail's check: both must pass) or refuse.

    Whether the page is member-protected comes from Wagtail's privacy rows, which Wagtail's
    check reads anyway: they are read once, here, and handed to it, so a public page costs no
    query of ours (docs/performance.md). Then :func:`access.decide` decides.

    When the session store or a cache the page needs cannot be reached, the answer is the
    503 page with ``Retry-After``, for any page (``store_guarded``, docs/security.md#cache-down).
    """

    @functools.wraps(callback)
    def inner(page, request, serve_args, serve_kwargs):
        return store_guarded(request, serve, page, request, serve_args, serve_kwargs)

    def serve(page, request, serve_args, serve_kwargs):
        rows = page.get_view_restrictions()
        mirrored = {row.page_id for row in rows if row.restriction_type == mirror.MEMBER_ACCESS}
        # The queryset, now evaluated: Wagtail's check iterates its cache, no second query.
        page.get_view_restrictions = lambda: rows
        try:
            if not mirrored:
                return callback(page, request, serve_args, serve_kwargs)
            decision = access.decide(request, page, restricted=True)
            if decision.restricted and set_password.pending_step(request) == "password":
                # Signed in with an initial password: choose your own before any member page.
                change = reverse("wagtail_member_access:change_password")
                return redirect(f"{change}?{urlencode({'next': request.get_full_path()})}")
            if not decision.allowed:
                return denied_response(request, page, decision)
            # Our rows pass inside Wagtail's check without another decision.
            request._wma_passed_pages = mirrored
            response = private(callback(page, request, serve_args, serve_kwargs))
            return with_banner(request, page, response) if decision.by_editor else response
        finally:
            page.__dict__.pop("get_view_restrictions", None)

    return inner


def document_gate(document, request):
    """The ``before_serve_document`` hook: None for a document nobody restricts with member
    access, or for a visitor who passes (Wagtail's own view then serves the file, made
    private by ``compat_documents``); else the unlock page, the sign-in or the 403 page in
    place (docs/security.md#documents); the 503 page when the session store or the cache is
    down (docs/security.md#cache-down)."""
    return store_guarded(request, _document_gate, document, request)


def _document_gate(document, request):
    decision = access.decide_document(request, document)
    if not decision.restricted:
        return None
    if set_password.pending_step(request) == "password":
        change = reverse("wagtail_member_access:change_password")
        return redirect(f"{change}?{urlencode({'next': request.get_full_path()})}")
    if not decision.allowed:
        return denied_response(request, document, decision)
    compat_documents.mark_passed(request, decision)
    return None


def _protected(page_id=None, document_id=None, document_filename=None):
    """The live page or the document behind an unlock URL, if member access by email
    protects it; 404 otherwise (public, Wagtail-private or members-only, not live, missing,
    a document's filename that is not its own), after the same one query: the endpoints
    never turn an id into a URL, or into anything else (docs/security.md#unlock-endpoints)."""
    target = targets.unlockable(page_id, document_id, document_filename)
    if target is None:
        raise Http404
    return target


def _back_to_page(request, page_id=None, document_id=None, document_filename=None) -> str:
    return _page_url(request, _protected(page_id, document_id, document_filename))


def _decide(request, target):
    if targets.is_document(target):
        return access.decide_document(request, target)
    return access.decide(request, target)


def _unlockable(request, page_id=None, document_id=None, document_filename=None):
    """The page (or document) and the decision for it; raises 404 unless an email
    restriction is what stands between this visitor and it (or nothing does any more)."""
    page = _protected(page_id, document_id, document_filename)
    decision = _decide(request, page)
    if not decision.allowed and not decision.failed.by_email:
        raise Http404
    return page, decision


@post_only(_back_to_page)
def request_code(request, page_id=None, document_id=None, document_filename=None):
    """Email submitted: the same redirect for every well-formed address (no enumeration)."""
    page, decision = _unlockable(request, page_id, document_id, document_filename)
    next_url = safe_next(request, request.POST.get("next"), _page_url(request, page))
    if decision.allowed:  # already unlocked (in another tab, say)
        return redirect(next_url)
    form = EmailForm(request.POST)
    if not form.is_valid():
        return render_unlock(request, page, decision, email_form=form, next_url=next_url)
    email = form.cleaned_data["email"]
    if ratelimits.send_limited(request, email):
        return ratelimited_response(request)
    challenge = email_proof.request_email(request, email, page, next_url=next_url)
    response = redirect(next_url)
    if challenge is not None:
        tasks.enqueue_after_response(response, tasks.deliver_challenge, challenge.pk)
    return response


@post_only(_back_to_page)
def verify_code(request, page_id=None, document_id=None, document_filename=None):
    page, decision = _unlockable(request, page_id, document_id, document_filename)
    next_url = safe_next(request, request.POST.get("next"), _page_url(request, page))
    if decision.allowed:
        return redirect(next_url)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return render_unlock(request, page, decision, code_form=form, next_url=next_url)
    if ratelimits.verify_limited(request):
        return ratelimited_response(request)
    result = email_proof.verify_code(request, page, form.cleaned_data["code"])
    if result.ok:
        return redirect(next_url)
    if result.outcome is Outcome.MISSING:
        email_proof.clear_challenge(request)
    error = code_message(MESSAGES, result)
    return render_unlock(request, page, decision, error=error, next_url=next_url)


@post_only(_back_to_page)
def change_email(request, page_id=None, document_id=None, document_filename=None):
    """ "Use a different email": forget this browser's request for the page."""
    page, _ = _unlockable(request, page_id, document_id, document_filename)
    email_proof.clear_challenge(request)
    return redirect(safe_next(request, request.POST.get("next"), _page_url(request, page)))
