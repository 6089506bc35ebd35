"""Expiry (expiry.py, ``manage.py member_access_expire``, the ``record_expiries`` task): access
ends exactly at ``expires_at``; reminders go out once, N days ahead, and are retried after a
mail failure; every passed expiry is recorded once, with an audit-log entry and a signal."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from smtplib import SMTPException

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import translation
from django.utils.functional import Promise
from wagtail.models import ModelLogEntry

from tests.factories import GrantFactory, UserFactory, make_page
from tests.task_settings import IMMEDIATE
from wagtail_member_access import api, emails, expiry, grants, log_actions, tasks
from wagtail_member_access.models import EmailSend, Grant
from wagtail_member_access.signals import access_expired

pytestmark = pytest.mark.django_db


@pytest.fixture
def reminders(settings):
    settings.WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS = 7


@pytest.fixture
def expired_signals():
    received = []

    def receiver(sender, grant, **kwargs):
        received.append(grant.pk)

    access_expired.connect(receiver)
    yield received
    access_expired.disconnect(receiver)


def grant(course, clock, email="ana@example.com", **kwargs) -> Grant:
    kwargs.setdefault("name", "Ana")
    return GrantFactory(access_list=course, email=email, **kwargs)


def entries(action: str) -> list[ModelLogEntry]:
    return list(ModelLogEntry.objects.filter(action=action).order_by("pk"))


# --- access ends exactly at expires_at ---------------------------------------------------------


def test_access_ends_exactly_at_expires_at(client, protected_page, course, clock):
    user = UserFactory(username="ana", email="ana@example.com")
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(hours=1))
    client.force_login(user)
    clock.advance(hours=1, microseconds=-1)
    assert api.can_view(user, protected_page)
    response = client.get(protected_page.url)
    assert b"Secret body of Members lesson" in response.content
    clock.advance(microseconds=1)
    assert not api.can_view(user, protected_page)
    response = client.get(protected_page.url)
    assert b"Secret body of Members lesson" not in response.content
    # Without any expiry run: the decision compares the time of each request.
    assert Grant.objects.get().expiry_recorded_at is None


# --- recording expiries --------------------------------------------------------------------------


def test_a_passed_expiry_is_recorded_once(
    course, clock, expired_signals, django_capture_on_commit_callbacks
):
    g = grant(course, clock, expires_at=clock.now + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.run().expired == []
    clock.advance(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        report = expiry.run()
    assert report.expired == [(g.pk, "a**@example.com", "Course A")]
    g.refresh_from_db()
    assert g.expiry_recorded_at == clock.now
    assert expired_signals == [g.pk]
    (entry,) = entries(log_actions.EXPIRE)
    assert entry.object_id == str(g.pk)
    assert entry.user is None
    assert entry.data["email"] == "ana@example.com"
    assert entry.data["list"] == "Course A"
    assert entry.message == "Access of ana@example.com on “Course A” expired"
    clock.advance(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.run().expired == []
    assert expired_signals == [g.pk]
    assert len(entries(log_actions.EXPIRE)) == 1


def test_what_is_not_recorded(course, clock):
    grant(course, clock, email="unlimited@example.com", expires_at=None)
    grant(course, clock, email="running@example.com", expires_at=clock.now + timedelta(seconds=1))
    grant(
        course,
        clock,
        email="revoked@example.com",
        expires_at=clock.now - timedelta(days=1),
        revoked_at=clock.now - timedelta(days=2),
    )
    grant(
        course,
        clock,
        email="recorded@example.com",
        expires_at=clock.now - timedelta(days=1),
        expiry_recorded_at=clock.now - timedelta(hours=1),
    )
    assert expiry.run().expired == []
    assert entries(log_actions.EXPIRE) == []


def test_an_extended_grant_is_recorded_again_at_its_new_expiry(
    course, clock, expired_signals, django_capture_on_commit_callbacks
):
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(days=1))
    clock.advance(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        expiry.run()
    # A new period (grants.grant clears the marks when the expiry changes).
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(days=1))
    assert Grant.objects.get().expiry_recorded_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.run().expired == []
    clock.advance(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(expiry.run().expired) == 1
    assert len(expired_signals) == 2


def test_no_signal_when_the_run_rolls_back(course, clock, expired_signals):
    from django.db import transaction

    grant(course, clock, expires_at=clock.now - timedelta(minutes=1))
    with pytest.raises(RuntimeError), transaction.atomic():
        expiry.run()
        raise RuntimeError
    assert expired_signals == []
    assert Grant.objects.get().expiry_recorded_at is None


def test_many_expiries_in_several_chunks_over_several_lists(course, clock, monkeypatch):
    from tests.factories import AccessListFactory

    monkeypatch.setattr(expiry, "CHUNK_SIZE", 3)
    other = AccessListFactory()
    for i in range(7):
        grant(course, clock, email=f"m{i}@example.com", expires_at=clock.now - timedelta(hours=i))
        grant(other, clock, email=f"m{i}@example.com", expires_at=clock.now - timedelta(hours=i))
    grant(course, clock, email="later@example.com", expires_at=clock.now + timedelta(hours=1))
    assert len(expiry.run().expired) == 14
    assert Grant.objects.filter(expiry_recorded_at__isnull=True).count() == 1
    assert expiry.run().expired == []


def test_recording_uses_the_list_and_expiry_index(course, clock):
    """Each list's grants are read with a range on the (access_list, expires_at) index."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        expiry.run()
    selects = [q["sql"] for q in ctx.captured_queries if "expires_at" in q["sql"]]
    assert selects and all('"access_list_id" = ' in sql for sql in selects)
    if connection.vendor == "sqlite":
        qs = Grant.objects.filter(access_list=course, expires_at__lte=clock.now)
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "wma_grant_list_exp" in plan


