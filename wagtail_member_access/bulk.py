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

A job runs once: the task claims it with a conditional update of ``started_at``, so a task
backend that delivers the task twice does not send twice. Sending resumes where the counts
say it stopped if the job was claimed but never finished (a worker that died) and
:func:`resume` is called.
"""

from __future__ import annotations

import logging
import time

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from wagtail.log_actions import log

from . import log_actions
from .conf import app_settings
from .flows import access_ready, email_proof, invitation, password_reset
from .members import (
    NotAllowed,
    find_member,
    is_privileged,
    mask_email,
    normalize_email,
    sign_in_address,
)
from .models import BulkEmailJob, Grant

__all__ = [
    "NOT_ELIGIBLE",
    "NO_GRANT",
    "SEND_FAILED",
    "Kind",
    "recipients_of_list",
    "resume",
    "run",
    "start",
]

logger = logging.getLogger("wagtail_member_access")

Kind = BulkEmailJob.Kind

#: Why a recipient got nothing, as shown to editors (stored in ``BulkEmailJob.errors``).
NOT_ELIGIBLE = "no member account that may sign in by email (staff, inactive or unknown)"
NO_GRANT = "no grant on the access list"
SEND_FAILED = "the email could not be sent (see the server log)"


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
        if grant is None or grant.revoked_at is not None:
            return NO_GRANT
        return None if access_ready.send(grant.pk) else SEND_FAILED
    if job.kind == Kind.INVITE:
        try:
            user = find_member(email)
        except NotAllowed:
            return NOT_ELIGIBLE
        if user is not None and (not user.is_active or is_privileged(user)):
            return NOT_ELIGIBLE
        return None if invitation.send_invitation(email, by=by) else SEND_FAILED
    if sign_in_address(email) is None:
        return NOT_ELIGIBLE
    if job.kind == Kind.RESET:
        send = password_reset.send_password_reset
    else:
        send = email_proof.send_sign_in_link
    return None if send(email, by=by) else SEND_FAILED


def run(job_id: int) -> None:
    """Send a bulk email job (the task body). Does nothing if another run claimed it."""
    claimed = BulkEmailJob.objects.filter(pk=job_id, started_at__isnull=True).update(
        started_at=timezone.now()
    )
    if not claimed:
        return
    _send_all(job_id)


def resume(job_id: int) -> None:
    """Finish a job whose run stopped half-way (its worker died): the recipients after
    ``sent + failed`` are sent. Does nothing for a finished job."""
    if BulkEmailJob.objects.filter(pk=job_id, finished_at__isnull=True).exists():
        _send_all(job_id)


def _send_all(job_id: int) -> None:
    job = BulkEmailJob.objects.select_related("created_by").get(pk=job_id)
    interval = app_settings.BULK_EMAIL_INTERVAL.total_seconds()
    done = job.sent + job.failed
    for position, email in enumerate(job.recipients[done:], start=done):
        if position > done and interval:
            time.sleep(interval)
        try:
            reason = _send_one(job, email)
        except Exception as exc:  # one broken recipient must not stop the others
            logger.error(
                "Bulk email job %s: %s failed (%s).", job.pk, mask_email(email), type(exc).__name__
            )
            reason = SEND_FAILED
        if reason is None:
            BulkEmailJob.objects.filter(pk=job.pk).update(sent=F("sent") + 1)
        else:
            job.errors.append({"email": email, "reason": reason})
            BulkEmailJob.objects.filter(pk=job.pk).update(failed=F("failed") + 1, errors=job.errors)
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
