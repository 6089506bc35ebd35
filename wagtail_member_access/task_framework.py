"""The one place that chooses the tasks framework the package's background work runs on.

Django 6.0 ships the tasks framework as ``django.tasks``; on Django 5.2 the ``django-tasks``
backport (``django_tasks``) provides the same API. Both read the ``TASKS`` setting, so the
same backend aliases work on either. Every other module (``tasks.py``, ``checks.py``, the
tests) imports the framework from here, never from ``django.tasks`` or ``django_tasks``
directly.

Importing this module raises ``ImportError`` when the ``django-tasks`` backport is missing
(the package requires it on every Django, as Wagtail 8.0 does).
"""

from __future__ import annotations

import django
from django_tasks.backends.immediate import ImmediateBackend as _BackportImmediateBackend

if django.VERSION >= (6, 0):
    from django.tasks import task, task_backends
    from django.tasks.backends.immediate import ImmediateBackend

    FRAMEWORK = "django.tasks"
else:
    from django_tasks import task, task_backends
    from django_tasks.backends.immediate import ImmediateBackend

    FRAMEWORK = "django_tasks"

# Backends that run a task in the web process. On Django 6 a site upgraded from 5.2 may still
# name the backport's immediate backend in TASKS (Wagtail 8.0 runs its own tasks on the
# backport, so it stays installed): django.tasks loads it, and it runs tasks in-process too.
IMMEDIATE_BACKENDS = (ImmediateBackend, _BackportImmediateBackend)

__all__ = ["FRAMEWORK", "IMMEDIATE_BACKENDS", "task", "task_backends"]
