"""``cleanup.run`` / ``manage.py member_access_cleanup``: old requests and lapsed failure
counters go; anything still usable, any back-off still running, grants and the audit log
stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from wagtail.models import PageLogEntry

from wagtail_member_access import api, cleanup, tasks, tokens
from wagtail_member_access.conf import app_settings
from wagtail_member_access.models import EmailChallenge, EmailSend, EmailThrottle, Grant

pytestmark = pytest.mark.django_db

Purpose = EmailChallenge.Purpose


def challenge(page, *, code=True, link=False, link_validity=None, email="ana@example.com"):
    c = tokens.start_challenge(email, page, replace_others=False)
    tokens.issue(c, code=code, link=link, link_validity=link_validity)
    return c


def remaining() -> set[int]:
    return set(EmailChallenge.objects.values_list("pk", flat=True))


def test_old_finished_requests_go_and_recent_ones_stay(protected_page, buyer, clock):
    old = challenge(protected_page)
    clock.advance(days=31)
    recent = challenge(protected_page, email="bo@example.com")
    report = cleanup.run()
    assert report.challenges == 1
    assert remaining() == {recent.pk} and old.pk not in remaining()


def test_nothing_is_deleted_before_the_retention_period(protected_page, buyer, clock):
    c = challenge(protected_page)
    clock.advance(days=29, hours=23)
    assert cleanup.run().challenges == 0
    assert remaining() == {c.pk}


def test_a_request_whose_link_is_still_valid_is_kept(protected_page, buyer, clock):
    # An invitation-style link valid for 60 days: old, but still usable.
    challenge(protected_page, code=False, link=True, link_validity=timedelta(days=60))
    clock.advance(days=45)
    assert cleanup.run().challenges == 0
    clock.advance(days=16)
    assert cleanup.run().challenges == 1
    assert remaining() == set()


def test_a_dry_run_counts_and_deletes_nothing(protected_page, buyer, clock):
    challenge(protected_page)
    EmailThrottle.objects.create(email="ana@example.com")
    clock.advance(days=31)
    report = cleanup.run(dry_run=True)
    assert (report.challenges, report.throttles) == (1, 1)
    assert EmailChallenge.objects.count() == 1 and EmailThrottle.objects.count() == 1


def test_a_running_back_off_is_never_lifted(settings, clock, db):
    settings.WAGTAIL_MEMBER_ACCESS_THROTTLE_FACTOR = 1
    throttle = EmailThrottle.objects.create(email="ana@example.com")
    for _ in range(25):  # back-off 2**24 seconds: about 194 days
        throttle.throttle_increment()
    lapsed = EmailThrottle.objects.create(email="bo@example.com")
    lapsed.throttle_increment()
    clock.advance(days=31)
    report = cleanup.run()
    assert report.throttles == 1
    assert list(EmailThrottle.objects.values_list("email", flat=True)) == ["ana@example.com"]
    clock.advance(days=170)
    assert cleanup.run().throttles == 1
    assert not EmailThrottle.objects.exists()


def test_a_back_off_that_starts_during_the_run_is_kept(settings, clock, db, monkeypatch):
    # Failures recorded between reading the candidates and deleting them keep the counter.
    settings.WAGTAIL_MEMBER_ACCESS_THROTTLE_FACTOR = 1
    EmailThrottle.objects.create(email="ana@example.com")  # once redeemed fine: count 0
    EmailThrottle.objects.create(email="bo@example.com")
    clock.advance(days=31)
    read = cleanup._lapsed_throttles

    def failures_meanwhile(now):
        ids = list(read(now))
        throttle = EmailThrottle.objects.get(email="ana@example.com")
        for _ in range(20):
            throttle.throttle_increment()
        yield from ids

    monkeypatch.setattr(cleanup, "_lapsed_throttles", failures_meanwhile)
    assert cleanup.run().throttles == 1
    kept = EmailThrottle.objects.get()
    assert (kept.email, kept.throttling_failure_count) == ("ana@example.com", 20)
    assert not kept.verify_is_allowed()[0]


def test_a_failure_on_a_counter_deleted_meanwhile_still_counts(protected_page, buyer, db):
    # The clean-up may delete the counter between reading it and counting a wrong code.
    request = challenge(protected_page, code=False)
    code = tokens.issue_code(request)
    wrong = "000000" if code != "000000" else "111111"
    throttle = EmailThrottle.objects.create(email="ana@example.com")
    EmailThrottle.objects.filter(pk=throttle.pk).delete()
    throttle.throttle_increment()
    fresh = EmailThrottle.objects.get(email="ana@example.com")
    assert fresh.throttling_failure_count == throttle.throttling_failure_count == 1
    assert throttle.pk == fresh.pk
    outcome = tokens.redeem_code(request.pk, protected_page, wrong).outcome
    assert outcome is tokens.Outcome.THROTTLED  # the back-off of that failure runs


def test_a_recent_failure_counter_stays(clock, db):
    throttle = EmailThrottle.objects.create(email="ana@example.com")
    throttle.throttle_increment()
    clock.advance(days=29)
    assert cleanup.run().throttles == 0


def test_grants_and_the_audit_log_are_kept(protected_page, buyer, clock):
    challenge(protected_page)
    entries = PageLogEntry.objects.count()
    clock.advance(days=365)
    cleanup.run()
    assert Grant.objects.filter(pk=buyer.pk).exists()
    assert PageLogEntry.objects.count() == entries


def test_deletes_in_batches(protected_page, buyer, clock, monkeypatch):
    monkeypatch.setattr(cleanup, "BATCH", 2)
    for n in range(5):
        challenge(protected_page, email=f"m{n}@example.com")
    clock.advance(days=31)
    assert cleanup.run().challenges == 5
    assert remaining() == set()


def test_the_command_reports_counts(protected_page, buyer, clock):
    challenge(protected_page)
    clock.advance(days=31)
    out = StringIO()
    call_command("member_access_cleanup", "--dry-run", stdout=out)
    assert out.getvalue().splitlines() == [
        "Dry run: nothing was deleted.",
        "code and link requests to delete: 1",
        "email send records to delete: 0",
        "failure counters to delete: 0",
    ]
    out = StringIO()
    call_command("member_access_cleanup", stdout=out)
    assert "code and link requests deleted: 1" in out.getvalue()
    out = StringIO()
    call_command("member_access_cleanup", verbosity=0, stdout=out)
    assert out.getvalue() == ""


def test_the_task_runs_the_same_clean_up(protected_page, buyer, clock):
    challenge(protected_page)
    clock.advance(days=31)
    assert tasks.clean_up.call() == {
        "challenges": 1,
        "sends": 0,
        "throttles": 0,
        "task_rows": 0,
    }


def test_old_email_send_records_are_deleted(course, clock):
    grant = api.grant_access("ana@example.com", course)
    old = EmailSend.objects.create(
        kind="access_ready", key="old", email="a@example.com", grant=grant, created_at=clock.now
    )
    clock.advance(days=29)
    young = EmailSend.objects.create(
        kind="bulk", key="young", email="b@example.com", created_at=clock.now
    )
    clock.advance(days=2)  # the first is 31 days old, the second 2
    assert cleanup.run(dry_run=True).sends == 1
    assert EmailSend.objects.count() == 2
    assert cleanup.run().sends == 1
    assert list(EmailSend.objects.values_list("pk", flat=True)) == [young.pk]
    assert not EmailSend.objects.filter(pk=old.pk).exists()


@pytest.mark.parametrize("value", [timedelta(hours=23), 3600, "30 days"])
def test_a_retention_below_one_day_or_malformed_is_refused(settings, value):
    settings.WAGTAIL_MEMBER_ACCESS_CLEANUP_AFTER = value
    with pytest.raises(ImproperlyConfigured, match="CLEANUP_AFTER"):
        app_settings.CLEANUP_AFTER
