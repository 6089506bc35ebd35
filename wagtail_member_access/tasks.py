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

from . import bulk, cleanup, expiry, lessons, sends, worker_rows
from .conf import app_settings
from .flows import access_ready, account_codes, email_proof, password_reset
from .models import EmailChallenge
from .task_framework import task, task_backends

__all__ = [
    "EmailNotSent",
    "clean_up",
    "deliver_challenge",
    "enqueue",
    "enqueue_after_response",
    "record_expiries",
    "requeue_due_sends",
    "retry_sends",
    "send_access_ready",
    "send_bulk_email",
]


class EmailNotSent(Exception):
    """Raised by :func:`deliver_challenge` when the mail server failed, so that the task
    backend records the task as failed (never as successful)."""


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
    attempt = sends.outcome(challenge)
    if not attempt.failed:
        return
    if attempt.retry_at is not None:
        _enqueue_retry(challenge_id, attempt.retry_at)
        raise EmailNotSent(
            f"Challenge {challenge_id}: attempt {challenge.send_attempts} failed "
            f"({attempt.error}); next attempt at {attempt.retry_at.isoformat()}."
        )
    raise EmailNotSent(
        f"Challenge {challenge_id}: attempt {challenge.send_attempts} failed "
        f"({attempt.error}); no attempts left."
    )


def _enqueue_retry(challenge_id: int, retry_at) -> None:
    backend = task_backends[app_settings.TASK_BACKEND]
    if backend.supports_defer:
        deliver_challenge.using(backend=backend.alias, run_after=retry_at).enqueue(challenge_id)


def requeue_due_sends() -> dict[str, int]:
    """Enqueue every send that is due and not on its way (``sends.due``: back-off over, a
    lost task, a worker killed mid-send), and mark our task rows left RUNNING by a killed
    worker as failed (``worker_rows.fail_stale``); return both counts. Safe on several
    hosts at once: a send enqueued twice is still claimed once."""
    stale = worker_rows.fail_stale()
    due = sends.due()
    for challenge_id in due:
        enqueue(deliver_challenge, challenge_id)
    return {"enqueued": len(due), "stale_tasks": stale}


@task()
def retry_sends() -> dict[str, int]:
    """The periodic retry (:func:`requeue_due_sends`), as ``manage.py member_access_retry``
    does; returns the counts. Schedule it every minute."""
    return requeue_due_sends()


@task()
def send_access_ready(grant_id: int) -> None:
    """Send the "your access is ready" email of a grant (``flows.access_ready.send``)."""
    access_ready.send(grant_id)


@task()
def send_bulk_email(job_id: int) -> None:
    """Send a bulk email job, throttled (see ``bulk.run``)."""
    bulk.run(job_id)


@task()
def record_expiries() -> dict[str, int]:
    """Send the due expiry reminders and record passed expiries (``expiry.run``), then the
    due "a lesson has opened" emails (``lessons.run``), as ``manage.py member_access_expire``
    does; returns the counts. Schedule it with your task worker's scheduler, or run the
    command from cron."""
    return expiry.run().counts() | lessons.run().counts()


@task()
def clean_up() -> dict[str, int]:
    """Delete old code and link requests, lapsed failure counters and our old task rows
    (``cleanup.run``), as ``manage.py member_access_cleanup`` does; returns the counts."""
    report = cleanup.run()
    return {
        "challenges": report.challenges,
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