# --- reminders ----------------------------------------------------------------------------------


def test_reminders_are_off_by_default(course, clock, mailoutbox):
    grant(course, clock, expires_at=clock.now + timedelta(days=1))
    report = expiry.run()
    assert report.reminder_days is None and report.reminded == []
    assert mailoutbox == []
    assert Grant.objects.get().reminder_sent_at is None


def test_a_reminder_is_sent_once_n_days_before(reminders, course, home, clock, mailoutbox):
    page = make_page(home, title="Lesson 1", slug="lesson-1")
    api.protect(page, mode="code", access_lists=[course])
    g = grant(course, clock, expires_at=clock.now + timedelta(days=7, minutes=1))
    assert expiry.run().reminded == []
    clock.advance(minutes=1)  # now exactly 7 days before
    report = expiry.run()
    assert report.reminded == [(g.pk, "a**@example.com", "Course A")]
    (message,) = mailoutbox
    assert message.to == ["ana@example.com"]
    expires = f"until {g.expires_at:%-d %B %Y, %H:%M} (UTC)"  # tests run in UTC
    assert message.subject == "Your access to Course A ends soon"
    assert message.body.startswith("Hello Ana,\n\n")
    assert f"Your access to Course A on {course_site_name(home)} lasts {expires}." in message.body
    assert f"- Lesson 1: {page.get_full_url()}" in message.body
    assert "enter ana@example.com on it" in message.body
    html = message.alternatives[0][0]
    assert f'<a href="{page.get_full_url()}">Lesson 1</a>' in html
    g.refresh_from_db()
    assert g.reminder_sent_at == clock.now
    (entry,) = entries(log_actions.REMIND)
    assert entry.message == "Expiry reminder sent to ana@example.com for “Course A”"
    clock.advance(days=1)
    assert expiry.run().reminded == []
    assert len(mailoutbox) == 1


def course_site_name(home) -> str:
    site = home.get_site()
    return site.site_name or site.hostname


def test_who_gets_no_reminder(reminders, course, clock, mailoutbox):
    grant(course, clock, email="later@example.com", expires_at=clock.now + timedelta(days=8))
    grant(course, clock, email="unlimited@example.com", expires_at=None)
    grant(course, clock, email="past@example.com", expires_at=clock.now - timedelta(seconds=1))
    grant(
        course,
        clock,
        email="revoked@example.com",
        expires_at=clock.now + timedelta(days=1),
        revoked_at=clock.now,
    )
    grant(
        course,
        clock,
        email="notstarted@example.com",
        starts_at=clock.now + timedelta(hours=1),
        expires_at=clock.now + timedelta(days=1),
    )
    grant(
        course,
        clock,
        email="reminded@example.com",
        expires_at=clock.now + timedelta(days=1),
        reminder_sent_at=clock.now - timedelta(days=1),
    )
    assert expiry.run().reminded == []
    assert mailoutbox == []


def test_the_reminder_in_german(reminders, settings, course, clock, mailoutbox):
    """In the site's LANGUAGE_CODE (a grant has no language of its own)."""
    settings.LANGUAGE_CODE = "de"
    grant(course, clock, expires_at=clock.now + timedelta(days=2))
    with translation.override("en"):
        expiry.run()
    (message,) = mailoutbox
    assert message.body.startswith("Hallo Ana,\n\n")


