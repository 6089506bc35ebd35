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

from . import bulk, cleanup, expiry
from .conf import app_settings
from .flows import access_ready, account_codes, common, email_proof, password_reset
from .models import EmailChallenge
from .task_framework import task

__all__ = [
    "clean_up",
    "deliver_challenge",
    "enqueue",
    "enqueue_after_response",
    "record_expiries",
    "send_access_ready",
    "send_bulk_email",
]


@task()
def deliver_challenge(challenge_id: int) -> None:
    """Send the code and/or link of a challenge: an unlock or sign-in request
    (``flows.email_proof.deliver``) or a forgotten-password request
    (``flows.password_reset.deliver_reset``). Safe to run twice: a challenge whose code or
    link was issued already, or that was cancelled, is left alone."""
    challenge = common.unsent_challenge(challenge_id)
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
    """Send the due expiry reminders and record passed expiries (``expiry.run``), as
    ``manage.py member_access_expire`` does; returns the counts. Schedule it with your task
    worker's scheduler, or run the command from cron."""
    return expiry.run().counts()


@task()
def clean_up() -> dict[str, int]:
    """Delete old code and link requests and lapsed failure counters (``cleanup.run``), as
    ``manage.py member_access_cleanup`` does; returns the counts."""
    report = cleanup.run()
    return {"challenges": report.challenges, "throttles": report.throttles}


def enqueue(task_obj, *args) -> None:
    """Enqueue ``task_obj`` with ``args`` on the ``TASK_BACKEND`` backend."""
    task_obj.using(backend=app_settings.TASK_BACKEND).enqueue(*args)


def enqueue_after_response(response, task_obj, *args) -> None:
    """Enqueue once ``response`` has been sent (WSGI/ASGI servers and Django's test client
    close the response after sending it; closing runs these callbacks)."""
    response._resource_closers.append(lambda: enqueue(task_obj, *args))
