"""Background work: which task backend runs it, that it runs only once the response is sent,
and that delivering a challenge is safe to run twice (task backends retry)."""

from __future__ import annotations

import logging
from datetime import timedelta
from smtplib import SMTPException

import pytest
from django.http import HttpResponse
from wagtail.models import PageLogEntry

from tests.factories import make_page
from tests.task_settings import DUMMY, IMMEDIATE, task_backends
from wagtail_member_access import api, emails, tasks, tokens
from wagtail_member_access.models import EmailChallenge, EmailSend

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_backend(settings):
    """A second task backend, "mail", that records tasks without running them."""
    settings.TASKS = {"default": IMMEDIATE, "mail": DUMMY}
    settings.WAGTAIL_MEMBER_ACCESS_TASK_BACKEND = "mail"
    return task_backends["mail"]


@pytest.fixture
def challenge(protected_page, buyer):
    return tokens.start_challenge("ana@example.com", protected_page)


# --- which backend ---------------------------------------------------------------------------


def test_enqueue_uses_the_configured_backend_alias(mail_backend, challenge, mailoutbox):
    tasks.enqueue(tasks.deliver_challenge, challenge.pk)
    [result] = mail_backend.results
    assert result.task.name == "deliver_challenge"
    assert result.args == [challenge.pk]
    assert result.backend == "mail"
    assert mailoutbox == []  # the default (immediate) backend ran nothing


def test_enqueue_uses_the_default_backend_unless_configured(settings, challenge):
    settings.TASKS = {"default": DUMMY}
    tasks.enqueue(tasks.deliver_challenge, challenge.pk)
    assert [r.backend for r in task_backends["default"].results] == ["default"]


