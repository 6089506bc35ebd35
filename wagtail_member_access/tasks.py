"""Background work, as django-tasks tasks (the framework Wagtail uses): the top layer.

Each task calls one journey (:mod:`wagtail_member_access.flows`), the bulk sender, the expiry
run or the clean-up; nothing below this module imports it. Only callers enqueue: views, the
admin, management commands and ``grants.grant``'s ``on_commit``.

With the default immediate backend tasks run in the web process, *after the response has
been sent* (see :func:`enqueue_after_response`), so the visitor never waits for the mail
server and listed and unlisted emails answer in the same time
(docs/security.md#same-timing). With a worker backend (database, RQ) they run in the worker.
"""

from __future__ import annotations

from dataclasses import replace

from . import bulk, cleanup, expiry, sends, worker_rows
from .conf import app_settings
from .flows import access_ready, account_codes, email_proof, password_reset
from .models import EmailChallenge, EmailSend
from .task_framework import task, task_backends

__all__ = [
    "EmailNotSent",
    "clean_up",
    "deliver_challenge",
    "deliver_send",
    "enqueue",
    "enqueue_access_ready",
    "enqueue_after_response",
    "record_expiries",
    "requeue_due_sends",
    "retry_sends",
    "send_access_ready",
    "send_bulk_email",
]


class EmailNotSent(Exception):
    """Raised by the tasks that send email (:func:`deliver_challenge`, :func:`deliver_send`,
    :func:`send_bulk_email`, :func:`record_expiries`) when the mail server failed, so that
    the task backend records the task as failed (never as successful)."""


@task()
def deliver_challenge(challenge_id: int) -> None:
    """Send the code and/or link of a challenge: an unlock or sign-in request
    (``flows.email_proof.deliver``) or a forgotten-password request
    (``flows.password_reset.deliver_reset``).

    Safe to run twice, at once or after a crash: ``sends.claim`` lets one attempt at a time
    through, and none after the email was sent, cancelled or redeemed. When the mail server
    fails, the next attempt is enqueued with back-off (on a backend that can defer; else
    ``manage.py member_access_retry`` enqueues it when due) and :class:`EmailNotSent` is
    raised (docs/security.md#mail-retries)."""
    challenge = sends.claim(challenge_id)
    if challenge is None:
        return
    if challenge.purpose == EmailChallenge.Purpose.RESET:
        password_reset.deliver_reset(challenge)
    elif challenge.purpose in (
        EmailChallenge.Purpose.CHANGE_EMAIL,
        EmailChallenge.Purpose.DELETE_ACCOUNT,
    ):
        account_codes.deliver_code(challenge)
    else:
        email_proof.deliver(challenge)
    attempt = replace(sends.outcome(challenge), number=challenge.send_attempts)
    if attempt.failed:
        _retry_or_raise(deliver_challenge, [(challenge_id, attempt)], "Challenge")


#: How each kind of ``EmailSend`` is attempted again: the send's id in, the attempt out.
RETRIES = {
    EmailSend.Kind.ACCESS_READY: lambda send_id: sends.attempt(send_id, access_ready.send_recorded),
    EmailSend.Kind.BULK: bulk.retry,
    EmailSend.Kind.EXPIRY_REMINDER: lambda send_id: sends.attempt(send_id, expiry.send_recorded),
}


@task()
def deliver_send(send_id: int) -> None:
    """Send (again) an email recorded as an ``EmailSend``: an access email, a bulk email's
    recipient, an expiry reminder. Safe to run twice, at once or after a crash, as
    :func:`deliver_challenge` is (``sends.attempt``); raises :class:`EmailNotSent` when the
    mail server failed, after enqueueing the next attempt with back-off."""
    kind = EmailSend.objects.filter(pk=send_id).values_list("kind", flat=True).first()
    if kind is None:
        return
    attempt = RETRIES[kind](send_id)
    if attempt is not None and attempt.failed:
        _retry_or_raise(deliver_send, [(send_id, attempt)], "Email send")


