"""Emails sent by the background task: each attempt claimed, its outcome recorded, failed
sends retried with back-off, lost ones found again (docs/security.md#mail-retries).

Two kinds of record share one policy (lease, back-off, ``SEND_RETRIES``, ``RETRY_WINDOW``):
the ``EmailChallenge`` of a code or link email, and the ``EmailSend`` of an email that carries
no code of its own (the access-ready email, a bulk email's recipient, an expiry reminder;
:func:`record`, :func:`attempt`, :func:`due_sends`).

The record is the ``EmailChallenge`` itself, in the database every process shares, so a
task run twice, run by two workers at once, or run again after a worker was killed never
sends an email twice after a recorded success:

* :func:`claim` starts an attempt with one conditional ``UPDATE``: only for an email not
  sent, not cancelled, not redeemed, and either never tried or due again (its back-off is
  over, or the lease of the attempt under way ran out: a worker killed mid-send). Of two
  concurrent claims exactly one wins.
* :func:`succeeded` records ``sent_at``; :func:`failed` records the error, forgets the code
  and link nobody received, and either sets the next attempt (``SEND_RETRY_DELAY``, doubled
  per attempt) or, after ``SEND_RETRIES`` retries, cancels the challenge for good and writes
  that to the audit log.
* :func:`due` lists the sends ``manage.py member_access_retry`` must enqueue again.
* :func:`attempt` does all of this for an ``EmailSend`` around the caller's sending
  function; its key (:func:`record`) makes a rerun of the job that recorded it find the same
  row, so a retry never sends it twice after a success.

The mail server's state is kept site-wide in the shared rate-limit cache (:func:`mail_down`):
the visitor's page and the resend cooldown use it, never the state of one address, so they
tell nothing about whether an address is listed (docs/security.md#no-enumeration).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import caches
from django.db.models import F, Q
from django.utils import timezone
from wagtail.log_actions import log

from . import log_actions, sites, tokens
from .conf import app_settings
from .members import mask_email
from .models import EmailChallenge, EmailSend
from .ratelimits import cache_guard

__all__ = [
    "RETRY_WINDOW",
    "TASK_PURPOSES",
    "Attempt",
    "NotSending",
    "attempt",
    "claim",
    "claim_send",
    "due",
    "due_sends",
    "failed",
    "mail_down",
    "mail_failed",
    "mail_sent",
    "outcome",
    "record",
    "retry_delay",
    "succeeded",
]

logger = logging.getLogger("wagtail_member_access")

Purpose = EmailChallenge.Purpose
#: The challenges whose email the ``deliver_challenge`` task sends (the others are sent in
#: the request that makes them, and a failure there is answered at once).
TASK_PURPOSES = (
    Purpose.UNLOCK,
    Purpose.SIGN_IN,
    Purpose.RESET,
    Purpose.CHANGE_EMAIL,
    Purpose.DELETE_ACCOUNT,
)
#: A request older than this is not sent any more, however its attempts went.
RETRY_WINDOW = timedelta(days=1)
#: Set while the mail server fails: when the last send failed and none succeeded since.
MAIL_DOWN_KEY = "wagtail_member_access:mail.down"
MAIL_DOWN_FOR = timedelta(minutes=15)


def _unsent():
    return EmailChallenge.objects.filter(
        purpose__in=TASK_PURPOSES,
        sent_at__isnull=True,
        cancelled_at__isnull=True,
        redeemed_at__isnull=True,
    )


def _claim_rows(rows, **forget) -> bool:
    """Start an attempt on the one row of ``rows`` (unsent, not cancelled) if it was never
    tried or is due again; setting ``forget`` too. One conditional ``UPDATE``: of two
    concurrent claims exactly one wins."""
    now = timezone.now()
    due_now = Q(send_attempts=0) | Q(next_attempt_at__lte=now)
    claimed = rows.filter(due_now).update(
        send_attempts=F("send_attempts") + 1,
        next_attempt_at=now + app_settings.SEND_LEASE,
        **forget,
    )
    return claimed == 1


def _next_attempt(rows, attempts: int, error: str, **forget) -> datetime | None:
    """Record ``error`` on ``rows`` after their ``attempts``-th failed attempt and return
    when the next one is due (back-off), or None when the retries are used up (the caller
    then cancels for good)."""
    if attempts > app_settings.SEND_RETRIES:
        rows.update(send_error=error, next_attempt_at=None, **forget)
        return None
    retry_at = timezone.now() + retry_delay(attempts)
    rows.update(send_error=error, next_attempt_at=retry_at, **forget)
    return retry_at


def claim(challenge_id: int) -> EmailChallenge | None:
    """Start an attempt to send ``challenge_id``'s email and return the challenge (page and
    site loaded), or None when there is nothing to do: it vanished, was sent, cancelled or
    redeemed, is not sent by the task, or another attempt holds it (its lease or back-off
    has not run out). Any code or link of an earlier attempt stops working: the attempt
    issues new ones."""
    rows = _unsent().filter(pk=challenge_id)
    if not _claim_rows(rows, code_hash="", link_hash="", issued_at=None):
        return None
    return EmailChallenge.objects.select_related("page", "site").get(pk=challenge_id)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: ``SEND_RETRY_DELAY`` doubled per
    attempt after the first."""
    return app_settings.SEND_RETRY_DELAY * 2 ** max(attempts - 1, 0)


