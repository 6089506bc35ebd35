"""One-time codes: made, stored and redeemed here.

* Codes come from django-otp's ``random_number_token`` (``random.SystemRandom``), keep their
  leading zeros, and are stored only as an HMAC keyed with ``SECRET_KEY`` and bound to the
  challenge id (a plain hash of six digits is reversed in milliseconds).
* A code is valid for ``CODE_VALIDITY``, works once, and dies after ``CODE_MAX_ATTEMPTS``
  wrong tries. Failures also count per email across codes (``EmailThrottle``, django-otp's
  exponential back-off).
* Redemption is a conditional ``UPDATE … WHERE redeemed_at IS NULL`` that must touch one row,
  so of two concurrent redemptions exactly one wins, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.util import random_number_token

from .conf import app_settings
from .models import EmailChallenge, EmailThrottle

__all__ = ["Outcome", "Redemption", "hash_code", "issue_code", "redeem_code", "start_challenge"]

_SALT = "wagtail_member_access.tokens.code"


def hash_code(challenge_id: int, code: str) -> str:
    """The stored form of ``code``: HMAC-SHA256 keyed with ``SECRET_KEY``."""
    return salted_hmac(_SALT, f"{challenge_id}:{code}", algorithm="sha256").hexdigest()


def start_challenge(email: str, page, *, language: str = "") -> EmailChallenge:
    """Record a request for a code. No code exists yet: :func:`issue_code` makes it, in the
    background task, and only if the email may view the page."""
    now = timezone.now()
    return EmailChallenge.objects.create(
        purpose=EmailChallenge.Purpose.UNLOCK,
        email=email,
        page=page,
        language=language,
        created_at=now,
        expires_at=now + app_settings.CODE_VALIDITY,
    )


def issue_code(challenge: EmailChallenge) -> str | None:
    """Make the code for ``challenge`` and return it (for the email only), or None if the
    challenge was already issued or cancelled. Earlier open codes for the same email and page
    stop working (SECURITY 4)."""
    code = random_number_token(app_settings.CODE_LENGTH)
    now = timezone.now()
    issued = EmailChallenge.objects.filter(
        pk=challenge.pk, code_hash="", cancelled_at__isnull=True, redeemed_at__isnull=True
    ).update(
        code_hash=hash_code(challenge.pk, code),
        issued_at=now,
        expires_at=now + app_settings.CODE_VALIDITY,
    )
    if not issued:
        return None
    EmailChallenge.objects.filter(
        purpose=challenge.purpose,
        email=challenge.email,
        page_id=challenge.page_id,
        redeemed_at__isnull=True,
        cancelled_at__isnull=True,
    ).exclude(pk=challenge.pk).update(
        cancelled_at=now, cancel_reason=EmailChallenge.CancelReason.REPLACED
    )
    challenge.refresh_from_db()
    return code


def cancel(challenge: EmailChallenge, reason: str) -> None:
    EmailChallenge.objects.filter(pk=challenge.pk, cancelled_at__isnull=True).update(
        cancelled_at=timezone.now(), cancel_reason=reason
    )


class Outcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"  # wrong code (or a challenge that never got one: the same to the visitor)
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"  # too many wrong tries on this code
    USED = "used"  # already redeemed, or replaced by a newer code
    THROTTLED = "throttled"  # too many failures for this email: wait
    MISSING = "missing"  # this browser has no code request for the page
    NO_ACCESS = "no_access"  # right code, but the email lost access or may not sign in so


@dataclass(frozen=True)
class Redemption:
    outcome: Outcome
    challenge: EmailChallenge | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def redeem_code(challenge_id, page, code: str) -> Redemption:
    """Try ``code`` against the challenge the visitor's session holds for ``page``.

    Never raises for bad input: the outcome says why a code was refused. Wrong tries are
    counted on the challenge and on the email, atomically.
    """
    challenge = EmailChallenge.objects.filter(
        pk=challenge_id, purpose=EmailChallenge.Purpose.UNLOCK, page_id=page.pk
    ).first()
    if challenge is None:
        return Redemption(Outcome.MISSING)
    throttle, _ = EmailThrottle.objects.get_or_create(email=challenge.email)
    allowed, info = throttle.verify_is_allowed()
    if not allowed:
        return Redemption(Outcome.THROTTLED, challenge, retry_at=info.get("locked_until"))

    now = timezone.now()
    max_attempts = app_settings.CODE_MAX_ATTEMPTS
    not_eligible = challenge.cancel_reason == EmailChallenge.CancelReason.NOT_ELIGIBLE
    if challenge.redeemed_at or (challenge.cancelled_at and not not_eligible):
        return Redemption(Outcome.USED, challenge)
    if challenge.expires_at is None or challenge.expires_at <= now:
        return Redemption(Outcome.EXPIRED, challenge)
    if challenge.failed_attempts >= max_attempts:
        return Redemption(Outcome.EXHAUSTED, challenge)

    matches = bool(challenge.code_hash) and constant_time_compare(
        challenge.code_hash, hash_code(challenge.pk, code)
    )
    if matches:
        won = EmailChallenge.objects.filter(
            pk=challenge.pk,
            code_hash=challenge.code_hash,
            redeemed_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=now,
            failed_attempts__lt=max_attempts,
        ).update(redeemed_at=now)
        if won == 1:
            throttle.throttle_reset()
            challenge.redeemed_at = now
            return Redemption(Outcome.OK, challenge)
        return Redemption(Outcome.USED, challenge)

    EmailChallenge.objects.filter(pk=challenge.pk, failed_attempts__lt=max_attempts).update(
        failed_attempts=F("failed_attempts") + 1
    )
    throttle.throttle_increment()
    challenge.refresh_from_db(fields=["failed_attempts"])
    if challenge.failed_attempts >= max_attempts:
        return Redemption(Outcome.EXHAUSTED, challenge)
    return Redemption(Outcome.WRONG, challenge)
