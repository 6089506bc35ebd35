"""Real concurrency on PostgreSQL: threads with their own connections hit the same row at once.

``tests/test_tokens.py`` shows the conditional UPDATE decides with a stale read on one
connection; here the database arbitrates between connections. SQLite serialises writers, so
these tests need PostgreSQL (``DATABASE_URL``). ``transactional_db`` is needed for other
connections to see the test's rows; it empties every table afterwards, including the rows
Wagtail's migrations made, so the fixtures below build the page tree when it is gone.
"""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import ensure_default_home
from wagtail_member_access import api, grants, tokens
from wagtail_member_access.models import EmailThrottle, Grant
from wagtail_member_access.tokens import Outcome

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
]


def run_together(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released at once by a barrier; return the results
    in thread order. Each thread closes its own database connection; an exception in any
    thread fails the test."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def target(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


@pytest.fixture
def tree(transactional_db):
    """The home page, rebuilt if an earlier transactional test emptied the tables."""
    return ensure_default_home()


@pytest.fixture
def lesson(tree):
    from tests.factories import make_page

    course = api.create_access_list("Course A")
    page = make_page(tree, title="Lesson", slug="lesson")
    api.protect(page, mode="code", access_lists=[course])
    api.grant_access("ana@example.com", course)
    return page, course


def after_every_read(monkeypatch, name: str, threads: int) -> None:
    """Make ``tokens.<name>`` wait until all threads have called it: every thread has then
    read the challenge as unredeemed, and only the database can pick the winner."""
    real = getattr(tokens, name)
    everyone_read = threading.Barrier(threads)

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        everyone_read.wait(timeout=30)
        return result

    monkeypatch.setattr(tokens, name, wrapped)


def before_every_check(monkeypatch, threads: int) -> None:
    """Make every thread wait, before it counts its check, until all threads have read the
    challenge as unredeemed and untried: only the database's conditional updates can decide
    (docs/security.md#atomic-limits)."""
    real = EmailThrottle.reserve_check.__func__
    everyone_read = threading.Barrier(threads)

    def wrapped(cls, email):
        everyone_read.wait(timeout=30)
        return real(cls, email)

    monkeypatch.setattr(EmailThrottle, "reserve_check", classmethod(wrapped))


@pytest.mark.parametrize("threads", [2, 8])
def test_one_code_redeemed_at_once_from_many_connections_wins_once(lesson, threads, monkeypatch):
    page, _ = lesson
    challenge = tokens.start_challenge("ana@example.com", page)
    code = tokens.issue_code(challenge)
    before_every_check(monkeypatch, threads)

    outcomes = run_together(threads, lambda i: tokens.redeem_code(challenge.pk, page, code).outcome)

    assert [o for o in outcomes if o is Outcome.OK] == [Outcome.OK]
    # The others lost the count of their check (THROTTLED) or came after the win (USED).
    assert {o for o in outcomes if o is not Outcome.OK} <= {Outcome.THROTTLED, Outcome.USED}
    challenge.refresh_from_db()
    assert challenge.redeemed_at is not None
    assert challenge.failed_attempts == 0


def test_parallel_wrong_guesses_are_compared_once_per_back_off_step(lesson, monkeypatch):
    page, _ = lesson
    challenge = tokens.start_challenge("ana@example.com", page)
    tokens.issue_code(challenge)
    before_every_check(monkeypatch, 8)

    outcomes = run_together(8, lambda i: tokens.redeem_code(challenge.pk, page, f"{i:06d}").outcome)

    # Read-then-write would have compared all 8 guesses with the code (the cap is 5).
    assert sorted(o.value for o in outcomes) == ["throttled"] * 7 + ["wrong"]
    challenge.refresh_from_db()
    assert challenge.failed_attempts == 1


@pytest.mark.parametrize("threads", [2, 8])
def test_one_link_redeemed_at_once_from_many_connections_wins_once(lesson, threads, monkeypatch):
    page, _ = lesson
    challenge = tokens.start_challenge("ana@example.com", page)
    issued = tokens.issue(challenge, code=False, link=True)
    after_every_read(monkeypatch, "_link_state", threads)

    outcomes = run_together(threads, lambda i: tokens.redeem_link(issued.link_token).outcome)

    assert sorted(o.value for o in outcomes) == sorted(
        [Outcome.OK.value] + [Outcome.USED.value] * (threads - 1)
    )


def test_concurrent_grants_of_one_email_and_list_make_one_grant(lesson):
    _, course = lesson
    other = api.create_access_list("Course B")

    results = run_together(8, lambda i: grants.grant(f" Ben@Example.com{' ' * i}", other))

    assert Grant.objects.filter(access_list=other).count() == 1
    grant = Grant.objects.get(access_list=other)
    assert grant.email == "ben@example.com"
    assert {obj.pk for obj, _ in results} == {grant.pk}
    assert sorted(created for _, created in results) == [False] * 7 + [True]


def test_concurrent_api_grants_with_one_reference_make_one_grant(lesson):
    _, course = lesson
    other = api.create_access_list("Course B")

    results = run_together(
        8, lambda i: api.grant_access("ben@example.com", other, reference="order-1").pk
    )

    assert Grant.objects.filter(access_list=other).count() == 1
    assert set(results) == {Grant.objects.get(access_list=other).pk}
