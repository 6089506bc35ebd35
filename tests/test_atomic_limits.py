"""Limits that hold under parallel requests (docs/security.md#atomic-limits), an unreachable
cache answered with 503 (docs/security.md#cache-down), and django-tasks-db's task rows
(``worker_rows``). Real parallelism across processes is shown by tests/multiprocess/; here
each race is played out step by step: a parallel request changes the row between another's
read and its write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from tests.integration.conftest import free_port
from wagtail_member_access import tokens, worker_rows
from wagtail_member_access.flows import pending
from wagtail_member_access.models import EmailChallenge, EmailThrottle
from wagtail_member_access.tokens import Outcome

pytestmark = pytest.mark.django_db


def issued(page, email="ana@example.com"):
    challenge = tokens.start_challenge(email, page)
    return challenge, tokens.issue_code(challenge)


# --- the per-code cap and the per-address back-off --------------------------------------------


def test_a_check_is_counted_before_it_is_made(protected_page, buyer):
    challenge, code = issued(protected_page)
    real = EmailThrottle.reserve_check

    def five_parallel_guesses_counted_meanwhile(email):
        EmailChallenge.objects.filter(pk=challenge.pk).update(failed_attempts=5)
        return real.__func__(EmailThrottle, email)

    EmailThrottle.reserve_check = classmethod(
        lambda cls, email: five_parallel_guesses_counted_meanwhile(email)
    )
    try:
        result = tokens.redeem_code(challenge.pk, protected_page, code)
    finally:
        EmailThrottle.reserve_check = real
    # The read said 0 tries; the cap is taken by a conditional UPDATE, so even the right code
    # is not compared a 6th time.
    assert result.outcome is Outcome.EXHAUSTED
    challenge.refresh_from_db()
    assert (challenge.failed_attempts, challenge.redeemed_at) == (5, None)


def test_a_right_code_gives_its_count_back(protected_page, buyer):
    challenge, code = issued(protected_page)
    assert tokens.redeem_code(challenge.pk, protected_page, code).ok
    challenge.refresh_from_db()
    assert challenge.failed_attempts == 0
    throttle = EmailThrottle.objects.get(email="ana@example.com")
    assert (throttle.throttling_failure_count, throttle.throttling_failure_timestamp) == (0, None)


def test_parallel_checks_of_one_address_share_no_read_of_the_back_off(buyer):
    throttle, _ = EmailThrottle.objects.get_or_create(email="ana@example.com")
    stale = EmailThrottle.objects.get(pk=throttle.pk)  # what a parallel request read
    assert EmailThrottle.reserve_check("ana@example.com") == (True, None)
    # The parallel request now tries to count its check against the same reading: it loses.
    won = EmailThrottle.objects.filter(
        pk=stale.pk,
        throttling_failure_count=stale.throttling_failure_count,
        throttling_failure_timestamp=stale.throttling_failure_timestamp,
    ).update(throttling_failure_count=stale.throttling_failure_count + 1)
    assert won == 0
    allowed, locked_until = EmailThrottle.reserve_check("ana@example.com")
    assert allowed is False and locked_until is not None  # the back-off (1 s) runs


def test_wrong_guesses_are_throttled_per_address_across_codes(protected_page, buyer, clock):
    first, _ = issued(protected_page)
    assert tokens.redeem_code(first.pk, protected_page, "000000").outcome is Outcome.WRONG
    second, _ = issued(protected_page)
    assert tokens.redeem_code(second.pk, protected_page, "000000").outcome is Outcome.THROTTLED
    clock.advance(seconds=1)
    assert tokens.redeem_code(second.pk, protected_page, "000000").outcome is Outcome.WRONG


# --- the per-browser resend cooldown ------------------------------------------------------------


def browser_request(client):
    request = RequestFactory().post("/")
    request.session = client.session
    return request


def test_the_cooldown_starts_once_per_browser_scope_and_address(client, settings, clock):
    request = browser_request(client)
    assert pending.start_cooldown(request, "unlock:1", "ana@example.com") is True
    # A parallel post from the same browser: the cache's add refuses it.
    assert pending.start_cooldown(browser_request(client), "unlock:1", "ana@example.com") is False
    assert pending.start_cooldown(request, "unlock:2", "ana@example.com") is True
    assert pending.start_cooldown(request, "unlock:1", "ben@example.com") is True
    clock.advance(seconds=60)
    assert pending.start_cooldown(request, "unlock:1", "ana@example.com") is True


def test_five_posts_from_one_browser_make_one_request(client, protected_page, buyer, mailoutbox):
    url = reverse("wagtail_member_access:request_code", args=[protected_page.pk])
    for _ in range(5):
        response = client.post(url, {"email": "ana@example.com", "next": protected_page.url})
        assert response.status_code == 303
    assert EmailChallenge.objects.count() == 1
    assert len(mailoutbox) == 1


# --- the cache is unreachable: 503, not 500 -----------------------------------------------------


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1},
        },
    }
    settings.RATELIMIT_USE_CACHE = "limits"
    return settings


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("request_code", {"email": "ana@example.com"}),
        ("verify_code", {"code": "123456"}),
    ],
)
def test_an_unreachable_cache_answers_503_with_retry_after(
    client, protected_page, buyer, cache_down, caplog, name, data
):
    url = reverse(f"wagtail_member_access:{name}", args=[protected_page.pk])
    response = client.post(url, {**data, "next": protected_page.url})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "<h1>Temporarily unavailable</h1>" in html
    assert "Nothing was sent or changed. Please try again in a minute." in html
    assert EmailChallenge.objects.count() == 0
    [logged] = [r.getMessage() for r in caplog.records if r.name == "wagtail_member_access"]
    assert logged.startswith("The cache or session store is unreachable (ConnectionError: ")
    assert logged.endswith("): answered 503.")


def test_the_503_page_is_translated(client, protected_page, buyer, cache_down):
    url = reverse("wagtail_member_access:request_code", args=[protected_page.pk])
    with translation.override("de"):
        response = client.post(url, {"email": "ana@example.com", "next": "/"})
    assert response.status_code == 503
    assert "<h1>Vorübergehend nicht verfügbar</h1>" in response.content.decode()


# --- django-tasks-db's task rows ----------------------------------------------------------------


def task_row(path, status, **times):
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.create(
        status=status,
        args_kwargs={"args": [], "kwargs": {}},
        task_path=path,
        backend_name="default",
        run_after=times.pop("run_after", None) or times.get("started_at"),
        exception_class_path="",
        traceback="",
        **times,
    )


def test_stale_running_rows_of_ours_are_marked_failed(clock):
    ours = "wagtail_member_access.tasks.deliver_challenge"
    stale = task_row(ours, "RUNNING", started_at=clock.now - timedelta(minutes=6))
    fresh = task_row(ours, "RUNNING", started_at=clock.now - timedelta(minutes=1))
    other = task_row("shop.tasks.ship", "RUNNING", started_at=clock.now - timedelta(hours=1))
    assert worker_rows.fail_stale() == 1
    for row in (stale, fresh, other):
        row.refresh_from_db()
    assert (stale.status, stale.finished_at) == ("FAILED", clock.now)
    assert stale.exception_class_path == "wagtail_member_access.worker_rows.WorkerLost"
    assert (fresh.status, other.status) == ("RUNNING", "RUNNING")


def test_old_finished_rows_of_ours_are_pruned(clock):
    ours = "wagtail_member_access.tasks.send_access_ready"
    old = clock.now - timedelta(days=8)
    task_row(ours, "SUCCESSFUL", started_at=old, finished_at=old)
    task_row(ours, "FAILED", started_at=old, finished_at=old)
    kept = task_row(ours, "SUCCESSFUL", started_at=clock.now, finished_at=clock.now)
    other = task_row("shop.tasks.ship", "SUCCESSFUL", started_at=old, finished_at=old)
    assert worker_rows.prune() == 2
    from django_tasks_db.models import DBTaskResult

    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {kept.pk, other.pk}


def test_password_sign_in_with_an_unreachable_cache_answers_503(client, cache_down):
    response = client.post(
        reverse("wagtail_member_access:sign_in_password"),
        {"identifier": "ana@example.com", "password": "x" * 12},
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
