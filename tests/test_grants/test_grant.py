"""The one grant path (``grants.grant``/``grants.revoke``, behind ``api.grant_access`` and
``api.revoke_access``): one grant per (email, list), idempotency, validation, audit log,
signals and the "your access is ready" email."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from wagtail.models import ModelLogEntry

from tests.factories import UserFactory, make_page
from wagtail_member_access import api, grants, tokens
from wagtail_member_access.models import Grant
from wagtail_member_access.signals import access_granted, access_revoked

pytestmark = pytest.mark.django_db

GRANT = "wagtail_member_access.grant"
REVOKE = "wagtail_member_access.revoke"


def log_entries(grant, action=None):
    entries = ModelLogEntry.objects.for_instance(grant).order_by("timestamp", "pk")
    return list(entries.filter(action=action) if action else entries)


@pytest.fixture
def received():
    """Every ``access_granted``/``access_revoked`` signal, as (signal name, kwargs)."""
    calls = []

    def on_granted(sender, **kwargs):
        calls.append(("granted", sender, kwargs))

    def on_revoked(sender, **kwargs):
        calls.append(("revoked", sender, kwargs))

    access_granted.connect(on_granted)
    access_revoked.connect(on_revoked)
    yield calls
    access_granted.disconnect(on_granted)
    access_revoked.disconnect(on_revoked)


# --- one grant per (email, list) ----------------------------------------------------------------


def test_grant_stores_the_normalised_email_and_defaults(course):
    obj, created = grants.grant("  Ana@Example.COM ", course, name="Ana")
    assert created is True
    assert (obj.email, obj.name, obj.source, obj.reference, obj.note) == (
        "ana@example.com",
        "Ana",
        "api",
        "",
        "",
    )
    assert (obj.starts_at, obj.expires_at, obj.revoked_at) == (None, None, None)
    assert obj.is_active()


def test_granting_again_updates_the_one_grant(course, clock):
    first = api.grant_access("ana@example.com", course, name="Ana", expires_at=clock.now)
    again, created = grants.grant(
        "ANA@example.com",
        course,
        name="Ana Lima",
        note="upgraded",
        expires_at=clock.now + timedelta(days=30),
    )
    assert created is False
    assert again.pk == first.pk
    assert Grant.objects.count() == 1
    again.refresh_from_db()
    assert (again.name, again.note, again.expires_at) == (
        "Ana Lima",
        "upgraded",
        clock.now + timedelta(days=30),
    )


def test_same_email_on_two_lists_is_two_grants(course):
    other = api.create_access_list("Other")
    a = api.grant_access("ana@example.com", course)
    b = api.grant_access("ana@example.com", other)
    assert a.pk != b.pk
    assert Grant.objects.count() == 2


def test_granting_again_restores_a_revoked_grant(course):
    first = api.grant_access("ana@example.com", course)
    assert api.revoke_access("ana@example.com", course) is True
    first.refresh_from_db()
    assert first.revoked_at is not None
    again = api.grant_access("ana@example.com", course)
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.revoked_at is None
    assert again.is_active()


def test_granting_again_without_expiry_keeps_the_expiry(course, clock):
    """``grants.grant`` with neither ``expires_at`` nor ``duration`` keeps an existing
    grant's expiry (renaming a buyer must not make their access unlimited)."""
    grants.grant("ana@example.com", course, expires_at=clock.now + timedelta(days=3))
    obj, _ = grants.grant("ana@example.com", course, name="Ana")
    obj.refresh_from_db()
    assert obj.expires_at == clock.now + timedelta(days=3)
    assert obj.name == "Ana"


def test_granting_again_with_expires_none_makes_access_unlimited(course, clock):
    grants.grant("ana@example.com", course, expires_at=clock.now + timedelta(days=3))
    obj, _ = grants.grant("ana@example.com", course, expires_at=None)
    obj.refresh_from_db()
    assert obj.expires_at is None


def test_api_grant_again_sets_the_expiry_from_the_call(course, clock):
    """``api.grant_access`` always sets the expiry (docs/api.md): leaving out both
    ``expires_at`` and ``duration`` makes the grant unlimited, unlike ``grants.grant``."""
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(days=3))
    obj = api.grant_access("ana@example.com", course, name="Ana")
    obj.refresh_from_db()
    assert obj.expires_at is None


def test_granting_again_changes_name_note_and_start_only_when_given(course, clock):
    start = clock.now + timedelta(days=1)
    api.grant_access("ana@example.com", course, name="Ana", note="VIP", starts_at=start)
    obj = api.grant_access("ana@example.com", course)
    obj.refresh_from_db()
    assert (obj.name, obj.note, obj.starts_at) == ("Ana", "VIP", start)