def _retry_or_raise(task_obj, failures, what: str) -> None:
    """Enqueue ``task_obj`` again for each failed ``(id, sends.Attempt)`` of ``failures``
    that has a next attempt (on a backend that can defer; else ``manage.py
    member_access_retry`` enqueues it when due), then raise :class:`EmailNotSent` naming
    them. Nothing when there are no failures."""
    if not failures:
        return
    backend = task_backends[app_settings.TASK_BACKEND]
    described = []
    for pk, attempt in failures:
        if attempt.retry_at is not None and backend.supports_defer:
            task_obj.using(backend=backend.alias, run_after=attempt.retry_at).enqueue(pk)
        then = f"next attempt at {attempt.retry_at.isoformat()}" if attempt.retry_at else None
        described.append(
            f"{what} {pk}: attempt {attempt.number} failed ({attempt.error}); "
            f"{then or 'no attempts left'}."
        )
    raise EmailNotSent(" ".join(described))


def requeue_due_sends() -> dict[str, int]:
    """Enqueue every send that is due and not on its way (``sends.due``: back-off over, a
    lost task, a worker killed mid-send), and mark our task rows left RUNNING by a killed
    worker as failed (``worker_rows.fail_stale``); return both counts. Safe on several
    hosts at once: a send enqueued twice is still claimed once."""
    stale = worker_rows.fail_stale()
    due = sends.due()
    for challenge_id in due:
        enqueue(deliver_challenge, challenge_id)
    due_sends = sends.due_sends()
    for send_id in due_sends:
        enqueue(deliver_send, send_id)
    return {"enqueued": len(due) + len(due_sends), "stale_tasks": stale}


@task()
def retry_sends() -> dict[str, int]:
    """The periodic retry (:func:`requeue_due_sends`), as ``manage.py member_access_retry``
    does; returns the counts. Schedule it every minute."""
    return requeue_due_sends()


@task()
def send_access_ready(grant_id: int) -> None:
    """Send the "your access is ready" email of a grant: records it and sends it as
    :func:`deliver_send` does (callers use :func:`enqueue_access_ready`; this task stays for
    tasks enqueued before)."""
    send = access_ready.record(grant_id)
    if send is not None:
        deliver_send.call(send.pk)


def enqueue_access_ready(grant_id: int) -> None:
    """Record a new "your access is ready" email of grant ``grant_id`` and enqueue its
    sending (:func:`deliver_send`): each call is one email, retried until it is sent."""
    send = access_ready.record(grant_id)
    if send is not None:
        enqueue(deliver_send, send.pk)


@task()
def send_bulk_email(job_id: int) -> None:
    """Send a bulk email job, throttled (see ``bulk.run``); raises :class:`EmailNotSent`
    when some recipients' emails failed (they are retried with back-off)."""
    _retry_or_raise(deliver_send, bulk.run(job_id), "Bulk email send")


@task()
def record_expiries() -> dict[str, int]:
    """Send the due expiry reminders and record passed expiries (``expiry.run``), as
    ``manage.py member_access_expire`` does; returns the counts, or raises
    :class:`EmailNotSent` when reminders failed (they are retried with back-off). Schedule it
    with your task worker's scheduler, or run the command from cron."""
    report = expiry.run()
    _retry_or_raise(deliver_send, report.failed_sends, "Expiry reminder send")
    return report.counts()


@task()
def clean_up() -> dict[str, int]:
    """Delete old code and link requests, email send records, lapsed failure counters and our
    old task rows
    (``cleanup.run``), as ``manage.py member_access_cleanup`` does; returns the counts."""
    report = cleanup.run()
    return {
        "challenges": report.challenges,
        "sends": report.sends,
        "throttles": report.throttles,
        "task_rows": report.task_rows,
    }


def enqueue(task_obj, *args) -> None:
    """Enqueue ``task_obj`` with ``args`` on the ``TASK_BACKEND`` backend."""
    task_obj.using(backend=app_settings.TASK_BACKEND).enqueue(*args)


def enqueue_after_response(response, task_obj, *args) -> None:
    """Enqueue once ``response`` has been sent (WSGI/ASGI servers and Django's test client
    close the response after sending it; closing runs these callbacks)."""
    response._resource_closers.append(lambda: enqueue(task_obj, *args))