def succeeded(challenge: EmailChallenge) -> None:
    """Record that ``challenge``'s email was sent: no attempt will send it again."""
    EmailChallenge.objects.filter(pk=challenge.pk).update(
        sent_at=timezone.now(), next_attempt_at=None
    )


def failed(challenge: EmailChallenge, error: str) -> datetime | None:
    """Record that an attempt to send ``challenge``'s email failed with ``error`` and return
    when the next attempt is due, or None when there is none.

    The code and link of the attempt are forgotten (nobody received them). A challenge not
    sent by the task (an invitation, a link sent from the admin: its sender sees the failure
    at once) and one whose retries are used up are cancelled; the latter is also written to
    the audit log as failed for good."""
    rows = EmailChallenge.objects.filter(pk=challenge.pk, sent_at__isnull=True)
    attempts = rows.values_list("send_attempts", flat=True).first()
    if not attempts or challenge.purpose not in TASK_PURPOSES:
        rows.update(send_error=error)
        tokens.cancel(challenge, EmailChallenge.CancelReason.SEND_FAILED)
        return None
    retry_at = _next_attempt(rows, attempts, error, code_hash="", link_hash="")
    if retry_at is None:
        tokens.cancel(challenge, EmailChallenge.CancelReason.SEND_FAILED)
        about = challenge.page or challenge.site or sites.default_site()
        _log_given_up(about, challenge.purpose, challenge.email, attempts)
    return retry_at


@dataclass(frozen=True)
class Attempt:
    """How the last attempt on a challenge or send ended: ``failed`` (then ``retry_at`` is
    when the next attempt is due, None when there is none) or not (sent, or nothing to send:
    then ``skipped`` says why, for an ``EmailSend``). ``number`` counts the attempts made."""

    failed: bool
    retry_at: datetime | None = None
    error: str = ""
    skipped: str = ""
    number: int = 0


def outcome(claimed: EmailChallenge) -> Attempt:
    """The outcome of the attempt just made on ``claimed`` (as :func:`claim` returned it).

    Cancelled because the send failed: failed for good. Its next attempt moved by
    :func:`failed`: failed, retry then. Sent, deleted, or cancelled for another reason (no
    access, replaced by a newer request): not a failure. Left as claimed (a page deleted
    meanwhile: nothing was sent or tried): cancelled, so no retry picks it up again."""
    row = (
        EmailChallenge.objects.filter(pk=claimed.pk)
        .values("sent_at", "cancelled_at", "cancel_reason", "send_error", "next_attempt_at")
        .first()
    )
    if row is None or row["sent_at"] is not None:
        return Attempt(False)
    if row["cancelled_at"] is not None:
        if row["cancel_reason"] == EmailChallenge.CancelReason.SEND_FAILED:
            return Attempt(True, None, row["send_error"])
        return Attempt(False)
    if row["next_attempt_at"] != claimed.next_attempt_at:
        return Attempt(True, row["next_attempt_at"], row["send_error"])
    tokens.cancel(claimed, EmailChallenge.CancelReason.NOT_ELIGIBLE)
    return Attempt(False)


def _log_given_up(about, purpose: str, email: str, attempts: int) -> None:
    """Write to the server log, and to the audit log of ``about`` (a page, site, grant or
    bulk email), that the ``purpose`` email to ``email`` failed for good."""
    logger.error(
        "Gave up sending the %s email to %s after %s attempts.",
        purpose,
        mask_email(email),
        attempts,
    )
    if about is not None:
        log(
            instance=about,
            action=log_actions.SEND_GAVE_UP,
            data={"purpose": purpose, "email": mask_email(email), "attempts": attempts},
        )


def due(now: datetime | None = None) -> list[int]:
    """The challenges whose email should be sent now and is not on its way: never tried and
    older than ``SEND_LEASE`` (the task was lost), or tried and due again (back-off over, or
    the attempt's lease ran out: a worker killed mid-send). Only requests younger than
    ``RETRY_WINDOW``; oldest first."""
    now = now or timezone.now()
    unissued = Q(code_hash="", link_hash="")
    return _due_in(_unsent(), now, unissued)


