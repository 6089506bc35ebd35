"""Bulk emails to many members (``bulk.py``): who gets what, counts, throttling, run once."""

from __future__ import annotations

from datetime import timedelta

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
from wagtail_member_access.models import BulkEmailJob, EmailSend

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
    assert job.errors == [{"email": "ben@example.com", "reason": bulk.SEND_RETRYING}]
    assert recipients_of(mailoutbox) == ["ana@example.com", "cem@example.com"]


# --- failed recipients: retried with back-off, never sent twice ----------------------------------


def bens_send():
    return EmailSend.objects.get(kind="bulk", email="ben@example.com")


@pytest.mark.parametrize("kind", ["access_ready", "sign_in_link", "reset", "invite"])
def test_a_failed_recipient_is_retried_with_back_off_and_then_counted_sent(
    members, course, mailoutbox, mail_down, clock, kind
):
    mail_down.only = {"ben@example.com"}
    job = bulk.start(kind, members, access_list=course)
    with pytest.raises(tasks.EmailNotSent) as raised:  # the backend records the task failed
        tasks.send_bulk_email.call(job.pk)
    send = bens_send()
    assert str(raised.value).startswith(f"Bulk email send {send.pk}: attempt 1 failed (")
    job.refresh_from_db()
    assert (job.sent, job.failed, bool(job.finished_at)) == (2, 1, True)
    assert job.errors == [{"email": "ben@example.com", "reason": bulk.SEND_RETRYING}]
    assert (send.send_attempts, send.next_attempt_at) == (1, clock.now + timedelta(seconds=30))
    tasks.deliver_send.call(send.pk)  # a duplicate task before the back-off is over: nothing
    assert bens_send().send_attempts == 1
    mail_down.back()
    clock.advance(seconds=30)
    assert tasks.requeue_due_sends() == {"enqueued": 1, "stale_tasks": 0}
    job.refresh_from_db()
    assert (job.sent, job.failed, job.errors) == (3, 0, [])
    assert recipients_of(mailoutbox) == members
    # Run again, delivered again, resumed, retried: nobody gets a second email.
    bulk.run(job.pk)
    bulk.resume(job.pk)
    tasks.deliver_send.call(bens_send().pk)
    clock.advance(hours=1)
    assert tasks.requeue_due_sends()["enqueued"] == 0
    assert recipients_of(mailoutbox) == members
    job.refresh_from_db()
    assert (job.sent, job.failed) == (3, 0)


def test_a_recipient_given_up_is_failed_for_good_in_the_job_and_its_history(
    members, mailoutbox, mail_down, clock, settings
):
    settings.WAGTAIL_MEMBER_ACCESS_SEND_RETRIES = 1
    mail_down.only = {"ben@example.com"}
    job = bulk.start("sign_in_link", members)
    with pytest.raises(tasks.EmailNotSent):
        tasks.send_bulk_email.call(job.pk)
    clock.advance(seconds=30)
    with pytest.raises(tasks.EmailNotSent) as raised:
        tasks.deliver_send.call(bens_send().pk)
    assert str(raised.value).endswith("; no attempts left.")
    job.refresh_from_db()
    assert (job.sent, job.failed) == (2, 1)
    assert job.errors == [{"email": "ben@example.com", "reason": bulk.SEND_FAILED}]
    [gave_up] = ModelLogEntry.objects.filter(action="wagtail_member_access.send_gave_up")
    assert gave_up.object_id == str(job.pk)
    assert (
        gave_up.message == "Bulk email email to b**@example.com not sent after 2 attempts: gave up"
    )
    mail_down.back()
    clock.advance(hours=1)
    assert tasks.requeue_due_sends()["enqueued"] == 0
    assert recipients_of(mailoutbox) == ["ana@example.com", "cem@example.com"]


def test_resume_after_a_crash_between_sending_and_counting_sends_nobody_twice(
    members, mailoutbox, settings
):
    settings.TASKS = {"default": DUMMY}
    job = start_and_send("sign_in_link", members)
    bulk.run(job.pk)
    assert len(mailoutbox) == 3
    # The worker died after sending to ben, before counting him: the counts say one sent.
    BulkEmailJob.objects.filter(pk=job.pk).update(sent=1, finished_at=None)
    bulk.resume(job.pk)
    job.refresh_from_db()
    assert (job.sent, job.failed, bool(job.finished_at)) == (3, 0, True)
    assert len(mailoutbox) == 3


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
