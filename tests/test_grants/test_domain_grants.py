"""Domain grants in the grant path (grants/, seats.py, api.grant_access): validation that
changes nothing, one seat per member, freeing a seat, the audit log and the signals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from wagtail.models import ModelLogEntry

from tests.factories import UserFactory
from wagtail_member_access import api, grants, log_actions, seats
from wagtail_member_access.models import Grant, Seat
from wagtail_member_access.signals import access_granted, seat_freed, seat_taken

pytestmark = pytest.mark.django_db


SEATS = "The number of seats is a whole number, 1 or more (or empty for no limit)."


@pytest.fixture
def school(course):
    return api.grant_access("@School.Example", course, seats=2)


def _state():
    return (
        list(Grant.objects.values_list("email", "seats", "expires_at", "revoked_at")),
        Seat.objects.count(),
        ModelLogEntry.objects.count(),
    )


def test_a_domain_grant_is_stored_in_its_canonical_form(course, school):
    assert (school.email, school.seats, school.is_domain) == ("@school.example", 2, True)
    again = api.grant_access("@SCHOOL.example.", course, seats=3)
    assert again.pk == school.pk and again.seats == 3


def test_a_unicode_domain_is_the_same_grant_as_its_punycode(course):
    one = api.grant_access("@schüle.example", course)
    two = api.grant_access("@xn--schle-mva.example", course, seats=5)
    assert one.pk == two.pk and two.email == "@xn--schle-mva.example" and two.seats == 5


@pytest.mark.parametrize(
    ("email", "seats", "message"),
    [
        ("@school", 3, "“@school” is not a domain: enter one such as @school.example."),
        ("@evil example", 3, "“@evil example” is not a domain: enter one such as @school.example."),
        ("@school.example", 0, SEATS),
        ("@school.example", -4, SEATS),
        ("@school.example", "30", SEATS),
        ("@school.example", True, SEATS),
        ("ana@example.com", 3, "Seats are for a domain (@school.example), not for one address."),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(course, school, email, seats, message):
    before = _state()
    with pytest.raises(ValidationError) as info:
        api.grant_access(email, course, seats=seats)
    assert info.value.messages == [message]
    assert _state() == before


def test_seats_are_counted_once_per_member(course, school):
    first = seats.take(school.pk, "Ana@School.example")
    assert seats.take(school.pk, "ana@school.example") == first
    seats.take(school.pk, "ben@school.example")
    assert seats.used([school.pk]) == {school.pk: 2}
    # Full: a third member gets no seat, a member who holds one keeps it.
    assert seats.take(school.pk, "cem@school.example") is None
    assert seats.take(school.pk, "ana@school.example") == first
    assert Seat.objects.count() == 2


def test_a_seat_is_only_taken_at_exactly_the_domain(school):
    for email in (
        "ana@evil-school.example",
        "ana@school.example.evil.com",
        "ana@sub.school.example",
        "ana@sсhool.example",  # a Cyrillic "с"
    ):
        assert seats.take(school.pk, email) is None
    assert not Seat.objects.exists()


def test_seats_lowered_below_the_seats_taken_are_refused(course, school):
    seats.take(school.pk, "ana@school.example")
    seats.take(school.pk, "ben@school.example")
    before = _state()
    with pytest.raises(ValidationError) as info:
        api.grant_access("@school.example", course, seats=1)
    assert info.value.code == "seats_taken"
    assert info.value.messages == ["2 seats are taken: free seats before lowering the number to 1."]
    assert _state() == before
    assert api.grant_access("@school.example", course, seats=2).seats == 2
    assert api.grant_access("@school.example", course, seats=None).seats is None


def test_free_a_seat_logs_signals_and_frees_it_for_someone_else(
    school, django_capture_on_commit_callbacks
):
    editor_user = UserFactory(username="editor", is_staff=True)
    taken, freed = [], []

    def on_taken(**kwargs):
        taken.append((kwargs["seat"].email, kwargs["grant"].pk))

    def on_freed(**kwargs):
        freed.append((kwargs["seat"].email, kwargs["grant"].pk))

    seat_taken.connect(on_taken)
    seat_freed.connect(on_freed)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ana = seats.take(school.pk, "ana@school.example")
            seats.take(school.pk, "ben@school.example")
            assert seats.take(school.pk, "cem@school.example") is None
            grants.free_seat(ana, by=editor_user)
            assert seats.take(school.pk, "cem@school.example") is not None
    finally:
        seat_taken.disconnect(on_taken)
        seat_freed.disconnect(on_freed)
    assert taken == [
        ("ana@school.example", school.pk),
        ("ben@school.example", school.pk),
        ("cem@school.example", school.pk),
    ]
    assert freed == [("ana@school.example", school.pk)]
    entries = ModelLogEntry.objects.filter(
        action__in=[log_actions.SEAT_TAKEN, log_actions.SEAT_FREED]
    ).order_by("pk")
    assert [(e.action, e.data["email"], e.user_id) for e in entries] == [
        (log_actions.SEAT_TAKEN, "ana@school.example", None),
        (log_actions.SEAT_TAKEN, "ben@school.example", None),
        (log_actions.SEAT_FREED, "ana@school.example", editor_user.pk),
        (log_actions.SEAT_TAKEN, "cem@school.example", None),
    ]
    assert (
        entries[2].message == "Seat of ana@school.example freed on @school.example for “Course A”"
    )


def test_revoked_or_expired_domain_grant_gives_no_seat(course, school, clock):
    assert api.revoke_access("@School.example", course) is True
    assert seats.take(school.pk, "ana@school.example") is None
    grants.restore(Grant.objects.filter(pk=school.pk))
    api.grant_access("@school.example", course, duration=timedelta(days=1))
    clock.advance(days=2)
    assert seats.take(school.pk, "ana@school.example") is None
    assert not Seat.objects.exists()


def test_the_grant_is_logged_and_signalled_as_any_grant(course, django_capture_on_commit_callbacks):
    received = []

    def on_granted(**kwargs):
        received.append((kwargs["grant"].email, kwargs["created"]))

    access_granted.connect(on_granted)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            api.grant_access("@school.example", course, seats=30)
    finally:
        access_granted.disconnect(on_granted)
    assert received == [("@school.example", True)]
    entry = ModelLogEntry.objects.get(action=log_actions.GRANT)
    assert entry.data["email"] == "@school.example" and entry.data["seats"] == 30


def test_notify_sends_nothing_for_a_domain(course, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("@school.example", course, notify=True)
    assert mailoutbox == []


def test_deleting_an_account_frees_its_seats_and_forgets_the_address(school):
    seats.take(school.pk, "ana@school.example")
    grants.forget_email("ana@school.example")
    assert not Seat.objects.exists()
    entry = ModelLogEntry.objects.get(action=log_actions.SEAT_TAKEN)
    assert entry.data == {}


def test_the_access_email_is_never_sent_to_a_domain(school, mailoutbox):
    # The bulk action "Resend access email" on a domain grant records and sends nothing.
    from wagtail_member_access import tasks
    from wagtail_member_access.flows import access_ready

    tasks.enqueue_access_ready(school.pk)
    assert access_ready.record(school.pk) is None
    assert access_ready.send(school.pk) is False
    assert mailoutbox == []