def test_names_are_escaped_in_the_html_reminder(reminders, course, clock, mailoutbox):
    grant(course, clock, name="<b>Ana</b>", expires_at=clock.now + timedelta(days=2))
    expiry.run()
    (message,) = mailoutbox
    assert "Hello &lt;b&gt;Ana&lt;/b&gt;," in message.alternatives[0][0]
    assert message.body.startswith("Hello <b>Ana</b>,")  # plain text is not HTML


def test_the_reminder_template_gets_plain_strings_only(reminders, course, clock, monkeypatch):
    seen = []
    original = emails.render_email

    def spy(kind, context, **kwargs):
        seen.append((kind, context))
        return original(kind, context, **kwargs)

    monkeypatch.setattr(emails, "render_email", spy)
    g = grant(course, clock, expires_at=clock.now + timedelta(days=2))
    expiry.run()
    ((kind, context),) = seen
    assert kind == "expiry_reminder"
    assert set(context) == set(emails.KINDS["expiry_reminder"])

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        # A lazy string (the expiry, formatted in the email's language) is a string too.
        return isinstance(value, str | Promise)

    assert plain(context)
    assert str(context["expires"]) == f"until {g.expires_at:%-d %B %Y, %H:%M} (UTC)"


def test_a_mail_failure_is_recorded_and_retried_with_back_off_once(
    reminders, course, clock, mailoutbox, mail_down, caplog, settings
):
    g = grant(course, clock, expires_at=clock.now + timedelta(days=2))
    report = expiry.run()
    assert report.reminded == []
    assert report.failed == [
        (g.pk, "a**@example.com", "Course A", "SMTPException: connection refused")
    ]
    [send] = EmailSend.objects.all()  # the reminder's idempotency record
    assert (send.kind, send.grant_id, send.send_attempts) == ("expiry_reminder", g.pk, 1)
    assert send.next_attempt_at == clock.now + timedelta(seconds=30)
    assert report.failed_sends == [(send.pk, report.failed_sends[0][1])]
    assert entries(log_actions.REMIND) == []
    [failed] = entries(log_actions.SEND_FAILED)  # in the grant's history, for editors
    assert failed.object_id == str(g.pk)
    assert "Could not send the expiry reminder to a**@example.com (SMTPException)" in caplog.text
    assert "ana@example.com" not in caplog.text
    # The next run neither sends it nor records it again: the retry does, with back-off.
    assert expiry.run().counts() == {"reminded": 0, "reminders_failed": 0, "expired": 0}
    assert EmailSend.objects.count() == 1
    with pytest.raises(tasks.EmailNotSent):  # too early for the retry: nothing; still down
        clock.advance(seconds=30)
        tasks.deliver_send.call(send.pk)
    send.refresh_from_db()
    assert (send.send_attempts, send.next_attempt_at) == (2, clock.now + timedelta(seconds=60))
    mail_down.back()
    assert tasks.requeue_due_sends() == {"enqueued": 0, "stale_tasks": 0}
    clock.advance(seconds=60)
    assert tasks.requeue_due_sends() == {"enqueued": 1, "stale_tasks": 0}  # sent at once
    [message] = mailoutbox
    assert message.to == ["ana@example.com"]
    assert len(entries(log_actions.REMIND)) == 1
    send.refresh_from_db()
    assert send.sent_at == clock.now
    # A duplicate task, a rerun of the command: never a second email.
    tasks.deliver_send.call(send.pk)
    clock.advance(hours=1)
    assert expiry.run().counts()["reminded"] == 0
    assert tasks.requeue_due_sends()["enqueued"] == 0
    assert len(mailoutbox) == 1


def test_the_task_raises_when_a_reminder_failed_so_the_backend_records_it(
    reminders, course, clock, mail_down, settings
):
    from tests.task_settings import DUMMY, task_backends

    grant(course, clock, expires_at=clock.now + timedelta(days=2))
    settings.TASKS = {"default": DUMMY}
    backend = task_backends["default"]
    backend.supports_defer = True  # as django-tasks-db's DatabaseBackend
    try:
        with pytest.raises(tasks.EmailNotSent) as raised:
            tasks.record_expiries.call()
        [retry] = backend.results
    finally:
        backend.supports_defer = False
    [send] = EmailSend.objects.all()
    assert str(raised.value) == (
        f"Expiry reminder send {send.pk}: attempt 1 failed (SMTPException: connection refused); "
        f"next attempt at {(clock.now + timedelta(seconds=30)).isoformat()}."
    )
    assert (retry.task.name, retry.args) == ("deliver_send", [send.pk])
    assert retry.task.run_after == clock.now + timedelta(seconds=30)