def _due_in(rows, now: datetime, never_tried: Q | None = None) -> list[int]:
    """The ids of ``rows`` (unsent, not cancelled) due now: never tried (and ``never_tried``)
    and older than ``SEND_LEASE``, or tried and due again; younger than ``RETRY_WINDOW``."""
    lease = app_settings.SEND_LEASE
    lost = Q(send_attempts=0, created_at__lte=now - lease) & (never_tried or Q())
    again = Q(send_attempts__gt=0, next_attempt_at__lte=now)
    return list(
        rows.filter(lost | again, created_at__gt=now - RETRY_WINDOW)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )


# --- emails without a code of their own: EmailSend ----------------------------------------------


class NotSending(Exception):
    """Raised by the sending function given to :func:`attempt` when there is nothing to send
    any more (a revoked grant, a recipient without an account): the send is closed, no retry
    follows, and ``str(exc)`` is the reason the caller gets as ``Attempt.skipped``."""


SEND_FAILED = EmailChallenge.CancelReason.SEND_FAILED
NOT_ELIGIBLE = EmailChallenge.CancelReason.NOT_ELIGIBLE


def _unsent_sends():
    return EmailSend.objects.filter(sent_at__isnull=True, cancelled_at__isnull=True)


def record(kind: str, key: str, email: str, **about) -> EmailSend:
    """The send of ``kind`` identified by ``key`` (made now unless a run before made it),
    to ``email``, about ``about`` (``grant`` or ``job``). Two runs that record the same key
    get the same row, so the email goes out once."""
    defaults = {"kind": kind, "email": email, "created_at": timezone.now(), **about}
    send, _ = EmailSend.objects.get_or_create(key=key, defaults=defaults)
    return send


def claim_send(send_id: int) -> EmailSend | None:
    """Start an attempt on the send ``send_id`` and return it (grant and job loaded), or None
    when there is nothing to do: sent, closed, or another attempt holds it (as :func:`claim`)."""
    if not _claim_rows(_unsent_sends().filter(pk=send_id)):
        return None
    return EmailSend.objects.select_related("grant__access_list", "job").get(pk=send_id)


def attempt(send_id: int, send) -> Attempt | None:
    """Claim the send ``send_id`` and call ``send(the EmailSend)``, which sends the email and
    returns ``""`` when it was sent, else the mail server's error (or raises
    :class:`NotSending`); record the outcome and return it. None when the send was not
    claimed (sent already, closed, or another attempt holds it): nothing was sent.

    A failure is retried with back-off from the record (:func:`due_sends` finds it when it is
    due); after ``SEND_RETRIES`` retries the send is closed and written to the audit log of
    its grant or bulk email as failed for good. Any other exception of ``send`` counts as a
    failed attempt too (logged with its traceback), so one broken email cannot loop."""
    claimed = claim_send(send_id)
    if claimed is None:
        return None
    rows = _unsent_sends().filter(pk=send_id)
    try:
        error = send(claimed)
    except NotSending as reason:
        rows.update(cancelled_at=timezone.now(), next_attempt_at=None, cancel_reason=NOT_ELIGIBLE)
        return Attempt(False, skipped=str(reason), number=claimed.send_attempts)
    except Exception as exc:  # a bug or a broken template: a failed attempt, not a loop
        logger.exception("Could not send the %s email (send %s).", claimed.kind, send_id)
        error = type(exc).__name__
    if not error:
        rows.update(sent_at=timezone.now(), next_attempt_at=None)
        return Attempt(False, number=claimed.send_attempts)
    retry_at = _next_attempt(rows, claimed.send_attempts, error)
    if retry_at is None:
        rows.update(cancelled_at=timezone.now(), cancel_reason=SEND_FAILED)
        about = claimed.grant or claimed.job
        _log_given_up(about, claimed.kind, claimed.email, claimed.send_attempts)
    return Attempt(True, retry_at, error, number=claimed.send_attempts)


def due_sends(now: datetime | None = None) -> list[int]:
    """The ``EmailSend`` rows due now and not on their way (as :func:`due`), oldest first."""
    return _due_in(_unsent_sends(), now or timezone.now())


# --- the mail server's state, site-wide ---------------------------------------------------------


def _cache():
    return caches[app_settings.RATELIMIT_CACHE]


def mail_failed() -> None:
    """Note that a send failed just now (see :func:`mail_down`). Never raises: the note must
    not hide the mail error it follows."""
    try:
        _cache().set(MAIL_DOWN_KEY, 1, int(MAIL_DOWN_FOR.total_seconds()))
    except Exception:
        logger.exception("Could not note the mail failure in the cache.")


def mail_sent() -> None:
    """Note that a send succeeded: the mail server works (again). Never raises."""
    try:
        _cache().delete(MAIL_DOWN_KEY)
    except Exception:
        logger.exception("Could not note the mail recovery in the cache.")


def mail_down() -> bool:
    """Did the last send fail (within ``MAIL_DOWN_FOR``), with none succeeding since? The
    same answer for every visitor. Raises ``ratelimits.CacheUnavailable`` when the cache
    cannot be reached."""
    with cache_guard():
        return bool(_cache().get(MAIL_DOWN_KEY))
