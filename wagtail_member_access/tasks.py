"""Background work, as django-tasks tasks (the framework Wagtail uses).

With the default immediate backend they run in the web process, *after the response has
been sent* (see :func:`enqueue_after_response`), so the visitor never waits for the mail
server and listed and unlisted emails answer in the same time. With a worker backend
(database, RQ) they run in the worker.
"""

from __future__ import annotations

from .conf import app_settings
from .task_framework import task

__all__ = [
    "deliver_access_ready",
    "deliver_challenge",
    "enqueue",
    "enqueue_after_response",
    "record_expiries",
    "clean_up",
    "send_bulk_email",
]


@task()
def deliver_challenge(challenge_id: int) -> None:
    """Send the code and/or magic link of a challenge (see ``flows.deliver``)."""
    from .flows import deliver

    deliver(challenge_id)


@task()
def deliver_access_ready(grant_id: int) -> None:
    from .flows import deliver_access_ready as deliver

    deliver(grant_id)


@task()
def send_bulk_email(job_id: int) -> None:
    """Send a bulk email job, throttled (see ``bulk.run``)."""
    from .bulk import run

    run(job_id)


@task()
def record_expiries() -> dict[str, int]:
    """Send the due expiry reminders and record passed expiries (``expiry.run``), as
    ``manage.py member_access_expire`` does; returns the counts. Schedule it with your task
    worker's scheduler, or run the command from cron."""
    from .expiry import run

    return run().counts()


@task()
def clean_up() -> dict[str, int]:
    """Delete old code and link requests and lapsed failure counters (``cleanup.run``), as
    ``manage.py member_access_cleanup`` does; returns the counts."""
    from .cleanup import run

    report = run()
    return {"challenges": report.challenges, "throttles": report.throttles}


def enqueue(task_obj, *args) -> None:
    task_obj.using(backend=app_settings.TASK_BACKEND).enqueue(*args)


def enqueue_after_response(response, task_obj, *args) -> None:
    """Enqueue once ``response`` has been sent (WSGI/ASGI servers and Django's test client
    close the response after sending it; closing runs these callbacks)."""
    response._resource_closers.append(lambda: enqueue(task_obj, *args))
