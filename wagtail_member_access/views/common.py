"""What every visitor view shares: private responses, safe return URLs, the 429 page, and
the email → code/link steps rendered for a page unlock and the member sign-in alike."""

from __future__ import annotations

import logging
import math
from functools import wraps

from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import durations, ratelimits, sends
from ..conf import app_settings
from ..flows import email_proof, pending
from ..forms import CodeForm, EmailForm
from ..ratelimits import CacheUnavailable
from ..responses import private
from ..tokens import Outcome

logger = logging.getLogger("wagtail_member_access")

__all__ = [
    "code_message",
    "member_page",
    "noindex",
    "post_only",
    "private",
    "quiet",
    "cache_down_response",
    "guard_cache",
    "store_down_response",
    "store_guarded",
    "ratelimited_response",
    "redirect",
    "safe_next",
    "steps_context",
    "token_methods",
]


def noindex(response):
    """Keep search engines out (``X-Robots-Tag``), whatever base template the site uses: its
    own may have no ``robots`` meta tag (docs/security.md#caching)."""
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def member_page(request, template: str, context: dict, *, status: int = 200, page=None):
    """A visitor or member page: the base template, ``page`` and ``self`` (as Wagtail's own
    password form passes them, for a site's breadcrumbs and menus), private and noindex."""
    context = {"base_template": app_settings.BASE_TEMPLATE} | context
    if page is not None:
        context |= {"page": page, "self": page}
    return noindex(private(TemplateResponse(request, template, context, status=status)))


def quiet(response):
    """Token URLs: keep Django's request logger from writing the path (with the token) for a
    4xx response, and send no Referer to anything the page links to or loads."""
    response._has_been_logged = True
    response["Referrer-Policy"] = "no-referrer"
    return noindex(private(response))


def code_message(messages: dict, result) -> str:
    """What to tell a visitor whose code was refused: ``messages[outcome]``, except that a
    wrong code or the wait after one says how long to wait (docs/security.md#code-attempts)."""
    wait = durations.seconds_left(result.retry_at) if result.retry_at else 0
    if result.outcome is Outcome.WRONG and wait:
        return ngettext(
            "That code was not right. You can try again in %(seconds)s second.",
            "That code was not right. You can try again in %(seconds)s seconds.",
            wait,
        ) % {"seconds": wait}
    if result.outcome is Outcome.THROTTLED:
        return ngettext(
            "The last code was not right. You can try again in %(seconds)s second.",
            "The last code was not right. You can try again in %(seconds)s seconds.",
            max(wait, 1),
        ) % {"seconds": max(wait, 1)}
    return messages[result.outcome]


def token_methods(*methods: str):
    """Django's ``require_http_methods`` for token URLs: it logs "Method Not Allowed (PUT):
    <path>", and the path holds the token. This answers the same 405 without the log line."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                return quiet(HttpResponseNotAllowed(methods))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def post_only(back):
    """For a form's POST target: a GET or HEAD (a reload of the address a refused form left
    in the address bar, a bookmark) is sent back to the form's page, ``back(request, *args,
    **kwargs)``, instead of an empty 405; other methods get the 405."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method in ("GET", "HEAD"):
                return private(HttpResponseRedirect(back(request, *args, **kwargs)))
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def is_safe_next(request, value: str | None) -> bool:
    """Only paths inside this site (docs/security.md#return-urls): no scheme, no host, no
    ``//`` or ``/\\``."""
    return bool(
        value
        and value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    )


def safe_next(request, value: str | None, default: str) -> str:
    return value if is_safe_next(request, value) else default


def redirect(url):
    response = HttpResponseRedirect(url)
    response.status_code = 303  # see other: the browser GETs the target
    return private(response)


def ratelimited_response(request, back_url: str | None = None):
    """The 429 page, with ``Retry-After`` (the seconds until the limit lets the visitor
    through again) and a "Back" link to ``back_url`` (else the form's ``next``, else this
    address: a POST target sends a GET back to its form)."""
    seconds = ratelimits.retry_after(request)
    back = back_url or safe_next(
        request, request.POST.get("next") or request.GET.get("next"), request.path
    )
    context = {"back_url": back, "seconds": seconds, "minutes": math.ceil(seconds / 60)}
    response = member_page(request, "wagtail_member_access/ratelimited.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


#: Seconds a visitor is asked to wait when the shared cache is unreachable.
CACHE_DOWN_RETRY_AFTER = 30


def cache_down_response(request):
    """503 with ``Retry-After``: the shared cache (rate limits, cooldowns) or the session
    store is unreachable, so nothing that it guards may happen now
    (docs/security.md#cache-down). Rendered at once, in the site's base template, or in the
    package's own when the site's fails too (it may read the same cache: menus, page URLs)."""
    for base in dict.fromkeys((app_settings.BASE_TEMPLATE, "wagtail_member_access/base.html")):
        response = TemplateResponse(
            request, "wagtail_member_access/unavailable.html", {"base_template": base}, status=503
        )
        try:
            response.render()
            break
        except Exception as exc:
            if base == "wagtail_member_access/base.html" or not ratelimits.store_unreachable(exc):
                raise
    response["Retry-After"] = str(CACHE_DOWN_RETRY_AFTER)
    return private(response)


def store_down_response(request, exc: BaseException):
    """Log that the cache or session store failed with ``exc`` and answer
    :func:`cache_down_response`."""
    if not isinstance(exc, CacheUnavailable):
        exc = f"{type(exc).__name__}: {exc}"
    logger.error("The cache or session store is unreachable (%s): answered 503.", exc)
    return cache_down_response(request)


def store_guarded(request, call, *args, check_session: bool = True, **kwargs):
    """``call(*args, **kwargs)``, or the 503 page when this request's session store
    (``ratelimits.check_session_store``, first, unless ``check_session`` is False: the call
    then checks it where it needs the session) or any cache it reads cannot be reached
    (``ratelimits.store_unreachable``); any other error propagates."""
    try:
        if check_session:
            ratelimits.check_session_store(request)
        return call(*args, **kwargs)
    except Exception as exc:
        if not ratelimits.store_unreachable(exc):
            raise
        return store_down_response(request, exc)


def guard_cache(view):
    """Answer the 503 page (:func:`store_guarded`) when ``view`` cannot reach the shared
    cache or the session store."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return store_guarded(request, view, request, *args, **kwargs)

    return wrapped


def steps_context(
    request,
    page,
    *,
    sends_code,
    sends_link,
    actions,
    next_url,
    email_form=None,
    code_form=None,
    error=None,
) -> dict:
    """Context for ``_email_steps.html``: the email step, or (after a request from this
    browser) the "check your inbox" step with code entry, resend and change-email."""
    state = email_proof.pending_challenge(request, page)
    return {
        "base_template": app_settings.BASE_TEMPLATE,
        "step": "code" if state else "email",
        "sends_code": sends_code,
        "sends_link": sends_link,
        "actions": actions,
        "pending_email": state["email"] if state else "",
        "resend_wait": pending.resend_wait(state),
        "mail_down": sends.mail_down(),
        "code_minutes": durations.minutes(app_settings.CODE_VALIDITY),
        "link_minutes": durations.minutes(app_settings.LINK_VALIDITY),
        "code_length": app_settings.CODE_LENGTH,
        "email_form": email_form or EmailForm(initial={"next": next_url}),
        "code_form": code_form or CodeForm(initial={"next": next_url}),
        "next_url": next_url,
        "error": error,
        "resend_label": _("Send a new code") if sends_code else _("Send a new link"),
    }