def test_a_reminder_whose_grant_changed_is_not_retried(reminders, course, clock, mail_down):
    g = grant(course, clock, expires_at=clock.now + timedelta(days=2))
    expiry.run()
    [send] = EmailSend.objects.all()
    grants.extend(Grant.objects.filter(pk=g.pk), until=clock.now + timedelta(days=30))
    mail_down.back()
    clock.advance(minutes=1)
    tasks.deliver_send.call(send.pk)
    send.refresh_from_db()
    assert (send.sent_at, send.cancel_reason) == (None, "not_eligible")
    g.refresh_from_db()
    assert g.reminder_sent_at is None  # the new expiry is reminded in its turn


def test_reminders_given_up_are_failed_for_good_in_the_grant_history(
    reminders, course, clock, mail_down, settings
):
    settings.WAGTAIL_MEMBER_ACCESS_SEND_RETRIES = 0
    g = grant(course, clock, expires_at=clock.now + timedelta(days=2))
    expiry.run()
    [send] = EmailSend.objects.all()
    assert (send.cancel_reason, send.next_attempt_at) == ("send_failed", None)
    [gave_up] = entries(log_actions.SEND_GAVE_UP)
    assert gave_up.object_id == str(g.pk)
    assert (
        gave_up.message
        == "Expiry reminder email to a**@example.com not sent after 1 attempts: gave up"
    )
    assert tasks.requeue_due_sends()["enqueued"] == 0


def test_a_claimed_reminder_is_not_sent_by_an_overlapping_run(
    reminders, course, clock, mailoutbox, monkeypatch
):
    """The other run claimed the grant between our read and our claim: we skip it."""
    g = grant(course, clock, expires_at=clock.now + timedelta(days=2))
    original = expiry._chunks

    def other_run_claims_first(queryset):
        for item in original(queryset):
            Grant.objects.filter(pk=item.pk).update(reminder_sent_at=clock.now)
            yield item

    monkeypatch.setattr(expiry, "_chunks", other_run_claims_first)
    assert expiry.run().reminded == []
    assert mailoutbox == []
    assert entries(log_actions.REMIND) == []
    assert Grant.objects.get(pk=g.pk).reminder_sent_at == clock.now


def test_an_expiry_recorded_by_an_overlapping_run_is_not_recorded_again(
    course, clock, monkeypatch, expired_signals, django_capture_on_commit_callbacks
):
    grant(course, clock, expires_at=clock.now - timedelta(minutes=1))
    original = expiry._chunks

    def other_run_records_first(queryset):
        for item in original(queryset):
            Grant.objects.filter(pk=item.pk).update(expiry_recorded_at=clock.now)
            yield item

    monkeypatch.setattr(expiry, "_chunks", other_run_records_first)
    with django_capture_on_commit_callbacks(execute=True):
        assert expiry.run().expired == []
    assert expired_signals == []
    assert entries(log_actions.EXPIRE) == []


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL): real concurrency"
)
@pytest.mark.django_db(transaction=True)
def test_parallel_runs_remind_and_record_each_grant_once(settings, mailoutbox):
    from django.db import connections
    from django.utils import timezone

    from tests.factories import AccessListFactory

    settings.WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS = 7
    course = AccessListFactory(name="Course A")
    now = timezone.now()
    for i in range(40):
        GrantFactory(
            access_list=course, email=f"soon{i}@example.com", expires_at=now + timedelta(days=1)
        )
        GrantFactory(
            access_list=course, email=f"past{i}@example.com", expires_at=now - timedelta(days=1)
        )
    reports = []
    barrier = threading.Barrier(4)

    def worker():
        try:
            barrier.wait()
            reports.append(expiry.run())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(r.reminded) for r in reports) == 40
    assert sum(len(r.expired) for r in reports) == 40
    assert len(mailoutbox) == 40
    assert len({m.to[0] for m in mailoutbox}) == 40
    assert ModelLogEntry.objects.filter(action=log_actions.REMIND).count() == 40
    assert ModelLogEntry.objects.filter(action=log_actions.EXPIRE).count() == 40


# --- dry run, command, task ----------------------------------------------------------------------


