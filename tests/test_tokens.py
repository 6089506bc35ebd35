"""Codes, docs/security.md#code-length to #code-redeem-once: length and source
(#code-length), the keyed hash (#code-hashed), validity (#code-validity), single use
(#code-single-use), binding to the page (#code-bound), wrong tries and back-off
(#code-attempts), one redemption wins (#code-redeem-once)."""

import hashlib
from datetime import timedelta

import pytest

from tests.factories import make_page
from wagtail_member_access import tokens
from wagtail_member_access.models import EmailChallenge, EmailThrottle
from wagtail_member_access.tokens import Outcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def challenge(protected_page, buyer):
    ch = tokens.start_challenge("ana@example.com", protected_page)
    return ch


def issue(ch, monkeypatch=None, code=None):
    if code and monkeypatch:
        monkeypatch.setattr(tokens, "random_number_token", lambda length: code)
    return tokens.issue_code(ch)


@pytest.mark.parametrize("length", [6, 7, 8])
def test_code_has_configured_number_of_digits(settings, challenge, length):
    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = length
    code = tokens.issue_code(challenge)
    assert len(code) == length and code.isdigit()


@pytest.mark.parametrize("length", [5, 9, "6"])
def test_code_length_outside_6_to_8_is_refused(settings, length):
    from django.core.exceptions import ImproperlyConfigured

    from wagtail_member_access.conf import app_settings

    settings.WAGTAIL_MEMBER_ACCESS_CODE_LENGTH = length
    with pytest.raises(ImproperlyConfigured, match="CODE_LENGTH must be an integer from 6 to 8"):
        app_settings.CODE_LENGTH  # noqa: B018


def test_codes_come_from_django_otp_token_generator(challenge, monkeypatch):
    from django_otp import util

    assert tokens.random_number_token is util.random_number_token  # random.SystemRandom
    seen = []

    def fake(length):
        seen.append(length)
        return "000000"

    monkeypatch.setattr(tokens, "random_number_token", fake)
    assert tokens.issue_code(challenge) == "000000"
    assert seen == [6]


def test_leading_zeros_are_kept(challenge, protected_page, monkeypatch, clock):
    code = issue(challenge, monkeypatch, "001234")
    assert code == "001234"
    assert tokens.redeem_code(challenge.pk, protected_page, "1234").outcome is Outcome.WRONG
    clock.advance(seconds=1)  # the per-email back-off after one failure
    assert tokens.redeem_code(challenge.pk, protected_page, "001234").ok


def test_code_is_stored_only_as_keyed_hash(challenge, settings):
    code = tokens.issue_code(challenge)
    challenge.refresh_from_db()
    stored = challenge.code_hash
    assert code not in stored
    assert stored != hashlib.sha256(code.encode()).hexdigest()
    assert stored == tokens.hash_code(challenge.pk, code)
    settings.SECRET_KEY = "another-key"
    assert tokens.hash_code(challenge.pk, code) != stored  # keyed with SECRET_KEY
    values = EmailChallenge.objects.values_list(flat=False)
    assert not any(code == str(v) for row in values for v in row)


def test_code_accepted_at_9_59(challenge, protected_page, clock):
    code = tokens.issue_code(challenge)
    clock.advance(minutes=9, seconds=59)
    assert tokens.redeem_code(challenge.pk, protected_page, code).ok


def test_code_refused_at_10_01(challenge, protected_page, clock):
    code = tokens.issue_code(challenge)
    clock.advance(minutes=10, seconds=1)
    assert tokens.redeem_code(challenge.pk, protected_page, code).outcome is Outcome.EXPIRED


def test_validity_is_a_setting(settings, challenge, protected_page, clock):
    settings.WAGTAIL_MEMBER_ACCESS_CODE_VALIDITY = 120
    code = tokens.issue_code(challenge)
    clock.advance(seconds=121)
    assert tokens.redeem_code(challenge.pk, protected_page, code).outcome is Outcome.EXPIRED


def test_code_works_once(challenge, protected_page):
    code = tokens.issue_code(challenge)
    assert tokens.redeem_code(challenge.pk, protected_page, code).ok
    assert tokens.redeem_code(challenge.pk, protected_page, code).outcome is Outcome.USED


def test_new_code_for_same_email_and_page_cancels_previous(challenge, protected_page):
    first = tokens.issue_code(challenge)
    second_challenge = tokens.start_challenge("ana@example.com", protected_page)
    second = tokens.issue_code(second_challenge)
    assert tokens.redeem_code(challenge.pk, protected_page, first).outcome is Outcome.USED
    assert tokens.redeem_code(second_challenge.pk, protected_page, second).ok