def test_starts_at_none_means_no_start_in_the_api_as_in_grants(course, clock):
    """``starts_at`` means the same in ``api.grant_access`` and ``grants.grant``: left out,
    an existing grant keeps its start; ``None``, it has none (access from now on)."""
    start = clock.now + timedelta(days=1)
    api.grant_access("ana@example.com", course, starts_at=start)
    assert api.grant_access("ana@example.com", course).starts_at == start
    assert api.grant_access("ana@example.com", course, starts_at=None).starts_at is None
    assert grants.grant("ana@example.com", course, starts_at=start)[0].starts_at == start
    assert grants.grant("ana@example.com", course, starts_at=None)[0].starts_at is None


def test_default_expiry_counts_the_lists_period_from_the_start_or_now(course, clock):
    assert grants.default_expiry(course) is None  # no default period: unlimited
    course.default_days = 30
    start = clock.now + timedelta(days=2)
    assert grants.default_expiry(course) == clock.now + timedelta(days=30)
    assert grants.default_expiry(course, start) == start + timedelta(days=30)
    assert grants.default_expiry(course, grants.UNSET) == clock.now + timedelta(days=30)


def test_expiry_in_the_past_is_accepted_and_inactive(course, clock):
    obj = api.grant_access("ana@example.com", course, expires_at=clock.now - timedelta(days=1))
    assert Grant.objects.get().pk == obj.pk
    assert not obj.is_active()


def test_granting_again_sets_the_new_source_but_keeps_who_added_it(course):
    first_admin = UserFactory(username="first", is_staff=True)
    second_admin = UserFactory(username="second", is_staff=True)
    grants.grant("ana@example.com", course, source=Grant.Source.MANUAL, added_by=first_admin)
    obj, _ = grants.grant(
        "ana@example.com", course, source=Grant.Source.IMPORT, added_by=second_admin
    )
    obj.refresh_from_db()
    assert obj.source == "import"
    assert obj.added_by == first_admin


# --- reference: the idempotency key --------------------------------------------------------


def test_same_reference_returns_the_existing_grant_unchanged(course, clock, received):
    first, created = grants.grant(
        "ana@example.com",
        course,
        name="Ana",
        reference="order-1",
        expires_at=clock.now + timedelta(days=30),
        source=Grant.Source.PURCHASE,
    )
    assert created is True
    logged = len(log_entries(first))
    again, created = grants.grant(
        "someone.else@example.com",
        course,
        name="Changed",
        reference="order-1",
        expires_at=clock.now + timedelta(days=1),
        source=Grant.Source.MANUAL,
        note="retried",
    )
    assert created is False
    assert again.pk == first.pk
    assert Grant.objects.count() == 1
    again.refresh_from_db()
    assert (again.email, again.name, again.expires_at, again.source, again.note) == (
        "ana@example.com",
        "Ana",
        clock.now + timedelta(days=30),
        "purchase",
        "",
    )
    assert len(log_entries(first)) == logged


def test_same_reference_does_not_restore_a_revoked_grant(course):
    first = api.grant_access("ana@example.com", course, reference="order-1")
    api.revoke_access("ana@example.com", course)
    again = api.grant_access("ana@example.com", course, reference="order-1")
    assert again.pk == first.pk
    assert again.revoked_at is not None


def test_reference_is_per_list(course):
    other = api.create_access_list("Other")
    a = api.grant_access("ana@example.com", course, reference="order-1")
    b = api.grant_access("ana@example.com", other, reference="order-1")
    assert a.pk != b.pk
    assert (a.reference, b.reference) == ("order-1", "order-1")


def test_empty_reference_is_no_idempotency_key(course):
    api.grant_access("ana@example.com", course, reference="")
    api.grant_access("ben@example.com", course, reference="")
    assert sorted(Grant.objects.values_list("email", "reference")) == [
        ("ana@example.com", ""),
        ("ben@example.com", ""),
    ]


# --- dates ---------------------------------------------------------------------------------------


def test_duration_counts_from_now(course, clock):
    obj = api.grant_access("ana@example.com", course, duration=timedelta(days=7))
    assert obj.starts_at is None
    assert obj.expires_at == clock.now + timedelta(days=7)


def test_duration_counts_from_starts_at(course, clock):
    start = clock.now + timedelta(days=2)
    obj = api.grant_access("ana@example.com", course, starts_at=start, duration=timedelta(days=7))
    obj.refresh_from_db()
    assert (obj.starts_at, obj.expires_at) == (start, start + timedelta(days=7))


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1)])
def test_expiry_before_or_at_the_start_is_refused_and_nothing_is_stored(course, clock, offset):
    start = clock.now + timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        api.grant_access("ana@example.com", course, starts_at=start, expires_at=start + offset)
    assert excinfo.value.messages == ["The access must expire after it starts."]
    assert excinfo.value.code == "expires_before"
    assert Grant.objects.count() == 0
    assert ModelLogEntry.objects.filter(action=GRANT).count() == 0


