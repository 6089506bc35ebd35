"""Emails an editor sends to many members at once: password resets, sign-in links,
invitations and "your access is ready" emails (Shopify offers no bulk reset; we do).

:func:`start` records a :class:`~wagtail_member_access.models.BulkEmailJob` with its
recipients; its caller enqueues ``tasks.send_bulk_email``, whose body is :func:`run`. It
sends one email at a time through the same functions the single-member actions use
(:mod:`wagtail_member_access.flows`: ``invitation``, ``password_reset``, ``email_proof``,
``access_ready``),
waits ``BULK_EMAIL_INTERVAL`` between two emails so that a mail provider's sending limits
hold, and counts ``sent`` and ``failed`` on the job as it goes, so the admin shows the
progress and the result. A failed recipient is recorded with its reason; one failure never
stops the others.

Each recipient's email goes out through an ``EmailSend`` keyed by the job and the address
(``sends.attempt``): when the mail server refuses it, it counts as failed ("not sent yet; tried
again") and is retried with back-off (:func:`retry`, run by the ``deliver_send`` task); a
retry that succeeds moves it to ``sent``, one that gives up says so. A rerun never sends a
recipient twice after a success (docs/security.md#mail-retries).

A job runs once: the task claims it with a conditional update of ``started_at``, so a task
backend that delivers the task twice does not send twice. Sending resumes where the counts
say it stopped if the job was claimed but never finished (a worker that died) and
:func:`resume` is called.
"""

from __future__ import annotations

import logging
import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from wagtail.log_actions import log

from . import log_actions, sends
from .conf import app_settings
from .flows import access_ready, email_proof, invitation, password_reset
from .members import (
    NotAllowed,
    find_email_member,
    mask_email,
    normalize_email,
    sign_in_address,
)
from .models import BulkEmailJob, EmailSend, Grant

__all__ = [
    "NOT_ELIGIBLE",
    "NO_GRANT",
    "SEND_FAILED",
    "SEND_RETRYING",
    "Kind",
    "recipients_of_list",
    "resume",
    "retry",
    "run",
    "start",
]

logger = logging.getLogger("wagtail_member_access")

Kind = BulkEmailJob.Kind

#: Why a recipient got nothing, as shown to editors (stored in ``BulkEmailJob.errors``).
NOT_ELIGIBLE = "no member account that may sign in by email (staff, inactive or unknown)"
NO_GRANT = "no grant on the access list"
SEND_FAILED = "the email could not be sent (see the server log)"
SEND_RETRYING = "the email could not be sent yet; it is tried again (see Reports → Email delivery)"


def recipients_of_list(access_list, *, active_only: bool = True) -> list[str]:
    """The addresses of ``access_list``'s grants (active ones only by default), sorted."""
    # A domain grant (@school.example) has no address to write to.
    grants = Grant.objects.filter(access_list=access_list).exclude(email__startswith="@")
    if active_only:
        grants = grants.active()
    return sorted(grants.values_list("email", flat=True))


def start(kind: str, emails, *, access_list=None, by=None) -> BulkEmailJob:
    """Record a bulk email of ``kind`` to ``emails`` and return the job; the caller enqueues
    its sending (``tasks.send_bulk_email`` with the job's id; from a view, after the response
    with ``tasks.enqueue_after_response``, so that the editor does not wait for the throttled
    sending).

    Addresses are normalised and de-duplicated, in their given order. ``access_list`` is
    required for ``access_ready`` (the grant whose email is sent) and recorded for the others.
    Raises ``ValidationError`` (and records nothing) for an unknown kind, a malformed address,
    no addresses, or ``access_ready`` without a list.
    """
    if kind not in Kind.values:
        raise ValidationError(f"Unknown bulk email kind {kind!r}.", code="kind")
    if kind == Kind.ACCESS_READY and access_list is None:
        raise ValidationError("An access email needs the access list.", code="list")
    recipients = list(dict.fromkeys(normalize_email(email) for email in emails))
    if not recipients:
        raise ValidationError("Select at least one member.", code="empty")
    job = BulkEmailJob.objects.create(
        kind=kind,
        access_list=access_list,
        recipients=recipients,
        total=len(recipients),
        created_by=by,
    )
    logger.info("Bulk %s email to %s recipients recorded (job %s).", kind, len(recipients), job.pk)
    return job


def _send_one(job: BulkEmailJob, email: str) -> str | None:
    """Send one email of the job; the reason it was not sent, or None when it was."""
    by = job.created_by
    if job.kind == Kind.ACCESS_READY:
        grant = Grant.objects.filter(access_list_id=job.access_list_id, email=email).first()
        delivery = access_ready.deliver(grant.pk) if grant is not None else None
        if delivery is None:  # no grant, or a revoked one
            return NO_GRANT
        return None if delivery else delivery.error
    if job.kind == Kind.INVITE:
        try:
            find_email_member(email)
        except NotAllowed:
            return NOT_ELIGIBLE
        return None if invitation.send_invitation(email, by=by) else SEND_FAILED
    if sign_in_address(email) is None:
        return NOT_ELIGIBLE
    if job.kind == Kind.RESET:
        send = password_reset.send_password_reset
    else:
        send = email_proof.send_sign_in_link
    return None if send(email, by=by) else SEND_FAILED


