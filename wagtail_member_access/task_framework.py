"""The one place that chooses the tasks framework the package's background work runs on.

Django 6.0 ships the tasks framework as ``django.tasks``; on Django 5.2 the ``django-tasks``
backport (``django_tasks``) provides the same API. Both read the ``TASKS`` setting, so the
same backend aliases work on either. Every other module (``tasks.py``, ``checks.py``, the
tests) imports the framework from here, never from ``django.tasks`` or ``django_tasks``
directly.

If neither is importable (Django 5.2 without ``django-tasks``, which the package requires),
importing this module raises ``ImportError``.
"""

from __future__ import annotations

import django

if django.VERSION >= (6, 0):
    from django.tasks import task, task_backends
    from django.tasks.backends.immediate import ImmediateBackend

    FRAMEWORK = "django.tasks"
else:
    from django_tasks import task, task_backends
    from django_tasks.backends.immediate import ImmediateBackend

    FRAMEWORK = "django_tasks"

__all__ = ["FRAMEWORK", "ImmediateBackend", "task", "task_backends"]