def test_refused_regrant_leaves_the_existing_grant_alone(course, clock):
    api.grant_access("ana@example.com", course, name="Ana")
    with pytest.raises(ValidationError):
        api.grant_access(
            "ana@example.com",
            course,
            name="Changed",
            starts_at=clock.now,
            expires_at=clock.now - timedelta(days=1),
        )
    obj = Grant.objects.get()
    assert (obj.name, obj.starts_at, obj.expires_at) == ("Ana", None, None)


def test_expires_at_and_duration_together_are_refused(course, clock):
    with pytest.raises(ValidationError) as excinfo:
        api.grant_access(
            "ana@example.com",
            course,
            expires_at=clock.now + timedelta(days=1),
            duration=timedelta(days=1),
        )
    assert excinfo.value.messages == ["Give either expires_at or duration, not both."]
    assert excinfo.value.code == "both"
    assert Grant.objects.count() == 0


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "", "ana@example.com\nBcc: x@evil.com", "a@example.com, b@example.com"],
)
def test_malformed_email_is_refused_and_nothing_is_stored(course, email, received):
    with pytest.raises(ValidationError) as excinfo:
        api.grant_access(email, course)
    assert excinfo.value.messages == ["Enter a valid email address."]
    assert Grant.objects.count() == 0
    assert ModelLogEntry.objects.filter(action=GRANT).count() == 0
    assert received == []


def test_unknown_source_is_refused(course):
    with pytest.raises(ValidationError) as excinfo:
        api.grant_access("ana@example.com", course, source="shop")
    assert excinfo.value.messages == ["Unknown source 'shop'."]
    assert excinfo.value.code == "source"
    assert Grant.objects.count() == 0


@pytest.mark.parametrize("source", ["manual", "import", "purchase", "api"])
def test_every_known_source_is_accepted(course, source):
    assert api.grant_access("ana@example.com", course, source=source).source == source


# --- revoke --------------------------------------------------------------------------------------


def test_revoke_sets_revoked_at_and_keeps_the_grant(course, clock):
    api.grant_access("ana@example.com", course)
    assert api.revoke_access(" ANA@example.com", course) is True
    obj = Grant.objects.get()
    assert obj.revoked_at == clock.now
    assert not obj.is_active()


def test_revoke_returns_false_when_there_is_no_grant(course):
    assert api.revoke_access("ana@example.com", course) is False
    assert Grant.objects.count() == 0


def test_revoke_returns_false_when_already_revoked(course, clock):
    api.grant_access("ana@example.com", course)
    assert api.revoke_access("ana@example.com", course) is True
    revoked_at = Grant.objects.get().revoked_at
    clock.advance(hours=1)
    assert api.revoke_access("ana@example.com", course) is False
    assert Grant.objects.get().revoked_at == revoked_at
    assert len(log_entries(Grant.objects.get(), REVOKE)) == 1


def test_revoke_of_an_expired_grant_still_revokes_it(course, clock):
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(hours=1))
    clock.advance(hours=2)
    assert api.revoke_access("ana@example.com", course) is True
    assert Grant.objects.get().revoked_at == clock.now


def test_revoke_only_touches_the_given_list(course):
    other = api.create_access_list("Other")
    api.grant_access("ana@example.com", course)
    api.grant_access("ana@example.com", other)
    api.revoke_access("ana@example.com", course)
    assert Grant.objects.get(access_list=other).revoked_at is None


def test_revoke_refuses_a_malformed_email(course):
    with pytest.raises(ValidationError):
        api.revoke_access("nonsense", course)


# --- audit log ---------------------------------------------------------------------------------


def test_grant_and_revoke_are_written_to_the_audit_log(course, clock):
    admin = UserFactory(username="admin", is_staff=True)
    expires = clock.now + timedelta(days=30)
    obj = api.grant_access(
        "ana@example.com",
        course,
        expires_at=expires,
        source=Grant.Source.PURCHASE,
        reference="order-7",
        added_by=admin,
    )
    api.grant_access("ana@example.com", course, expires_at=expires, source="manual")
    api.revoke_access("ana@example.com", course, by=admin)
    entries = log_entries(obj)
    assert [(e.action, e.user) for e in entries] == [
        (GRANT, admin),
        (GRANT, None),
        (REVOKE, admin),
    ]
    data = {
        "email": "ana@example.com",
        "list": "Course A",
        "list_id": course.pk,
        "expires_at": expires.isoformat(),
        "source": "purchase",
        "reference": "order-7",
    }
    assert entries[0].data == data | {"created": True}
    assert entries[1].data == data | {"source": "manual", "created": False}
    assert entries[2].data == data | {"source": "manual"}


