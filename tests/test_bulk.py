"""Bulk emails to many members (``bulk.py``): who gets what, counts, throttling, run once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import HttpResponse
from django.utils import timezone
from wagtail.models import ModelLogEntry

from tests.factories import UserFactory
from tests.task_settings import DUMMY
from wagtail_member_access import api, bulk, emails, tasks
from wagtail_member_access.models import BulkEmailJob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    """Record the pauses between emails instead of sleeping."""
    pauses = []
    monkeypatch.setattr(bulk.time, "sleep", pauses.append)
    return pauses


@pytest.fixture
def members(course, protected_page):
    for name in ("ana", "ben", "cem"):
        api.grant_access(f"{name}@example.com", course, name=name.title())
    return ["ana@example.com", "ben@example.com", "cem@example.com"]


def start_and_send(kind, emails_, **kwargs):
    """Record a job and enqueue its sending, as the admin does."""
    job = bulk.start(kind, emails_, **kwargs)
    tasks.enqueue(tasks.send_bulk_email, job.pk)
    return job


def recipients_of(mailoutbox):
    return sorted(to for message in mailoutbox for to in message.to)


def test_start_normalises_and_deduplicates_in_order(members, course, settings):
    settings.TASKS = {"default": DUMMY}
    job = bulk.start("reset", [" Ben@Example.com", "ben@example.com", "ANA@example.com"])
    assert job.recipients == ["ben@example.com", "ana@example.com"]
    assert (job.total, job.sent, job.failed, job.started_at) == (2, 0, 0, None)


@pytest.mark.parametrize(
    ("kind", "emails_", "kwargs", "message"),
    [
        ("spam", ["ana@example.com"], {}, "Unknown bulk email kind 'spam'."),
        ("reset", [], {}, "Select at least one member."),
        ("access_ready", ["ana@example.com"], {}, "An access email needs the access list."),
        ("reset", ["ana@example.com", "not an email"], {}, "Enter a valid email address."),
    ],
)
def test_start_refuses_bad_input_and_records_nothing(members, kind, emails_, kwargs, message):
    with pytest.raises(ValidationError) as excinfo:
        bulk.start(kind, emails_, **kwargs)
    assert excinfo.value.messages == [message]
    assert not BulkEmailJob.objects.exists()


def test_access_emails_go_to_each_grant_and_count(members, course, mailoutbox):
    job = start_and_send("access_ready", [*members, "nobody@example.com"], access_list=course)
    job.refresh_from_db()
    assert (job.total, job.sent, job.failed) == (4, 3, 1)
    assert job.errors == [{"email": "nobody@example.com", "reason": bulk.NO_GRANT}]
    assert job.finished_at is not None
    assert recipients_of(mailoutbox) == members


def test_password_resets_skip_staff_and_unknown_addresses(members, mailoutbox):
    UserFactory(username="boss", email="boss@example.com", is_staff=True)
    job = start_and_send("reset", ["ana@example.com", "boss@example.com", "who@example.com"])
    job.refresh_from_db()
    assert (job.sent, job.failed) == (1, 2)
    assert job.errors == [
        {"email": "boss@example.com", "reason": bulk.NOT_ELIGIBLE},
        {"email": "who@example.com", "reason": bulk.NOT_ELIGIBLE},
    ]
    assert recipients_of(mailoutbox) == ["ana@example.com"]


def test_sign_in_links_and_invitations_are_sent(members, mailoutbox):
    start_and_send("sign_in_link", members[:2])
    start_and_send("invite", members[2:])
    jobs = BulkEmailJob.objects.order_by("pk")
    assert [(j.kind, j.sent, j.failed) for j in jobs] == [("sign_in_link", 2, 0), ("invite", 1, 0)]
    assert recipients_of(mailoutbox) == members


def test_one_mail_failure_does_not_stop_the_others(members, mailoutbox, monkeypatch):
    real = emails.EmailMultiAlternatives.send

    def send(message, *args, **kwargs):
        if message.to == ["ben@example.com"]:
            raise ConnectionRefusedError("mail server down")
        return real(message, *args, **kwargs)

    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", send)
    job = start_and_send("sign_in_link", members)
    job.refresh_from_db()
    assert (job.sent, job.failed) == (2, 1)
    assert job.errors == [{"email": "ben@example.com", "reason": bulk.SEND_FAILED}]
    assert recipients_of(mailoutbox) == ["ana@example.com", "cem@example.com"]


def test_sending_pauses_between_emails(members, settings, no_pause):
    settings.WAGTAIL_MEMBER_ACCESS_BULK_EMAIL_INTERVAL = 1.5
    start_and_send("sign_in_link", members)
    assert no_pause == [1.5, 1.5]  # between three emails, not before the first


def test_a_job_runs_once_even_if_the_task_is_delivered_twice(members, mailoutbox):
    job = start_and_send("sign_in_link", members)
    bulk.run(job.pk)
    job.refresh_from_db()
    assert (job.sent, job.failed) == (3, 0)
    assert len(mailoutbox) == 3


def test_resume_sends_the_rest_of_a_job_that_stopped(members, mailoutbox, settings):
    settings.TASKS = {"default": DUMMY}
    job = start_and_send("sign_in_link", members)
    # A worker sent the first email, then died.
    BulkEmailJob.objects.filter(pk=job.pk).update(started_at=timezone.now(), sent=1)
    bulk.run(job.pk)  # claimed already: does nothing
    assert mailoutbox == []
    bulk.resume(job.pk)
    job.refresh_from_db()
    assert (job.sent, job.failed, bool(job.finished_at)) == (3, 0, True)
    assert recipients_of(mailoutbox) == members[1:]
    bulk.resume(job.pk)  # finished: nothing more
    assert len(mailoutbox) == 2


def test_the_result_is_in_the_audit_log(members, course):
    editor = UserFactory(username="editor", is_staff=True)
    job = start_and_send("access_ready", members, access_list=course, by=editor)
    entry = ModelLogEntry.objects.get(action="wagtail_member_access.bulk_email")
    assert entry.user == editor
    assert entry.object_id == str(job.pk)
    assert entry.data == {
        "kind": "access_ready",
        "sent": 3,
        "failed": 0,
        "total": 3,
        "list": "Course A",
    }
    assert entry.message == "Access email emails: 3 sent, 0 failed of 3"


def test_from_a_view_the_sending_waits_for_the_response(members, mailoutbox):
    response = HttpResponse()
    job = bulk.start("sign_in_link", members)
    tasks.enqueue_after_response(response, tasks.send_bulk_email, job.pk)
    assert mailoutbox == []
    job.refresh_from_db()
    assert job.started_at is None
    # Closing a response also sends request_finished, whose close_old_connections() would
    # close the test's database connection on PostgreSQL; Django's test client disconnects
    # it around requests in the same way.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    job.refresh_from_db()
    assert (job.sent, len(mailoutbox)) == (3, 3)


def test_recipients_of_list_are_its_active_grants(members, course):
    api.revoke_access("ben@example.com", course)
    assert bulk.recipients_of_list(course) == ["ana@example.com", "cem@example.com"]
    assert bulk.recipients_of_list(course, active_only=False) == members