def test_new_code_for_another_page_leaves_the_first_working(challenge, protected_page, course):
    from wagtail_member_access import api

    other = make_page(title="Other", slug="other")
    api.protect(other, mode="code", access_lists=[course])
    first = tokens.issue_code(challenge)
    tokens.issue_code(tokens.start_challenge("ana@example.com", other))
    assert tokens.redeem_code(challenge.pk, protected_page, first).ok


def test_code_works_only_for_its_page(challenge, protected_page, course):
    from wagtail_member_access import api

    other = make_page(title="Other", slug="other")
    api.protect(other, mode="code", access_lists=[course])
    code = tokens.issue_code(challenge)
    assert tokens.redeem_code(challenge.pk, other, code).outcome is Outcome.MISSING


def test_five_wrong_tries_then_even_right_code_is_refused(challenge, protected_page, settings):
    settings.WAGTAIL_MEMBER_ACCESS_THROTTLE_FACTOR = 0  # isolate the per-code limit
    code = tokens.issue_code(challenge)
    wrong = "000000" if code != "000000" else "111111"
    outcomes = [tokens.redeem_code(challenge.pk, protected_page, wrong).outcome for _ in range(5)]
    assert outcomes == [Outcome.WRONG] * 4 + [Outcome.EXHAUSTED]
    assert tokens.redeem_code(challenge.pk, protected_page, code).outcome is Outcome.EXHAUSTED
    challenge.refresh_from_db()
    assert challenge.failed_attempts == 5


def test_failures_back_off_exponentially_per_email_across_codes(challenge, protected_page, clock):
    code = tokens.issue_code(challenge)
    wrong = "000000" if code != "000000" else "111111"
    assert tokens.redeem_code(challenge.pk, protected_page, wrong).outcome is Outcome.WRONG
    # 1 failure: 1 s back-off; the right code is not even checked within it
    assert tokens.redeem_code(challenge.pk, protected_page, code).outcome is Outcome.THROTTLED
    clock.advance(seconds=1)
    assert tokens.redeem_code(challenge.pk, protected_page, wrong).outcome is Outcome.WRONG
    clock.advance(seconds=1)  # 2 failures: 2 s needed
    assert tokens.redeem_code(challenge.pk, protected_page, code).outcome is Outcome.THROTTLED
    # a new code does not reset the email's failures
    fresh = tokens.start_challenge("ana@example.com", protected_page)
    fresh_code = tokens.issue_code(fresh)
    result = tokens.redeem_code(fresh.pk, protected_page, fresh_code)
    assert result.outcome is Outcome.THROTTLED
    assert result.retry_at == clock.now + timedelta(seconds=1)
    throttle = EmailThrottle.objects.get(email="ana@example.com")
    assert throttle.throttling_failure_count == 2
    clock.advance(seconds=1)
    assert tokens.redeem_code(fresh.pk, protected_page, fresh_code).ok
    throttle.refresh_from_db()
    assert throttle.throttling_failure_count == 0  # success resets


def test_unissued_challenge_behaves_like_a_wrong_code(protected_page):
    # An unlisted email gets a challenge that never receives a code: guesses are "wrong",
    # exactly as for a listed email, and are counted the same way.
    ch = tokens.start_challenge("nobody@example.com", protected_page)
    assert tokens.redeem_code(ch.pk, protected_page, "123456").outcome is Outcome.WRONG
    ch.refresh_from_db()
    assert ch.failed_attempts == 1


def test_concurrent_redemption_stale_read_loses(challenge, protected_page, monkeypatch):
    """Both requests read the challenge before either writes: the conditional UPDATE lets
    exactly one of them win (the database decides, not the Python check)."""
    code = tokens.issue_code(challenge)
    stale = EmailChallenge.objects.get(pk=challenge.pk)
    assert tokens.redeem_code(challenge.pk, protected_page, code).ok

    real_filter = EmailChallenge.objects.filter

    class StaleQS:
        def __init__(self, qs):
            self.qs = qs

        def first(self):
            return stale

    def filter_returning_stale(*args, **kwargs):
        qs = real_filter(*args, **kwargs)
        if kwargs.get("purpose"):
            return StaleQS(qs)
        return qs

    monkeypatch.setattr(EmailChallenge.objects, "filter", filter_returning_stale)
    assert stale.redeemed_at is None
    assert tokens.redeem_code(challenge.pk, protected_page, code).outcome is Outcome.USED