def test_unlimited_grant_logs_expires_at_none(course):
    obj = api.grant_access("ana@example.com", course)
    assert log_entries(obj, GRANT)[0].data["expires_at"] is None


# --- signals -----------------------------------------------------------------------------------


def test_access_granted_is_sent_after_commit(course, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        obj = api.grant_access("ana@example.com", course)
        assert received == []
    assert received == [
        ("granted", Grant, {"signal": access_granted, "grant": obj, "created": True})
    ]


def test_access_granted_says_created_false_on_update(
    course, received, django_capture_on_commit_callbacks
):
    api.grant_access("ana@example.com", course)
    with django_capture_on_commit_callbacks(execute=True):
        obj = api.grant_access("ana@example.com", course, name="Ana")
    assert received == [
        ("granted", Grant, {"signal": access_granted, "grant": obj, "created": False})
    ]
    assert received[0][2]["grant"].name == "Ana"


def test_access_revoked_is_sent_after_commit(course, received, django_capture_on_commit_callbacks):
    obj = api.grant_access("ana@example.com", course)
    with django_capture_on_commit_callbacks(execute=True):
        api.revoke_access("ana@example.com", course)
        assert received == []
    assert [(name, sender) for name, sender, _ in received] == [("revoked", Grant)]
    assert received[0][2]["grant"].pk == obj.pk
    assert received[0][2]["grant"].revoked_at is not None


def test_no_signal_when_nothing_is_revoked(course, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert api.revoke_access("ana@example.com", course) is False
    assert callbacks == []
    assert received == []


def test_no_signal_for_a_repeated_reference(course, received, django_capture_on_commit_callbacks):
    api.grant_access("ana@example.com", course, reference="order-1")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        api.grant_access("ana@example.com", course, reference="order-1", notify=True)
    assert callbacks == []
    assert received == []


def test_no_signal_if_the_transaction_rolls_back(course, received):
    from django.db import transaction

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        api.grant_access("ana@example.com", course)
        raise Rollback
    assert received == []
    assert Grant.objects.count() == 0


# --- notify: "your access is ready" ---------------------------------------------------------


@pytest.fixture
def lessons(home, course):
    first = make_page(home, title="Lesson one", slug="lesson-one")
    second = make_page(home, title="Lesson two", slug="lesson-two")
    forum = make_page(home, title="Forum", slug="forum")
    api.protect(first, mode="code", access_lists=[course])
    api.protect(second, mode="code_or_link", access_lists=[course])
    api.protect(forum, mode="members", access_lists=[course])
    return first, second, forum


LINK = r"http://localhost/access/link/([A-Za-z0-9_-]{43})/"


def test_notify_sends_access_ready_listing_the_pages(
    course, lessons, mailoutbox, django_capture_on_commit_callbacks
):
    first, second, forum = lessons
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("Ana@Example.com", course, name="Ana", notify=True)
    [message] = mailoutbox
    assert message.to == ["ana@example.com"]
    assert message.subject == "Your access to Course A is ready"
    assert message.from_email == "site@example.com"
    lines = message.body.splitlines()
    assert lines[:3] == ["Hello Ana,", "", "You now have access to Course A on localhost."]
    # Pages unlocked by email get an unlock link for that page; the members-only page a
    # member sign-in link that lands on it.
    listed = [line for line in lines if line.startswith("- ")]
    assert len(listed) == 3
    links = {}
    for page in (first, second, forum):
        [line] = [line for line in listed if line.startswith(f"- {page.title}: ")]
        match = re.fullmatch(f"- {page.title}: {LINK}", line)
        assert match, line
        links[page.pk] = match.group(1)
    for page in (first, second):
        redemption = tokens.peek_link(links[page.pk])
        assert redemption.ok
        assert redemption.challenge.page_id == page.pk
        assert redemption.challenge.email == "ana@example.com"
    sign_in = tokens.peek_link(links[forum.pk]).challenge
    assert (sign_in.purpose, sign_in.page_id, sign_in.next_url) == ("sign_in", None, forum.url)
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    for page in (first, second, forum):
        assert f'<a href="http://localhost/access/link/{links[page.pk]}/">{page.title}</a>' in html


def test_no_email_without_notify(course, lessons, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("ana@example.com", course)
    assert mailoutbox == []


def test_no_access_ready_email_for_a_grant_revoked_before_it_went_out(
    course, lessons, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("ana@example.com", course, notify=True)
        api.revoke_access("ana@example.com", course)
    assert mailoutbox == []


def test_access_ready_email_is_sent_only_after_commit(
    course, lessons, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("ana@example.com", course, notify=True)
        assert mailoutbox == []
    assert len(mailoutbox) == 1
