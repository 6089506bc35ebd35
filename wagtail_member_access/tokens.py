"""One-time codes and magic links: made, stored and redeemed here.

* Codes come from django-otp's ``random_number_token`` (``random.SystemRandom``), keep their
  leading zeros, and are stored only as an HMAC keyed with ``SECRET_KEY`` and bound to the
  challenge id (a plain hash of six digits is reversed in milliseconds):
  docs/security.md#code-length, docs/security.md#code-hashed.
* A code is valid for ``CODE_VALIDITY``, works once, and dies after ``CODE_MAX_ATTEMPTS``
  wrong tries. Failures also count per email across codes (``EmailThrottle``, django-otp's
  exponential back-off): docs/security.md#code-validity, docs/security.md#code-attempts.
  Both counters are taken before a check, atomically (docs/security.md#atomic-limits).
* Magic-link tokens are 256 random bits (``secrets.token_urlsafe(32)``), stored as an HMAC,
  valid for ``LINK_VALIDITY``. Looking a link up (:func:`peek_link`, for GET and HEAD) changes
  nothing, so email scanners that open links cannot use them up; only :func:`redeem_link`
  (the confirm POST) does: docs/security.md#link-token, docs/security.md#link-scanners.
* Redemption is a conditional ``UPDATE … WHERE redeemed_at IS NULL`` that must touch one row,
  so of two concurrent redemptions exactly one wins, on SQLite as on PostgreSQL. Code and
  link of one challenge share that row: using one cancels the other
  (docs/security.md#code-redeem-once).
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.util import random_number_token

from . import targets
from .conf import app_settings
from .models import EmailChallenge, EmailThrottle

__all__ = [
    "Issued",
    "Outcome",
    "Redemption",
    "hash_code",
    "hash_link",
    "issue",
    "issue_code",
    "peek_link",
    "redeem_code",
    "replaced_code",
    "redeem_link",
    "start_challenge",
]

_SALT = "wagtail_member_access.tokens.code"
_LINK_SALT = "wagtail_member_access.tokens.link"
#: What ``secrets.token_urlsafe(32)`` makes: 43 characters of the URL-safe alphabet.
LINK_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def hash_code(challenge_id: int, code: str) -> str:
    """The stored form of ``code``: HMAC-SHA256 keyed with ``SECRET_KEY``."""
    return salted_hmac(_SALT, f"{challenge_id}:{code}", algorithm="sha256").hexdigest()


def hash_link(token: str) -> str:
    """The stored (and looked-up) form of a link token: HMAC-SHA256 keyed with ``SECRET_KEY``."""
    return salted_hmac(_LINK_SALT, token, algorithm="sha256").hexdigest()


def start_challenge(
    email: str,
    target=None,
    *,
    purpose=EmailChallenge.Purpose.UNLOCK,
    language: str = "",
    site=None,
    next_url: str = "",
    replace_others: bool = True,
) -> EmailChallenge:
    """Record a request for a code or link for ``target`` (a page, a document, or None: the
    sign-in). Nothing secret exists yet: :func:`issue` makes it, in the background task, and
    only if the email may have access.

    With ``replace_others``, earlier requests for the same purpose, email and target (or
    sign-in) stop working now (docs/security.md#code-single-use). That happens here, at
    request time and for every address, rather than when a code is issued (which happens for
    listed addresses only): a code typed into an older request then answers "replaced"
    whether or not the address is listed, so the answer tells nothing
    (docs/security.md#no-enumeration)."""
    now = timezone.now()
    # The same purpose, email and target: what an earlier request must share to be replaced.
    same = {"purpose": purpose, "email": email, **targets.challenge_fields(target)}
    if replace_others:
        EmailChallenge.objects.filter(
            Q(cancelled_at__isnull=True)
            | Q(cancel_reason=EmailChallenge.CancelReason.NOT_ELIGIBLE),
            **same,
            redeemed_at__isnull=True,
        ).update(
            cancelled_at=Coalesce("cancelled_at", Value(now)),
            cancel_reason=EmailChallenge.CancelReason.REPLACED,
        )
    return EmailChallenge.objects.create(
        **same,
        site=site,
        next_url=next_url,
        language=language,
        created_at=now,
        expires_at=now + app_settings.CODE_VALIDITY,
    )


@dataclass(frozen=True)
class Issued:
    """The secrets of an issued challenge, for the email only; never stored or logged."""

    code: str = ""
    link_token: str = ""


def issue(
    challenge: EmailChallenge,
    *,
    code: bool,
    link: bool,
    link_validity=None,
) -> Issued | None:
    """Make the code and/or link token for ``challenge`` and return them, or None if the
    challenge was already issued or cancelled (a newer request replaced it: see
    :func:`start_challenge`)."""
    now = timezone.now()
    secret_code = random_number_token(app_settings.CODE_LENGTH) if code else ""
    token = secrets.token_urlsafe(32) if link else ""
    issued = EmailChallenge.objects.filter(
        pk=challenge.pk,
        code_hash="",
        link_hash="",
        cancelled_at__isnull=True,
        redeemed_at__isnull=True,
    ).update(
        code_hash=hash_code(challenge.pk, secret_code) if code else "",
        link_hash=hash_link(token) if link else "",
        issued_at=now,
        expires_at=now + app_settings.CODE_VALIDITY,
        link_expires_at=now + (link_validity or app_settings.LINK_VALIDITY) if link else None,
    )
    if not issued:
        return None
    challenge.refresh_from_db()
    return Issued(code=secret_code, link_token=token)


def issue_code(challenge: EmailChallenge) -> str | None:
    """Make a code only (the ``code`` mode) and return it, or None (see :func:`issue`)."""
    issued = issue(challenge, code=True, link=False)
    return issued.code if issued else None


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
    REPLACED = "replaced"  # a code of an earlier request of this browser, since replaced
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


def redeem_code(challenge_id, target, code: str, *, purpose=None) -> Redemption:
    """Try ``code`` against the challenge the visitor's session holds for ``target`` (a page
    or a document; None: the member sign-in, or the challenge of ``purpose``, e.g. a password
    reset).

    Never raises for bad input: the outcome says why a code was refused. Every check is
    counted on the email and on the challenge before it is made, by conditional updates: of
    parallel checks at most ``CODE_MAX_ATTEMPTS`` are ever compared with one code, and one
    per back-off step with one address (the others answer THROTTLED). A right code gives
    its count back.
    """
    if purpose is None:
        purpose = (
            EmailChallenge.Purpose.UNLOCK if target is not None else EmailChallenge.Purpose.SIGN_IN
        )
    challenge = EmailChallenge.objects.filter(
        pk=challenge_id, purpose=purpose, **targets.challenge_fields(target)
    ).first()
    if challenge is None:
        return Redemption(Outcome.MISSING)
    now = timezone.now()
    max_attempts = app_settings.CODE_MAX_ATTEMPTS
    not_eligible = challenge.cancel_reason == EmailChallenge.CancelReason.NOT_ELIGIBLE
    if challenge.redeemed_at or (challenge.cancelled_at and not not_eligible):
        return Redemption(Outcome.USED, challenge)
    if challenge.expires_at is None or challenge.expires_at <= now:
        return Redemption(Outcome.EXPIRED, challenge)
    if challenge.failed_attempts >= max_attempts:
        return Redemption(Outcome.EXHAUSTED, challenge)

    # Every check is counted before it is made, by conditional updates, so parallel guesses
    # cannot share one reading of the counters (docs/security.md#atomic-limits): first the
    # address's back-off, then the code's own cap.
    allowed, locked_until = EmailThrottle.reserve_check(challenge.email)
    if not allowed:
        return Redemption(Outcome.THROTTLED, challenge, retry_at=locked_until)
    counted = EmailChallenge.objects.filter(
        pk=challenge.pk, failed_attempts__lt=max_attempts
    ).update(failed_attempts=F("failed_attempts") + 1)
    if not counted:
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
        ).update(redeemed_at=now, failed_attempts=F("failed_attempts") - 1)
        if won == 1:
            EmailThrottle.objects.filter(email=challenge.email).update(
                throttling_failure_count=0, throttling_failure_timestamp=None
            )
            challenge.redeemed_at = now
            return Redemption(Outcome.OK, challenge)
        # Right, but a parallel request used the code first: not a wrong try either.
        EmailChallenge.objects.filter(pk=challenge.pk).update(
            failed_attempts=F("failed_attempts") - 1
        )
        return Redemption(Outcome.USED, challenge)

    challenge.refresh_from_db(fields=["failed_attempts"])
    if challenge.failed_attempts >= max_attempts:
        return Redemption(Outcome.EXHAUSTED, challenge)
    # When the next try is possible (the back-off after this failure), so the visitor is
    # told how long to wait rather than "too many tries" after one typo.
    throttle = EmailThrottle.objects.filter(email=challenge.email).first()
    allowed, info = throttle.verify_is_allowed() if throttle else (True, None)
    retry_at = None if allowed else (info or {}).get("locked_until")
    return Redemption(Outcome.WRONG, challenge, retry_at=retry_at)


def replaced_code(challenge_ids, code: str) -> bool:
    """Is ``code`` the code of one of ``challenge_ids`` (this browser's earlier requests)
    that a newer request replaced? Then the visitor typed the code of an older email. Tells
    nothing new: only whoever has that code can get a True."""
    replaced = EmailChallenge.objects.filter(
        pk__in=list(challenge_ids)[:10],
        cancel_reason=EmailChallenge.CancelReason.REPLACED,
    ).exclude(code_hash="")
    return any(
        constant_time_compare(old.code_hash, hash_code(old.pk, code))
        for old in replaced.only("pk", "code_hash")
    )


#: What a magic link may be: an invitation or reset link is only usable on its own page
#: (which sets a password), never as a plain sign-in link, and the other way round.
MAGIC_LINK_PURPOSES = (EmailChallenge.Purpose.UNLOCK, EmailChallenge.Purpose.SIGN_IN)


def _link_state(token: str, purposes=MAGIC_LINK_PURPOSES) -> Redemption:
    if not isinstance(token, str) or not LINK_TOKEN_RE.match(token):
        return Redemption(Outcome.MISSING)
    challenge = (
        EmailChallenge.objects.select_related("page", "site")
        .filter(link_hash=hash_link(token), purpose__in=purposes)
        .first()
    )
    if challenge is None:
        return Redemption(Outcome.MISSING)
    if challenge.redeemed_at or challenge.cancelled_at:
        return Redemption(Outcome.USED, challenge)
    if challenge.link_expires_at is None or challenge.link_expires_at <= timezone.now():
        return Redemption(Outcome.EXPIRED, challenge)
    return Redemption(Outcome.OK, challenge)


def peek_link(token: str, *, purposes=MAGIC_LINK_PURPOSES) -> Redemption:
    """What a link is, without using it: for GET and HEAD, which email scanners send.
    Outcome OK means "can still be confirmed"; never raises for a malformed token. A link of
    another purpose than ``purposes`` is MISSING."""
    return _link_state(token, purposes)


def redeem_link(token: str, *, purposes=MAGIC_LINK_PURPOSES) -> Redemption:
    """Use a link (the confirm POST). Exactly one of concurrent redemptions wins; the
    challenge's code stops working too."""
    state = _link_state(token, purposes)
    if not state.ok:
        return state
    now = timezone.now()
    won = EmailChallenge.objects.filter(
        pk=state.challenge.pk,
        link_hash=state.challenge.link_hash,
        redeemed_at__isnull=True,
        cancelled_at__isnull=True,
        link_expires_at__gt=now,
    ).update(redeemed_at=now)
    if won != 1:
        return Redemption(Outcome.USED, state.challenge)
    state.challenge.redeemed_at = now
    return state