def test_a_dry_run_changes_nothing(
    reminders, course, clock, mailoutbox, expired_signals, django_capture_on_commit_callbacks
):
    soon = grant(course, clock, email="soon@example.com", expires_at=clock.now + timedelta(days=1))
    past = grant(course, clock, email="past@example.com", expires_at=clock.now - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = expiry.run(dry_run=True)
    assert report.reminded == [(soon.pk, "s***@example.com", "Course A")]
    assert report.expired == [(past.pk, "p***@example.com", "Course A")]
    assert mailoutbox == [] and expired_signals == []
    assert ModelLogEntry.objects.count() == 0
    assert list(Grant.objects.values_list("reminder_sent_at", "expiry_recorded_at")) == [
        (None, None),
        (None, None),
    ]


def expire_command(*args):
    out, err = StringIO(), StringIO()
    call_command("member_access_expire", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_counts(reminders, course, clock, mailoutbox):
    grant(course, clock, email="soon@example.com", expires_at=clock.now + timedelta(days=1))
    grant(course, clock, email="past@example.com", expires_at=clock.now - timedelta(days=1))
    out, err = expire_command()
    assert out.splitlines() == ["reminders sent: 1", "reminders failed: 0", "expiries recorded: 1"]
    assert err == ""
    out, _ = expire_command()
    assert out.splitlines() == ["reminders sent: 0", "reminders failed: 0", "expiries recorded: 0"]


def test_the_command_dry_run_lists_what_it_would_do(reminders, course, clock, mailoutbox):
    soon = grant(course, clock, email="soon@example.com", expires_at=clock.now + timedelta(days=1))
    past = grant(course, clock, email="past@example.com", expires_at=clock.now - timedelta(days=1))
    out, _ = expire_command("--dry-run", "--verbosity", "2")
    assert out.splitlines() == [
        "Dry run: nothing was sent or recorded.",
        "reminders to send: 1",
        "reminders failed: 0",
        "expiries to record: 1",
        f"reminder: s***@example.com, “Course A” (grant {soon.pk})",
        f"expired: p***@example.com, “Course A” (grant {past.pk})",
    ]
    assert mailoutbox == []
    assert Grant.objects.filter(expiry_recorded_at__isnull=False).count() == 0


def test_the_command_says_when_reminders_are_off(course, clock):
    out, _ = expire_command()
    assert out.splitlines()[0] == (
        "Reminders are off (WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS is not set)."
    )


def test_the_command_fails_when_a_reminder_could_not_be_sent(reminders, course, clock, monkeypatch):
    g = grant(course, clock, expires_at=clock.now + timedelta(days=1))
    grant(course, clock, email="past@example.com", expires_at=clock.now - timedelta(days=1))

    def down(*args, **kwargs):
        raise SMTPException("no route")

    monkeypatch.setattr(emails, "send_email", down)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("member_access_expire", "--verbosity", "0", stdout=out, stderr=err)
    assert (
        str(excinfo.value)
        == "1 reminders could not be sent yet; they are tried again with back-off."
    )
    assert err.getvalue().splitlines() == [
        f"Reminder not sent: a**@example.com, “Course A” (grant {g.pk}): SMTPException: no route"
    ]
    # The expiries were still recorded.
    assert Grant.objects.get(email="past@example.com").expiry_recorded_at == clock.now


def test_the_task_does_the_same(settings, reminders, course, clock, mailoutbox):
    settings.TASKS = {"default": IMMEDIATE}
    grant(course, clock, email="soon@example.com", expires_at=clock.now + timedelta(days=1))
    grant(course, clock, email="past@example.com", expires_at=clock.now - timedelta(days=1))
    result = tasks.record_expiries.enqueue()
    assert result.return_value == {"reminded": 1, "reminders_failed": 0, "expired": 1}
    assert len(mailoutbox) == 1
    assert tasks.record_expiries.enqueue().return_value == {
        "reminded": 0,
        "reminders_failed": 0,
        "expired": 0,
    }


@pytest.mark.parametrize("value", [0, -1, "7", 1.5, True])
def test_a_bad_reminder_setting_says_what_to_set(settings, value):
    from django.core.exceptions import ImproperlyConfigured

    from wagtail_member_access.conf import app_settings

    settings.WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS = value
    with pytest.raises(ImproperlyConfigured) as excinfo:
        app_settings.EXPIRY_REMINDER_DAYS
    assert str(excinfo.value) == (
        "WAGTAIL_MEMBER_ACCESS_EXPIRY_REMINDER_DAYS must be None (no reminders) or a whole "
        "number of days of 1 or more."
    )
