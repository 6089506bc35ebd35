"""The signed purchase webhook: a shop or payment provider grants access after a purchase, and
takes it back after a refund or cancellation, by POSTing a small signed JSON event.

The signature scheme is Stripe's (``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``),
which many shops and relays can already produce, so that:

- a captured request is refused once its timestamp is more than ``WEBHOOK_TOLERANCE`` away
  from now, and within that window replaying it changes nothing, because every event carries
  an order reference and ``grants.grant`` grants one reference once;
- the secret is chosen from the list slug named in the body (its own secret, else the global
  one) *before* the database is read, so an unsigned caller learns nothing about which lists
  exist;
- every refusal is a 4xx JSON ``{"error": <code>, "detail": <message>}`` for the developer
  reading the shop's webhook log, and is logged with its reason and a masked email; neither
  the secret nor the signature is ever logged.

Access is granted and revoked through :mod:`grants` only (the one grant path). The Stripe
adapter maps Checkout's ``checkout.session.completed`` onto the same purchase event. See
docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import grants, ratelimits
from .conf import PREFIX, app_settings
from .members import mask_email, normalize_email
from .models import AccessList, Grant

__all__ = [
    "SIGNATURE_HEADER",
    "STRIPE_SIGNATURE_HEADER",
    "Purchase",
    "Refusal",
    "Result",
    "apply",
    "parse_purchase",
    "parse_signature",
    "receive",
    "sign",
    "stripe_purchase",
    "verify_signature",
]

logger = logging.getLogger("wagtail_member_access")

SIGNATURE_HEADER = "X-Member-Access-Signature"
STRIPE_SIGNATURE_HEADER = "Stripe-Signature"

#: Longest accepted signature header: a timestamp and a handful of signatures (rotation).
MAX_HEADER_LENGTH = 1024
#: Longest access period a webhook may give in days (a century; "unlimited" is ``null``).
MAX_DURATION_DAYS = 36_500
#: Checkout events that mean "paid": the second one arrives for delayed payment methods
#: (SEPA debit, Sofort …) whose ``checkout.session.completed`` came with ``"unpaid"``.
STRIPE_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
STRIPE_PAID = ("paid", "no_payment_required")

_TIMESTAMP = re.compile(r"\d{1,12}")
_HEX_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Refusal(Exception):
    """A refused webhook call: nothing was granted or revoked.

    ``counted``: refusals of unsigned or wrongly signed calls count towards
    ``RATE_WEBHOOK_PER_IP``; those after the signature was verified (an unknown list, a bad
    email: the secret's holder made a mistake) do not, so one misconfigured product cannot lock
    a shop out, and neither do a disabled endpoint, a GET or a call already rate limited.
    """

    def __init__(self, status: int, code: str, detail: str, *, counted: bool = True):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.counted = counted


@dataclass(frozen=True)
class Result:
    """What the view sends: an HTTP status and a JSON object."""

    status: int
    data: dict
    #: A refusal that counts towards the per-IP limit (see :class:`Refusal`).
    counted: bool = False


@dataclass(frozen=True)
class Purchase:
    """A validated webhook event, ready for :func:`apply`."""

    event: str  # "grant" or "revoke"
    list_slug: str
    reference: str
    email: str | None = None
    name: str | None = None
    #: ``grants.DEFAULT`` when the event gives no period: the list's default access period
    #: (``default_days``), else unlimited. ``None`` (``"expires_at": null``): unlimited. A
    #: purchase never shortens a running grant of the buyer (``grants.grant(extend_only=True)``).
    expires_at: datetime | None | object = grants.DEFAULT
    duration: timedelta | None = None
    notify: bool = False
    extra_log: dict = field(default_factory=dict)


# --- signatures --------------------------------------------------------------------------------


def _hmac(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body``: ``t=<timestamp>,v1=<hex HMAC-SHA256>`` of
    ``"<timestamp>.<body>"`` with ``secret``, timestamped now unless given. What a shop
    written in Python sends (and what the tests use)."""
    if timestamp is None:
        timestamp = int(timezone.now().timestamp())
    return f"t={timestamp},v1={_hmac(secret, timestamp, body)}"


def parse_signature(value: str | None, header: str = SIGNATURE_HEADER) -> tuple[int, list[str]]:
    """Split a ``t=…,v1=…[,v1=…]`` header into its timestamp and its ``v1`` signatures.

    Other schemes (Stripe's ``v0``) are ignored. Raises :class:`Refusal` (400) when the header
    is missing or is not of that form.
    """
    if not value:
        raise Refusal(400, "missing_signature", f"The {header} header is missing.")
    if len(value) > MAX_HEADER_LENGTH:
        raise Refusal(400, "malformed_signature", f"The {header} header is too long.")
    timestamp, signatures = None, []
    for item in value.split(","):
        key, sep, item_value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and _TIMESTAMP.fullmatch(item_value):
            timestamp = int(item_value)
        elif key == "v1" and _HEX_SIGNATURE.fullmatch(item_value):
            signatures.append(item_value.lower())
    if timestamp is None or not signatures:
        raise Refusal(
            400,
            "malformed_signature",
            f"The {header} header must be t=<unix timestamp>,v1=<64 hex digits of the "
            'HMAC-SHA256 of "<timestamp>.<body>">.',
        )
    return timestamp, signatures


def check_timestamp(timestamp: int) -> None:
    """Refuse (401) a timestamp more than ``WEBHOOK_TOLERANCE`` from now, either way: an old
    one is a replay (or a very late retry that the sender must sign afresh), a future one a
    wrong clock or a request prepared in advance."""
    tolerance = int(app_settings.WEBHOOK_TOLERANCE.total_seconds())
    offset = int(timezone.now().timestamp()) - timestamp
    if abs(offset) > tolerance:
        when = f"{offset} seconds old" if offset > 0 else f"{-offset} seconds in the future"
        raise Refusal(
            401,
            "timestamp_outside_tolerance",
            f"The signature's timestamp is {when}; at most {tolerance} seconds either way are "
            "accepted. Sign each delivery when you send it, with a correct clock.",
        )


def verify_signature(body: bytes, timestamp: int, signatures: list[str], secrets) -> None:
    """Refuse (401) unless one of ``signatures`` is the HMAC of ``timestamp`` and ``body``
    under one of ``secrets``; compared in constant time."""
    expected = [_hmac(secret, timestamp, body) for secret in secrets]
    if not any(constant_time_compare(e, s) for e in expected for s in signatures):
        raise Refusal(
            401,
            "invalid_signature",
            'The signature does not match: sign "<timestamp>.<raw body>" with HMAC-SHA256 '
            "and the secret configured for this list, exactly the bytes you send.",
        )


# --- the event ---------------------------------------------------------------------------------


def _show(value, limit: int = 60) -> str:
    """A value for a message: quoted by ``repr`` (no line breaks reach the log) and short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _invalid(code: str, detail: str, status: int = 422) -> Refusal:
    return Refusal(status, code, detail, counted=False)


def load_json(body: bytes) -> dict:
    """The body as a JSON object; raises :class:`Refusal` (400) for anything else."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise Refusal(400, "invalid_json", "The body is not UTF-8 encoded JSON.") from None
    except json.JSONDecodeError as error:
        raise Refusal(400, "invalid_json", f"The body is not valid JSON: {error}.") from None
    except (ValueError, RecursionError):  # NaN/Infinity, or nested thousands of levels deep
        raise Refusal(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Refusal(
            400, "payload_not_object", f"The body must be a JSON object, not {_json_type(data)}."
        )
    return data


def _no_constant(name):
    raise ValueError(name)


def _json_type(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _text(data: dict, key: str, *, required: bool, max_length: int = 255) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise _invalid(f"missing_{key}", f"'{key}' is required.")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and key == "reference":
        value = str(value)  # numeric order ids are common
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"invalid_{key}", f"'{key}' must be a non-empty string.")
    value = value.strip()
    if len(value) > max_length or _CONTROL.search(value):
        raise _invalid(
            f"invalid_{key}",
            f"'{key}' must be at most {max_length} characters, without control characters.",
        )
    return value


def _expires_at(value) -> datetime | None:
    if value is None:
        return None  # unlimited
    if not isinstance(value, str):
        raise _invalid(
            "invalid_expires_at", "'expires_at' must be an ISO 8601 date and time, or null."
        )
    try:
        date.fromisoformat(value)
    except ValueError:
        pass
    else:
        raise _invalid(
            "invalid_expires_at",
            f"'expires_at' {_show(value)} is a date without a time, which is ambiguous: give a "
            "date and time such as 2026-01-31T23:59:59+01:00.",
        )
    try:
        expires_at = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(
            "invalid_expires_at",
            f"'expires_at' {_show(value)} is not an ISO 8601 date and time such as "
            "2026-01-31T23:59:59+01:00.",
        ) from None
    if timezone.is_naive(expires_at):
        # A time without an offset is read in the site's TIME_ZONE (documented).
        expires_at = timezone.make_aware(expires_at)
    now = timezone.now()
    if expires_at <= now:
        raise _invalid(
            "expires_in_past",
            f"'expires_at' {_show(value)} is in the past: the access would already be over.",
        )
    if expires_at > now + timedelta(days=MAX_DURATION_DAYS):
        # Also keeps year-9999 dates from overflowing when stored in UTC.
        raise _invalid(
            "invalid_expires_at",
            f"'expires_at' {_show(value)} is more than {MAX_DURATION_DAYS} days ahead; for "
            'unlimited access send "expires_at": null.',
        )
    return expires_at


def _duration(value) -> timedelta:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DURATION_DAYS:
        raise _invalid(
            "invalid_duration_days",
            f"'duration_days' must be a whole number of days from 1 to {MAX_DURATION_DAYS}; "
            'for unlimited access send "expires_at": null.',
        )
    return timedelta(days=value)


def parse_purchase(data: dict) -> Purchase:
    """Validate a purchase event (the body documented in docs/webhooks.md).

    Raises :class:`Refusal` (422) naming the first bad field. Fields not described are ignored,
    so a shop may send more than we read.
    """
    event = data.get("event", "grant")
    if event not in ("grant", "revoke"):
        raise _invalid("invalid_event", '\'event\' must be "grant" or "revoke".')
    list_slug = _text(data, "list", required=True)
    reference = _text(data, "reference", required=True)
    email = data.get("email")
    if event == "grant" or email not in (None, ""):
        if email in (None, ""):
            raise _invalid("missing_email", "'email' is required.")
        try:
            email = normalize_email(email)
        except ValidationError:
            raise _invalid("invalid_email", "'email' is not a valid email address.") from None
    else:
        email = None
    if event == "revoke":
        return Purchase(event=event, list_slug=list_slug, reference=reference, email=email)

    name = _text(data, "name", required=False)
    if data.get("expires_at") is not None and data.get("duration_days") is not None:
        raise _invalid(
            "expires_at_and_duration", "Give either 'expires_at' or 'duration_days', not both."
        )
    # No period at all: the list's default; an explicit null: unlimited.
    expires_at = _expires_at(data["expires_at"]) if "expires_at" in data else grants.DEFAULT
    duration = _duration(data["duration_days"]) if data.get("duration_days") is not None else None
    notify = data.get("notify", False)
    if not isinstance(notify, bool):
        raise _invalid("invalid_notify", "'notify' must be true or false.")
    return Purchase(
        event=event,
        list_slug=list_slug,
        reference=reference,
        email=email,
        name=name,
        expires_at=expires_at,
        duration=duration,
        notify=notify,
    )


def _grant_data(obj: Grant, access_list: AccessList) -> dict:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "email": obj.email,
        "list": access_list.slug,
        "reference": obj.reference,
        "starts_at": iso(obj.starts_at),
        "expires_at": iso(obj.expires_at),
        "revoked_at": iso(obj.revoked_at),
        "active": obj.is_active(),
    }


def _conflict(reference: str) -> Refusal:
    return _invalid(
        "reference_conflict",
        f"The reference {_show(reference)} belongs to a grant for another email on this list.",
        status=409,
    )


def apply(purchase: Purchase) -> Result:
    """Grant or revoke what ``purchase`` says, through :mod:`grants`.

    A reference already granted returns ``already_granted`` and changes nothing (also after a
    refund, and after a later order updated the grant: a replayed purchase neither restores
    revoked access nor changes the period). Raises :class:`Refusal` for an unknown list (404),
    a reference used for another email (409), no grant with the reference to revoke (404) and
    anything ``grants.grant`` refuses (422). A revoke takes back that order's period only
    (:func:`grants.refund`).
    """
    # One webhook call per list at a time (PostgreSQL locks the list's row; SQLite has one
    # writer anyway): two deliveries of one order at the same instant must not both pass the
    # "reference already granted?" check, or both would log a grant and send the email.
    with transaction.atomic():
        return _apply(purchase)


def _apply(purchase: Purchase) -> Result:
    access_list = AccessList.objects.select_for_update().filter(slug=purchase.list_slug).first()
    if access_list is None:
        raise _invalid(
            "unknown_list", f"There is no access list {_show(purchase.list_slug)}.", status=404
        )
    existing = grants.by_reference(access_list, purchase.reference)

    if purchase.event == "revoke":
        if existing is None:
            raise _invalid(
                "unknown_reference",
                f"No grant on this list has the reference {_show(purchase.reference)}: nothing "
                "to revoke. (If the purchase is still on its way, retry later.)",
                status=404,
            )
        if purchase.email and existing.email != purchase.email:
            raise _conflict(purchase.reference)
        status, obj = grants.refund(access_list, purchase.reference)
        return Result(200, {"status": status, "grant": _grant_data(obj, access_list)})

    if existing is not None:
        if existing.email != purchase.email:
            raise _conflict(purchase.reference)
        return Result(
            200, {"status": "already_granted", "grant": _grant_data(existing, access_list)}
        )
    if purchase.duration is not None:
        kwargs = {"duration": purchase.duration}
    else:
        kwargs = {"expires_at": purchase.expires_at}
    try:
        obj, created = grants.grant(
            purchase.email,
            access_list,
            name=purchase.name,
            source=Grant.Source.PURCHASE,
            reference=purchase.reference,
            notify=purchase.notify,
            extend_only=True,
            **kwargs,
        )
    except ValidationError as error:
        raise _invalid(error.code or "invalid", " ".join(error.messages)) from None
    except IntegrityError:  # the same reference granted to another email at this instant
        raise _conflict(purchase.reference) from None
    if obj.reference != purchase.reference or obj.email != purchase.email:
        raise _conflict(purchase.reference)  # a concurrent call won with another email
    return Result(
        200,
        {"status": "granted", "created": created, "grant": _grant_data(obj, access_list)},
    )


# --- Stripe Checkout ---------------------------------------------------------------------------


def stripe_purchase(event: dict) -> Purchase | Result:
    """Map a Stripe ``checkout.session.completed`` (or ``…async_payment_succeeded``) event to
    a purchase: ``customer_details.email``/``name``, ``metadata.list`` (and optional
    ``metadata.duration_days``, ``metadata.expires_at``, ``metadata.notify``), the session id
    as the reference.

    Returns a 200 ``ignored`` :class:`Result` for what is not an access purchase (another event
    type, a session without ``metadata.list``, a payment not received yet), because Stripe
    retries every non-2xx delivery for days. Raises :class:`Refusal` for a malformed event.
    """
    event_type = event.get("type")
    if event_type not in STRIPE_EVENTS:
        return _ignored(f"Event type {_show(event_type)} is not handled.")
    data = event.get("data")
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict) or not isinstance(session.get("id"), str):
        raise _invalid("invalid_event", "data.object must be a Checkout Session with an id.")
    metadata = session.get("metadata") or {}
    if not isinstance(metadata, dict) or not metadata.get("list"):
        return _ignored("The Checkout Session has no metadata 'list': not an access purchase.")
    payment_status = session.get("payment_status")
    if payment_status not in STRIPE_PAID:
        return _ignored(
            f"payment_status is {_show(payment_status)}: access is granted when the payment "
            "succeeds (checkout.session.async_payment_succeeded)."
        )
    details = session.get("customer_details") or {}
    if not isinstance(details, dict):
        details = {}
    data = {
        "event": "grant",
        "list": metadata.get("list"),
        "reference": session["id"],
        "email": details.get("email") or session.get("customer_email"),
        "name": details.get("name"),
        "notify": str(metadata.get("notify", "")).lower() in ("1", "true", "yes"),
    }
    # Stripe metadata values are strings.
    duration = metadata.get("duration_days")
    if duration not in (None, ""):
        data["duration_days"] = (
            int(duration) if isinstance(duration, str) and duration.isdigit() else duration
        )
    if metadata.get("expires_at"):
        data["expires_at"] = metadata["expires_at"]
    return replace(parse_purchase(data), extra_log={"stripe_event": event.get("id")})


def _ignored(detail: str) -> Result:
    return Result(200, {"status": "ignored", "detail": detail})


# --- receiving a request -----------------------------------------------------------------------


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
            f"The purchase webhook is not enabled for the list {_show(slug)}: set "
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
            f"Send the body as application/json, not {_show(request.content_type or '')}.",
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
        _show(purchase.reference),
        _show(purchase.list_slug),
        "".join(f", {k} {_show(v)}" for k, v in purchase.extra_log.items()),
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
    if _CONTROL.search(email) or len(email) > 254:
        return " for ***"
    return f" for {mask_email(email.strip().lower())}"
