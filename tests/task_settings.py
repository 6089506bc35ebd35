"""Task backend settings for the tests, on whichever tasks framework this Django uses
(``django.tasks`` on Django 6, the ``django-tasks`` backport on 5.2; see
``wagtail_member_access.task_framework``)."""

from __future__ import annotations

from wagtail_member_access.task_framework import FRAMEWORK, task_backends

__all__ = ["DUMMY", "IMMEDIATE", "task_backends"]

# Runs each task in the calling process as soon as it is enqueued.
IMMEDIATE = {"BACKEND": f"{FRAMEWORK}.backends.immediate.ImmediateBackend"}
# Records each enqueued task in ``task_backends[alias].results`` without running it.
DUMMY = {"BACKEND": f"{FRAMEWORK}.backends.dummy.DummyBackend"}
