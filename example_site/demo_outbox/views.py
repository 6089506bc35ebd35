"""DEMO ONLY. The outbox page: the emails the site sent, newest first, so a visitor of the
demo can read their unlock code without a mail server. Both views answer 404 unless DEBUG is
on: sent emails contain codes and links that unlock pages."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from . import store


def _demo_only():
    if not settings.DEBUG:
        raise Http404("The demo outbox is only available with DEBUG on.")


def index(request):
    _demo_only()
    response = render(
        request,
        "demo_outbox/outbox.html",
        {"messages_sent": store.recent(), "keep": store.keep()},
    )
    add_never_cache_headers(response)
    return response


def html_part(request, message_id):
    _demo_only()
    record = store.get(message_id)
    if record is None or not record.get("html"):
        raise Http404("No such message, or it has no HTML part.")
    response = HttpResponse(record["html"], content_type="text/html; charset=utf-8")
    # Shown as the recipient's mail client would: no scripts, no same-origin access.
    response["Content-Security-Policy"] = "sandbox"
    add_never_cache_headers(response)
    return response