Failures = list[tuple[int, sends.Attempt]]


def run(job_id: int) -> Failures:
    """Send a bulk email job (the task body). Does nothing if another run claimed it.
    Returns the (``EmailSend`` id, attempt) of each recipient whose email failed, for the
    task to retry and to report as failed."""
    claimed = BulkEmailJob.objects.filter(pk=job_id, started_at__isnull=True).update(
        started_at=timezone.now()
    )
    if not claimed:
        return []
    return _send_all(job_id)


def resume(job_id: int) -> Failures:
    """Finish a job whose run stopped half-way (its worker died): the recipients after
    ``sent + failed`` are sent (one sent before is not sent again). Does nothing for a
    finished job."""
    if BulkEmailJob.objects.filter(pk=job_id, finished_at__isnull=True).exists():
        return _send_all(job_id)
    return []


def _recipient(job: BulkEmailJob, send: EmailSend) -> str:
    """Send ``send``'s email of ``job`` (for ``sends.attempt``): ``""`` when sent, the error
    when not; ``sends.NotSending`` for a recipient who gets nothing (no account, no grant)."""
    try:
        reason = _send_one(job, send.email)
    except Exception as exc:  # one broken recipient must not stop the others
        logger.error(
            "Bulk email job %s: %s failed (%s).", job.pk, mask_email(send.email), type(exc).__name__
        )
        return type(exc).__name__
    if reason in (NOT_ELIGIBLE, NO_GRANT):
        raise sends.NotSending(reason)
    return reason or ""


def _first_attempt(job: BulkEmailJob, email: str) -> tuple[int, sends.Attempt | None, str | None]:
    """Send ``email``'s email of ``job``: its ``EmailSend`` id, the attempt (None when a run
    before this one sent it or holds it) and the reason it is not sent (None: sent)."""
    send = sends.record(EmailSend.Kind.BULK, f"bulk:{job.pk}:{email}", email, job=job)
    attempt = sends.attempt(send.pk, lambda send: _recipient(job, send))
    if attempt is None:
        sent = EmailSend.objects.filter(pk=send.pk, sent_at__isnull=False).exists()
        return send.pk, None, None if sent else SEND_RETRYING
    if attempt.skipped:
        return send.pk, attempt, attempt.skipped
    if attempt.failed:
        return send.pk, attempt, SEND_RETRYING if attempt.retry_at else SEND_FAILED
    return send.pk, attempt, None


def _count(job_id: int, email: str, reason: str | None, *, first: bool) -> None:
    """Count ``email``'s outcome on the job: on the first pass (``first``) as sent (reason
    None) or failed with ``reason``; on a retry, a recipient counted as retrying moves to sent
    (None) or has its reason replaced. Under a row lock: the first pass and retries of the
    same job may run at once."""
    with transaction.atomic():
        job = BulkEmailJob.objects.select_for_update().get(pk=job_id)
        entry = next((e for e in job.errors if e["email"] == email), None)
        if first:
            if reason is None:
                job.sent += 1
            else:
                job.failed += 1
                job.errors.append({"email": email, "reason": reason})
        elif entry is None or entry["reason"] != SEND_RETRYING:
            return  # not counted as retrying (yet): the first pass counts it
        elif reason is None:
            job.sent, job.failed = job.sent + 1, job.failed - 1
            job.errors.remove(entry)
        else:
            entry["reason"] = reason
        job.save(update_fields=["sent", "failed", "errors"])


def retry(send_id: int) -> sends.Attempt | None:
    """Send a failed recipient's email again (the ``deliver_send`` task) and count the
    outcome on its job; the attempt, as ``sends.attempt`` returns it."""
    send = EmailSend.objects.select_related("job__created_by").filter(pk=send_id).first()
    if send is None or send.job is None:
        return None
    attempt = sends.attempt(send_id, lambda send: _recipient(send.job, send))
    if attempt is not None and not (attempt.failed and attempt.retry_at):
        failed = SEND_FAILED if attempt.failed else None
        _count(send.job_id, send.email, attempt.skipped or failed, first=False)
    return attempt


def _send_all(job_id: int) -> Failures:
    job = BulkEmailJob.objects.select_related("created_by").get(pk=job_id)
    interval = app_settings.BULK_EMAIL_INTERVAL.total_seconds()
    done = job.sent + job.failed
    failures = []
    for position, email in enumerate(job.recipients[done:], start=done):
        if position > done and interval:
            time.sleep(interval)
        send_id, attempt, reason = _first_attempt(job, email)
        if attempt is not None and attempt.failed:
            failures.append((send_id, attempt))
        _count(job.pk, email, reason, first=True)
    job.refresh_from_db()
    job.finished_at = timezone.now()
    job.save(update_fields=["finished_at"])
    log(
        instance=job,
        action=log_actions.BULK_EMAIL,
        user=job.created_by,
        data={
            "kind": job.kind,
            "sent": job.sent,
            "failed": job.failed,
            "total": job.total,
            "list": job.access_list.name if job.access_list_id else "",
        },
    )
    logger.info(
        "Bulk %s email job %s finished: %s sent, %s failed.", job.kind, job.pk, job.sent, job.failed
    )
    return failures
