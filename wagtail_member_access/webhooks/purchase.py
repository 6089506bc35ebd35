"""The generic purchase event (the JSON body documented in docs/webhooks.md), validated into a
:class:`Purchase`; every bad field is refused with a message that names it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from ..domains import is_domain, normalize_grantee
from ..grants import UNSET, Unset
from .results import CONTROL, Refusal, invalid, show

__all__ = ["MAX_DURATION_DAYS", "Purchase", "load_json", "parse_purchase"]

#: Longest access period a webhook may give in days (a century; "unlimited" is ``null``).
MAX_DURATION_DAYS = 36_500


@dataclass(frozen=True)
class Purchase:
    """A validated webhook event, ready for :func:`apply`."""

    event: str  # "grant" or "revoke"
    list_slug: str
    reference: str
    email: str | None = None
    name: str | None = None
    #: ``UNSET`` when the event gives no period: the list's default access period
    #: (``default_days``, see ``grants.default_expiry``), else unlimited. ``None``
    #: (``"expires_at": null``): unlimited. A purchase never shortens a running grant of the
    #: buyer (``grants.grant(extend_only=True)``).
    expires_at: datetime | None | Unset = UNSET
    duration: timedelta | None = None
    notify: bool = False
    extra_log: dict = field(default_factory=dict)
    #: A domain grant's seats (``email`` ``"@school.example"``): ``UNSET`` when the event
    #: gives none (a new grant: no limit; an existing one keeps its number), None: no limit.
    seats: int | None | Unset = UNSET


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
            raise invalid(f"missing_{key}", f"'{key}' is required.")
        return None
    if isinstance(value, int) and not isinstance(value, bool) and key == "reference":
        value = str(value)  # numeric order ids are common
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"invalid_{key}", f"'{key}' must be a non-empty string.")
    value = value.strip()
    if len(value) > max_length or CONTROL.search(value):
        raise invalid(
            f"invalid_{key}",
            f"'{key}' must be at most {max_length} characters, without control characters.",
        )
    return value


def _expires_at(value) -> datetime | None:
    if value is None:
        return None  # unlimited
    if not isinstance(value, str):
        raise invalid(
            "invalid_expires_at", "'expires_at' must be an ISO 8601 date and time, or null."
        )
    try:
        date.fromisoformat(value)
    except ValueError:
        pass
    else:
        raise invalid(
            "invalid_expires_at",
            f"'expires_at' {show(value)} is a date without a time, which is ambiguous: give a "
            "date and time such as 2026-01-31T23:59:59+01:00.",
        )
    try:
        expires_at = datetime.fromisoformat(value)
    except ValueError:
        raise invalid(
            "invalid_expires_at",
            f"'expires_at' {show(value)} is not an ISO 8601 date and time such as "
            "2026-01-31T23:59:59+01:00.",
        ) from None
    if timezone.is_naive(expires_at):
        # A time without an offset is read in the site's TIME_ZONE (documented).
        expires_at = timezone.make_aware(expires_at)
    now = timezone.now()
    if expires_at <= now:
        raise invalid(
            "expires_in_past",
            f"'expires_at' {show(value)} is in the past: the access would already be over.",
        )
    if expires_at > now + timedelta(days=MAX_DURATION_DAYS):
        # Also keeps year-9999 dates from overflowing when stored in UTC.
        raise invalid(
            "invalid_expires_at",
            f"'expires_at' {show(value)} is more than {MAX_DURATION_DAYS} days ahead; for "
            'unlimited access send "expires_at": null.',
        )
    return expires_at


def _duration(value) -> timedelta:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DURATION_DAYS:
        raise invalid(
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
        raise invalid("invalid_event", '\'event\' must be "grant" or "revoke".')
    list_slug = _text(data, "list", required=True)
    reference = _text(data, "reference", required=True)
    email = data.get("email")
    if event == "grant" or email not in (None, ""):
        if email in (None, ""):
            raise invalid("missing_email", "'email' is required.")
        try:
            email = normalize_grantee(email)
        except ValidationError:
            if is_domain(email):
                raise invalid(
                    "invalid_email",
                    "'email' is not a valid domain: give one such as \"@school.example\".",
                ) from None
            raise invalid("invalid_email", "'email' is not a valid email address.") from None
    else:
        email = None
    purchase = Purchase(event=event, list_slug=list_slug, reference=reference, email=email)
    if event == "revoke":
        return purchase

    name = _text(data, "name", required=False)
    if data.get("expires_at") is not None and data.get("duration_days") is not None:
        raise invalid(
            "expires_at_and_duration", "Give either 'expires_at' or 'duration_days', not both."
        )
    # No period at all: the list's default; an explicit null: unlimited.
    expires_at = _expires_at(data["expires_at"]) if "expires_at" in data else UNSET
    duration = _duration(data["duration_days"]) if data.get("duration_days") is not None else None
    notify = data.get("notify", False)
    if not isinstance(notify, bool):
        raise invalid("invalid_notify", "'notify' must be true or false.")
    seats = _seats(data["seats"], email) if "seats" in data else UNSET
    return replace(
        purchase,
        name=name,
        expires_at=expires_at,
        duration=duration,
        notify=notify,
        seats=seats,
    )


def _seats(value, email: str) -> int | None:
    """The ``seats`` of a domain grant: a whole number of at least 1, or null (no limit)."""
    if not is_domain(email):
        raise invalid(
            "invalid_seats", "'seats' is for a domain such as \"@school.example\", not an address."
        )
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid(
            "invalid_seats", "'seats' must be a whole number, 1 or more (or null for no limit)."
        )
    return value