def test_access_ready_email_goes_through_the_configured_backend(
    mail_backend, course, protected_page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        grant = api.grant_access("ana@example.com", course, notify=True)
    [result] = mail_backend.results
    [send] = EmailSend.objects.all()  # the idempotency record of this one email
    assert (result.task.name, result.args) == ("deliver_send", [send.pk])
    assert (send.kind, send.grant_id, send.email) == ("access_ready", grant.pk, grant.email)
    assert mailoutbox == []


def test_the_immediate_backend_runs_the_task_at_once(settings, challenge, mailoutbox):
    settings.TASKS = {"default": IMMEDIATE}
    tasks.enqueue(tasks.deliver_challenge, challenge.pk)
    assert [m.to for m in mailoutbox] == [["ana@example.com"]]


# --- after the response ------------------------------------------------------------------------


def test_enqueue_after_response_waits_for_the_response_to_be_closed(mail_backend, challenge):
    response = HttpResponse("sent")
    tasks.enqueue_after_response(response, tasks.deliver_challenge, challenge.pk)
    assert mail_backend.results == []
    response.close()
    assert [r.args for r in mail_backend.results] == [[challenge.pk]]


def test_enqueue_after_response_runs_once_per_call(mail_backend, challenge, buyer, home):
    response = HttpResponse("sent")
    tasks.enqueue_after_response(response, tasks.deliver_challenge, challenge.pk)
    tasks.enqueue_after_response(response, tasks.send_access_ready, buyer.pk)
    response.close()
    assert [(r.task.name, r.args) for r in mail_backend.results] == [
        ("deliver_challenge", [challenge.pk]),
        ("send_access_ready", [buyer.pk]),
    ]


# --- deliver_challenge -------------------------------------------------------------------------


def test_delivering_twice_sends_one_email(challenge, mailoutbox):
    tasks.deliver_challenge.call(challenge.pk)
    challenge.refresh_from_db()
    issued = (challenge.code_hash, challenge.issued_at)
    tasks.deliver_challenge.call(challenge.pk)
    assert len(mailoutbox) == 1
    challenge.refresh_from_db()
    assert (challenge.code_hash, challenge.issued_at) == issued


def test_cancelled_challenge_is_not_delivered(challenge, mailoutbox):
    tokens.cancel(challenge, EmailChallenge.CancelReason.REPLACED)
    tasks.deliver_challenge.call(challenge.pk)
    assert mailoutbox == []
    challenge.refresh_from_db()
    assert (challenge.code_hash, challenge.issued_at) == ("", None)
    assert challenge.cancel_reason == "replaced"


def test_vanished_challenge_is_ignored(mailoutbox):
    tasks.deliver_challenge.call(987654)
    assert mailoutbox == []


def test_challenge_whose_page_was_deleted_is_ignored(protected_page, buyer, mailoutbox):
    challenge = tokens.start_challenge("ana@example.com", protected_page)
    EmailChallenge.objects.filter(pk=challenge.pk).update(page=None)
    tasks.deliver_challenge.call(challenge.pk)
    assert mailoutbox == []


def test_email_without_access_is_cancelled_quietly(protected_page, mailoutbox, caplog):
    challenge = tokens.start_challenge("nobody@example.com", protected_page)
    with caplog.at_level(logging.INFO, logger="wagtail_member_access"):
        tasks.deliver_challenge.call(challenge.pk)
    assert mailoutbox == []
    challenge.refresh_from_db()
    assert (challenge.cancel_reason, challenge.code_hash) == ("not_eligible", "")
    assert caplog.messages == ["No unlock email sent to n*****@example.com: no access."]


def test_a_refused_recipient_is_recorded_with_the_address_masked(challenge, monkeypatch):
    # SMTPRecipientsRefused names the address: the record keeps the reason, not the address.
    from smtplib import SMTPRecipientsRefused

    def refuse(*args, **kwargs):
        raise SMTPRecipientsRefused({"ana@example.com": (550, b"5.1.1 <ana@example.com> unknown")})

    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", refuse)
    with pytest.raises(tasks.EmailNotSent):
        tasks.deliver_challenge.call(challenge.pk)
    challenge.refresh_from_db()
    assert challenge.send_error.startswith("SMTPRecipientsRefused: ")
    assert "a**@example.com" in challenge.send_error and "550" in challenge.send_error
    assert "ana@" not in challenge.send_error


def test_mail_server_failure_is_recorded_raised_and_retried_later(
    challenge, mailoutbox, monkeypatch, caplog, clock
):
    real_send = emails.EmailMultiAlternatives.send
    down = [True]

    def fail(self, *args, **kwargs):
        if down[0]:
            raise SMTPException("connection refused")
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", fail)
    with (
        caplog.at_level(logging.ERROR, logger="wagtail_member_access"),
        pytest.raises(tasks.EmailNotSent) as raised,
    ):
        tasks.deliver_challenge.call(challenge.pk)
    # Raised, so the task backend records the task as failed, never as successful.
    assert str(raised.value) == (
        f"Challenge {challenge.pk}: attempt 1 failed (SMTPException: connection refused); "
        f"next attempt at {(clock.now + timedelta(seconds=30)).isoformat()}."
    )
    challenge.refresh_from_db()
    assert challenge.send_error == "SMTPException: connection refused"
    assert (challenge.cancel_reason, challenge.code_hash, challenge.sent_at) == ("", "", None)
    assert caplog.messages == [
        "Could not send the unlock_code email to a**@example.com (SMTPException)."
    ]
    # Editors see it in the page's history (docs/security.md#mail-failures).
    entry = PageLogEntry.objects.get(action="wagtail_member_access.send_failed")
    assert entry.page_id == challenge.page_id
    assert entry.data["email"] == "a**@example.com"
    down[0] = False  # the mail server is back
    tasks.deliver_challenge.call(challenge.pk)  # too early: the back-off has not run out
    assert mailoutbox == []
    clock.advance(seconds=30)
    tasks.deliver_challenge.call(challenge.pk)
    [message] = mailoutbox
    challenge.refresh_from_db()
    assert (challenge.send_attempts, challenge.sent_at) == (2, clock.now)
    tasks.deliver_challenge.call(challenge.pk)  # sent: a retry never sends twice
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    ("mode", "subject"),
    [
        ("code", r"Your code for Lesson: \d{6}"),
        ("link", r"Your link to Lesson"),
        ("code_or_link", r"Your code for Lesson: \d{6}"),
    ],
)
def test_the_email_kind_follows_the_page_mode(home, course, buyer, mailoutbox, mode, subject):
    import re

    page = make_page(home, title="Lesson", slug="lesson")
    api.protect(page, mode=mode, access_lists=[course])
    challenge = tokens.start_challenge("ana@example.com", page)
    tasks.deliver_challenge.call(challenge.pk)
    [message] = mailoutbox
    assert re.fullmatch(subject, message.subject)
    challenge.refresh_from_db()
    assert bool(challenge.code_hash) is (mode != "link")
    assert bool(challenge.link_hash) is (mode != "code")
    assert ("http://localhost/access/link/" in message.body) is (mode != "code")


# --- send_access_ready ---------------------------------------------------------------------


def test_access_ready_is_not_sent_for_a_vanished_or_revoked_grant(
    protected_page, buyer, course, mailoutbox
):
    tasks.send_access_ready.call(987654)
    api.revoke_access("ana@example.com", course)
    tasks.send_access_ready.call(buyer.pk)
    assert mailoutbox == []


def test_access_ready_for_a_list_that_protects_nothing_names_the_default_site(
    course, buyer, mailoutbox
):
    tasks.send_access_ready.call(buyer.pk)
    [message] = mailoutbox
    assert "You now have access to Course A on localhost." in message.body
