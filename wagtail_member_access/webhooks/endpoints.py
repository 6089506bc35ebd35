"""Receiving a webhook call: the checks in the order that reveals least (enabled, POST, rate
limit, media type, size, signature, then the body), and every refusal logged with its reason
and a masked email only (docs/security.md#webhook-signature)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from .. import ratelimits
from ..conf import PREFIX, app_settings
from ..members import mask_email
from .granting import apply
from .purchase import Purchase, load_json, parse_purchase
from .results import CONTROL, Refusal, Result, show
from .signatures import (
    SIGNATURE_HEADER,
    STRIPE_SIGNATURE_HEADER,
    check_timestamp,
    parse_signature,
    verify_signature,
)
from .stripe import stripe_purchase

__all__ = ["ENDPOINTS", "receive"]

logger = logging.getLogger("wagtail_member_access")


@dataclass(frozen=True)
class _Endpoint:
    name: str
    header: str
    setting: str
    configured: Callable[[], bool]
    secrets_for: Callable[[dict], tuple[str, ...]]
    to_purchase: Callable[[dict], Purchase | Result]


def _purchase_secrets(data: dict) -> tuple[str, ...]:
    slug = data.get("list")
    # The slug is read exactly as parse_purchase() reads it (stripped): a list's own secret
    # must not be sidestepped by " course-a" signed with the global secret.
    if isinstance(slug, str):
        slug = slug.strip()
    own = app_settings.WEBHOOK_LIST_SECRETS.get(slug) if isinstance(slug, str) else None
    secrets = own or app_settings.WEBHOOK_SECRET
    if not secrets:
        raise Refusal(
            404,
            "webhook_disabled",
            f"The purchase webhook is not enabled for the list {show(slug)}: set "
            f"{PREFIX}WEBHOOK_SECRET or {PREFIX}WEBHOOK_LIST_SECRETS.",
        )
    return secrets


ENDPOINTS = {
    "purchase": _Endpoint(
        name="purchase",
        header=SIGNATURE_HEADER,
        setting="WEBHOOK_SECRET",
        configured=lambda: bool(app_settings.WEBHOOK_SECRET or app_settings.WEBHOOK_LIST_SECRETS),
        secrets_for=_purchase_secrets,
        to_purchase=parse_purchase,
    ),
    "stripe": _Endpoint(
        name="stripe",
        header=STRIPE_SIGNATURE_HEADER,
        setting="STRIPE_WEBHOOK_SECRET",
        configured=lambda: bool(app_settings.STRIPE_WEBHOOK_SECRET),
        secrets_for=lambda data: app_settings.STRIPE_WEBHOOK_SECRET,
        to_purchase=stripe_purchase,
    ),
}


def _read_body(request: HttpRequest) -> bytes:
    limit = app_settings.WEBHOOK_MAX_BODY_SIZE
    too_large = Refusal(413, "body_too_large", f"The body is larger than {limit} bytes.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise too_large  # refused before a byte is read
    body = request.body
    if len(body) > limit:
        raise too_large
    return body


def _process(request: HttpRequest, endpoint: _Endpoint, context: dict) -> Result:
    if not endpoint.configured():
        raise Refusal(
            404,
            "webhook_disabled",
            f"The {endpoint.name} webhook is off: set {PREFIX}{endpoint.setting} to enable it.",
            counted=False,
        )
    if request.method != "POST":
        raise Refusal(405, "method_not_allowed", "Send the webhook with POST.", counted=False)
    if ratelimits.webhook_limited(request):
        raise Refusal(
            429,
            "rate_limited",
            "Too many refused webhook calls from this address; try again later.",
            counted=False,
        )
    if request.content_type != "application/json":
        raise Refusal(
            415,
            "unsupported_media_type",
            f"Send the body as application/json, not {show(request.content_type or '')}.",
        )
    body = _read_body(request)
    timestamp, signatures = parse_signature(request.headers.get(endpoint.header), endpoint.header)
    check_timestamp(timestamp)
    data = load_json(body)
    if isinstance(data.get("email"), str):
        context["email"] = data["email"]
    verify_signature(body, timestamp, signatures, endpoint.secrets_for(data))

    purchase = endpoint.to_purchase(data)
    if isinstance(purchase, Result):
        logger.info("Webhook %s: ignored (%s)", endpoint.name, purchase.data["detail"])
        return purchase
    context["email"] = purchase.email
    result = apply(purchase)
    logger.info(
        "Webhook %s: %s for reference %s on list %s%s.",
        endpoint.name,
        result.data["status"],
        show(purchase.reference),
        show(purchase.list_slug),
        "".join(f", {k} {show(v)}" for k, v in purchase.extra_log.items()),
    )
    return result


def receive(request: HttpRequest, endpoint: str) -> Result:
    """Handle one webhook call to ``endpoint`` (``"purchase"`` or ``"stripe"``) and say what
    to answer. Every refusal is logged with its reason, the client IP and a masked email."""
    context: dict = {}
    try:
        return _process(request, ENDPOINTS[endpoint], context)
    except Refusal as refusal:
        logger.warning(
            "Webhook %s refused from %s: %s (%s)%s",
            endpoint,
            request.META.get("REMOTE_ADDR", "?"),
            refusal.code,
            refusal.detail,
            _masked(context.get("email")),
        )
        return Result(
            refusal.status,
            {"error": refusal.code, "detail": refusal.detail},
            counted=refusal.counted,
        )


def _masked(email) -> str:
    """`` for a**@example.com``, or nothing: only ever a masked address reaches the log, and
    nothing with line breaks (a forged body must not write fake log lines)."""
    if not isinstance(email, str) or not email:
        return ""
    if CONTROL.search(email) or len(email) > 254:
        return " for ***"
    return f" for {mask_email(email.strip().lower())}"
