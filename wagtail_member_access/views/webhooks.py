"""The purchase webhook endpoints (docs/webhooks.md): a shop's signed ``POST`` and Stripe
Checkout's. Server-to-server calls carry no CSRF token, so these views are CSRF-exempt: the
HMAC signature is what authenticates them (``webhooks.receive``)."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from .. import ratelimits, webhooks

__all__ = [
    "purchase",
    "stripe",
]

__all__ = ["purchase", "stripe"]


def _respond(request, endpoint: str) -> JsonResponse:
    result = webhooks.receive(request, endpoint)
    if result.counted:
        ratelimits.webhook_limited(request, refused=True)
    response = JsonResponse(result.data, status=result.status)
    if result.status == 405:
        response["Allow"] = "POST"
    return response


@csrf_exempt
@never_cache
def purchase(request):
    """Grant or revoke access for a signed purchase event."""
    return _respond(request, "purchase")


@csrf_exempt
@never_cache
def stripe(request):
    """Grant access for a Stripe Checkout ``checkout.session.completed`` event."""
    return _respond(request, "stripe")
