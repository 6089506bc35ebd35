"""Sending emails from the background task: one attempt at a time, retries with back-off from
our own record (the code or link request; an ``EmailSend`` for the access email, bulk emails
and reminders), lost sends found again, failed for good after ``SEND_RETRIES``, shown to
editors, and the visitor told honestly (docs/security.md#mail-retries)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from wagtail.models import ModelLogEntry, PageLogEntry

from tests.admin.conftest import editor_with
from wagtail_member_access import api, bulk, grants, sends, tasks, tokens
from wagtail_member_access.models import EmailChallenge, EmailSend

pytestmark = pytest.mark.django_db


@pytest.fixture
def challenge(protected_page, buyer):
    return tokens.start_challenge("ana@example.com", protected_page)


def attempt(challenge_id):
    """Run the task as a worker would: a failure is raised (the backend records it)."""
    try:
        tasks.deliver_challenge.call(challenge_id)
    except tasks.EmailNotSent:
        return False
    return True


# --- claim: one attempt at a time -----------------------------------------------------------


def test_claim_lets_one_attempt_through_until_its_lease_runs_out(challenge, clock):
    first = sends.claim(challenge.pk)
    assert (first.send_attempts, first.next_attempt_at) == (1, clock.now + timedelta(minutes=5))
    assert sends.claim(challenge.pk) is None  # a duplicate task while the first one sends
    clock.advance(minutes=5)  # the worker was killed: the lease ran out
    again = sends.claim(challenge.pk)
    assert again.send_attempts == 2


def test_claim_refuses_sent_cancelled_and_redeemed_challenges(protected_page, buyer):
    for field in ("sent_at", "cancelled_at", "redeemed_at"):
        challenge = tokens.start_challenge(f"{field}@example.com", protected_page)
        EmailChallenge.objects.filter(pk=challenge.pk).update(**{field: challenge.created_at})
        assert sends.claim(challenge.pk) is None, field


def test_claim_forgets_the_code_of_an_earlier_attempt(challenge, clock):
    sends.claim(challenge.pk)
    issued = tokens.issue_code(challenge)
    clock.advance(minutes=5)  # killed after issuing, perhaps after sending
    sends.claim(challenge.pk)
    result = tokens.redeem_code(challenge.pk, challenge.page, issued)
    assert result.outcome is tokens.Outcome.WRONG


# --- retries with back-off, then failed for good ---------------------------------------------


def test_failed_sends_are_retried_with_doubling_back_off_then_given_up(
    challenge, mail_down, clock, settings, mailoutbox
):
    settings.WAGTAIL_MEMBER_ACCESS_SEND_RETRIES = 3
    waits = []
    for _ in range(4):
        assert attempt(challenge.pk) is False
        challenge.refresh_from_db()
        if challenge.cancelled_at:
            break
        waits.append((challenge.next_attempt_at - clock.now).total_seconds())
        assert attempt(challenge.pk) is True  # too early: nothing happens, nothing raised
        clock.advance(seconds=waits[-1])
    assert waits == [30, 60, 120]
    assert challenge.send_attempts == 4
    assert challenge.cancel_reason == EmailChallenge.CancelReason.SEND_FAILED
    assert challenge.send_error == "SMTPException: connection refused"
    assert PageLogEntry.objects.filter(action="wagtail_member_access.send_failed").count() == 4
    entry = PageLogEntry.objects.get(action="wagtail_member_access.send_gave_up")
    assert entry.page_id == challenge.page_id
    assert entry.data == {"purpose": "unlock", "email": "a**@example.com", "attempts": 4}
    assert entry.message == (
        "Unlock a page or document email to a**@example.com not sent after 4 attempts: gave up"
    )
    mail_down.back()
    clock.advance(hours=1)
    assert attempt(challenge.pk) is True
    assert mailoutbox == []  # failed for good stays failed
    assert tasks.requeue_due_sends() == {"enqueued": 0, "stale_tasks": 0}


def test_the_retry_is_enqueued_with_run_after_on_a_backend_that_can_defer(
    challenge, mail_down, settings, clock
):
    from tests.task_settings import DUMMY, task_backends

    settings.TASKS = {"default": DUMMY}
    backend = task_backends["default"]
    backend.supports_defer = True  # as django-tasks-db's DatabaseBackend
    try:
        assert attempt(challenge.pk) is False
        [result] = backend.results
    finally:
        backend.supports_defer = False
    assert result.task.name == "deliver_challenge"
    assert result.args == [challenge.pk]
    assert result.task.run_after == clock.now + timedelta(seconds=30)


# --- the periodic job: due sends found again -------------------------------------------------


def test_due_lists_lost_failed_and_killed_sends_only(protected_page, buyer, clock):
    def make(email, **state):
        challenge = tokens.start_challenge(email, protected_page)
        EmailChallenge.objects.filter(pk=challenge.pk).update(**state)
        return challenge.pk

    now = clock.now
    lost = make("lost@example.com", created_at=now - timedelta(minutes=6))
    failed = make("failed@example.com", send_attempts=1, next_attempt_at=now)
    killed = make("killed@example.com", send_attempts=1, next_attempt_at=now - timedelta(seconds=1))
    make("young@example.com")  # the task may still be on its way
    make("waiting@example.com", send_attempts=1, next_attempt_at=now + timedelta(seconds=5))
    make("sent@example.com", send_attempts=1, sent_at=now, next_attempt_at=now)
    make("old@example.com", created_at=now - timedelta(days=1, seconds=1))
    assert sorted(sends.due()) == sorted([lost, failed, killed])


def test_the_retry_command_sends_what_is_due(challenge, clock, mailoutbox):
    clock.advance(minutes=6)  # enqueued, but no worker ever ran the task
    call_command("member_access_retry", stdout=(out := __import__("io").StringIO()))
    assert out.getvalue() == "emails enqueued again: 1\nstale task rows marked failed: 0\n"
    [message] = mailoutbox
    assert message.to == ["ana@example.com"]
    challenge.refresh_from_db()
    assert challenge.sent_at == clock.now
    assert tasks.retry_sends.call() == {"enqueued": 0, "stale_tasks": 0}


# --- the visitor: honest, neutral, "send again" at once ---------------------------------------


def request_url(page):
    return reverse("wagtail_member_access:request_code", args=[page.pk])


@pytest.mark.parametrize("address", ["ana@example.com", "nobody@example.com"])
def test_while_mail_fails_every_visitor_reads_not_sent_yet_and_may_ask_again(
    client, protected_page, buyer, mail_down, address
):
    sends.mail_failed()  # a send failed a moment ago (for anyone)
    client.post(request_url(protected_page), {"email": address, "next": protected_page.url})
    html = client.get(protected_page.url).content.decode()
    assert (
        "We could not send emails just now: the email is not sent yet. If "
        f"<strong>{address}</strong> has access, we will keep trying to send it." in html
    )
    assert "we have sent it" not in html
    assert "possible again" not in html
    # No cooldown while mail fails: a new request is made at once.
    client.post(request_url(protected_page), {"email": address, "next": protected_page.url})
    assert EmailChallenge.objects.filter(email=address).count() == 2


def test_a_successful_send_ends_the_mail_down_state(challenge, mailoutbox):
    sends.mail_failed()
    assert sends.mail_down() is True
    assert attempt(challenge.pk) is True
    assert sends.mail_down() is False


def test_the_failure_sets_the_mail_down_state(challenge, mail_down):
    assert attempt(challenge.pk) is False
    assert sends.mail_down() is True


# --- the editors' report ------------------------------------------------------------------------


def test_the_delivery_report_lists_failed_sends_with_their_state(
    client, protected_page, buyer, clock
):
    def make(email, **state):
        challenge = tokens.start_challenge(email, protected_page)
        rows = EmailChallenge.objects.filter(pk=challenge.pk)
        rows.update(send_error="SMTPException: x", **state)

    make("retrying@example.com", send_attempts=1)
    make("sent@example.com", send_attempts=2, sent_at=clock.now)
    make("failed@example.com", send_attempts=6, cancelled_at=clock.now, cancel_reason="send_failed")
    tokens.start_challenge("fine@example.com", protected_page)
    client.force_login(editor_with("view_grant"))
    url = reverse("wagtail_member_access_deliveries")
    html = client.get(url).content.decode()
    for email, status in [
        ("retrying@example.com", "Retrying"),
        ("sent@example.com", "Sent after a retry"),
        ("failed@example.com", "Failed for good"),
    ]:
        assert email in html and status in html
    assert "fine@example.com" not in html
    csv = b"".join(client.get(url + "?export=csv").streaming_content).decode()
    assert csv.splitlines()[0] == "Requested,Email,Purpose,Attempts,Status,Last error"
    assert len(csv.splitlines()) == 4


def test_the_delivery_report_needs_the_view_grant_permission(client):
    client.force_login(editor_with("view_accesslist"))
    response = client.get(reverse("wagtail_member_access_deliveries"))
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")


# --- emails without a code: the access email (EmailSend) ------------------------------------------


def test_the_access_email_is_retried_with_back_off_and_sent_once(
    course, protected_page, mail_down, clock, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the immediate backend runs it
        grant = api.grant_access("ana@example.com", course, notify=True)
    [send] = EmailSend.objects.all()
    assert (send.kind, send.grant_id, send.send_attempts) == ("access_ready", grant.pk, 1)
    assert send.send_error == "SMTPException: connection refused"
    assert send.next_attempt_at == clock.now + timedelta(seconds=30)
    assert ModelLogEntry.objects.filter(action="wagtail_member_access.send_failed").count() == 1
    with pytest.raises(tasks.EmailNotSent) as raised:  # the worker records the task failed
        clock.advance(seconds=30)
        tasks.deliver_send.call(send.pk)
    assert str(raised.value) == (
        f"Email send {send.pk}: attempt 2 failed (SMTPException: connection refused); "
        f"next attempt at {(clock.now + timedelta(seconds=60)).isoformat()}."
    )
    mail_down.back()
    clock.advance(seconds=60)
    assert tasks.requeue_due_sends() == {"enqueued": 1, "stale_tasks": 0}
    [message] = mailoutbox
    assert message.to == ["ana@example.com"]
    send.refresh_from_db()
    assert (send.sent_at, send.send_attempts) == (clock.now, 3)
    # A duplicate or late task after the success sends nothing.
    tasks.deliver_send.call(send.pk)
    tasks.send_access_ready.call(grant.pk)  # a task enqueued before the upgrade: a new email
    assert len(mailoutbox) == 2
    clock.advance(hours=1)
    assert tasks.requeue_due_sends()["enqueued"] == 0
    assert len(mailoutbox) == 2


def test_the_access_email_of_a_revoked_grant_is_not_retried(course, mail_down, clock, mailoutbox):
    grant = api.grant_access("ana@example.com", course)
    tasks.enqueue_access_ready(grant.pk)
    [send] = EmailSend.objects.all()
    grants.revoke("ana@example.com", course)
    mail_down.back()
    clock.advance(seconds=30)
    assert tasks.requeue_due_sends()["enqueued"] == 1
    send.refresh_from_db()
    assert (send.sent_at, send.cancel_reason) == (None, "not_eligible")
    assert mailoutbox == []


def test_the_access_email_given_up_is_in_the_grant_history(course, mail_down, settings):
    settings.WAGTAIL_MEMBER_ACCESS_SEND_RETRIES = 0
    grant = api.grant_access("ana@example.com", course)
    tasks.enqueue_access_ready(grant.pk)
    entry = ModelLogEntry.objects.get(action="wagtail_member_access.send_gave_up")
    assert entry.object_id == str(grant.pk)
    assert (
        entry.message == "Access email email to a**@example.com not sent after 1 attempts: gave up"
    )


def test_the_delivery_report_lists_access_bulk_and_reminder_emails_too(
    client, course, protected_page, clock
):
    grant = api.grant_access("ana@example.com", course)
    job = bulk.start("sign_in_link", ["ben@example.com"])
    now = clock.now
    refused = {"send_error": "SMTPException: refused"}
    for kind, email, about, state in [
        ("access_ready", "ana", {"grant": grant}, {"send_attempts": 1, "next_attempt_at": now}),
        ("bulk", "ben", {"job": job}, {"send_attempts": 6, "cancelled_at": now}),
        ("expiry_reminder", "cem", {"grant": grant}, {"send_attempts": 2, "sent_at": now}),
    ]:
        EmailSend.objects.create(
            kind=kind, key=kind, email=f"{email}@example.com", **about, **state, **refused
        )
    EmailSend.objects.filter(kind="bulk").update(cancel_reason="send_failed")
    EmailSend.objects.create(kind="bulk", key="d", email="fine@example.com", sent_at=clock.now)
    challenge = tokens.start_challenge("dora@example.com", protected_page)
    EmailChallenge.objects.filter(pk=challenge.pk).update(send_error="x", send_attempts=1)
    client.force_login(editor_with("view_grant"))
    url = reverse("wagtail_member_access_deliveries")
    html = client.get(url).content.decode()
    for email, purpose, status in [
        ("ana@example.com", "Access email", "Retrying"),
        ("ben@example.com", "Bulk email", "Failed for good"),
        ("cem@example.com", "Expiry reminder", "Sent after a retry"),
        ("dora@example.com", "Unlock a page or document", "Retrying"),
    ]:
        row = re.search(rf"<tr>((?:(?!</tr>).)*{re.escape(email)}(?:(?!</tr>).)*)</tr>", html, re.S)
        assert row, email
        assert purpose in row.group(1) and status in row.group(1), row.group(1)
    assert "fine@example.com" not in html
    assert "4 refused emails" in html
    # Searched and sorted in the database, across both kinds of record.
    searched = client.get(url + "?q=ben").content.decode()
    assert "ben@example.com" in searched and "ana@example.com" not in searched
    ordered = client.get(url + "?ordering=address").content.decode()
    positions = [ordered.index(f"{name}@example.com") for name in ("ana", "ben", "cem", "dora")]
    assert positions == sorted(positions)
    csv = b"".join(client.get(url + "?export=csv").streaming_content).decode()
    assert len(csv.splitlines()) == 5
    assert "expiry_reminder" in csv
