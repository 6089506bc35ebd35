"""The task rows that django-tasks-db's ``DatabaseBackend`` keeps (``DBTaskResult``), for our
tasks only, when that backend is installed (the ``worker`` extra, docs/deployment.md).

* :func:`fail_stale`: a worker killed while running a task leaves its row RUNNING for good
  (``db_worker`` never picks it up again). A row of ours RUNNING for longer than
  ``SEND_LEASE`` is marked FAILED with :class:`WorkerLost`; the email itself is sent again
  by ``manage.py member_access_retry`` from our own record (docs/security.md#mail-retries).
* :func:`prune`: finished rows older than ``TASK_RESULTS_KEEP`` are deleted, as
  django-tasks-db's ``prune_db_task_results`` does for every task.

Both are single ``UPDATE``/``DELETE`` statements: safe when several hosts run them at once.
Without django-tasks-db both do nothing and return 0.
"""

from __future__ import annotations

from datetime import datetime

from django.apps import apps
from django.utils import timezone

from .conf import app_settings

__all__ = ["TASK_PATH_PREFIX", "WorkerLost", "fail_stale", "installed", "prune"]

TASK_PATH_PREFIX = "wagtail_member_access.tasks."


class WorkerLost(Exception):
    """What a stale RUNNING row of ours is marked failed with."""


def installed() -> bool:
    """Is django-tasks-db in ``INSTALLED_APPS``?"""
    return apps.is_installed("django_tasks_db")


def _rows():
    # django-tasks-db is optional (the ``worker`` extra): imported only once it is installed.
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path__startswith=TASK_PATH_PREFIX)


def fail_stale(now: datetime | None = None) -> int:
    """Mark our tasks RUNNING for longer than ``SEND_LEASE`` as FAILED; return how many."""
    if not installed():
        return 0
    now = now or timezone.now()
    return (
        _rows()
        .filter(status="RUNNING", started_at__lt=now - app_settings.SEND_LEASE)
        .update(
            status="FAILED",
            finished_at=now,
            exception_class_path=f"{__name__}.WorkerLost",
            traceback="WorkerLost: the worker running this task stopped before it finished; "
            "manage.py member_access_retry sends its email again.",
        )
    )


def prune(now: datetime | None = None) -> int:
    """Delete our finished task rows (successful or failed) older than
    ``TASK_RESULTS_KEEP``; return how many."""
    if not installed():
        return 0
    now = now or timezone.now()
    cutoff = now - app_settings.TASK_RESULTS_KEEP
    deleted, _ = (
        _rows().filter(status__in=("SUCCESSFUL", "FAILED"), finished_at__lt=cutoff).delete()
    )
    return deleted
