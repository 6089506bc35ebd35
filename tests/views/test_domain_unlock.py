"""Unlocking through a domain grant (docs/courses-and-teams.md#domain-grants-and-seats): an
address at exactly the domain gets the code, takes a seat when it uses it, and opens the
page; look-alike domains and new addresses once the seats are used up get the neutral
response and no email; a freed seat, a revoked or an expired domain grant close the page on
the next request; a member holding a seat costs no extra query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import code_from
from tests.factories import UserFactory
from tests.views.test_unlock import ask, normalised, unlock
from wagtail_member_access import access, api, grants
from wagtail_member_access.models import EmailChallenge, Seat

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(course):
    return api.grant_access("@school.example", course, seats=2)


def opens(client, page) -> bool:
    return "Secret body" in client.get(page.url).content.decode()


def test_an_address_at_the_domain_unlocks_and_takes_a_seat(
    client, protected_page, school, mailoutbox
):
    response = unlock(client, protected_page, " Ana@School.Example ", mailoutbox)
    assert response.status_code == 303
    assert [m.to for m in mailoutbox] == [["ana@school.example"]]
    assert opens(client, protected_page)
    assert list(Seat.objects.values_list("grant_id", "email")) == [
        (school.pk, "ana@school.example")
    ]
    # Coming back (a new code, another browser) takes no second seat.
    other = Client()
    unlock(other, protected_page, "ana@school.example", mailoutbox)
    assert opens(other, protected_page)
    assert Seat.objects.count() == 1


@pytest.mark.parametrize(
    "email",
    [
        "ana@evil-school.example",
        "ana@school.example.evil.com",
        "ana@sub.school.example",
        "ana@sсhool.example",  # a Cyrillic "с"
        "ana@xn--school-example.example",
    ],
)
def test_look_alike_domains_get_the_neutral_response_and_no_email(
    protected_page, school, mailoutbox, email
):
    listed, lookalike = Client(), Client()
    ask(listed, protected_page, "ben@example.org")
    expected = normalised(listed.get(protected_page.url).content.decode(), "ben@example.org")
    response = ask(lookalike, protected_page, email)
    assert response.status_code == 303
    html = lookalike.get(protected_page.url).content.decode()
    assert normalised(html, email) == expected
    assert mailoutbox == []
    assert not Seat.objects.exists()


def test_a_trailing_dot_is_not_an_address(client, protected_page, school, mailoutbox):
    response = ask(client, protected_page, "ana@school.example.")
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert mailoutbox == [] and not EmailChallenge.objects.exists()


def test_a_unicode_domain_matches_its_punycode_grant(client, protected_page, course, mailoutbox):
    api.grant_access("@xn--schle-mva.example", course)
    unlock(client, protected_page, "Ana@Schüle.example", mailoutbox)
    assert mailoutbox[0].to == ["ana@xn--schle-mva.example"]
    assert opens(client, protected_page)
    assert Seat.objects.get().email == "ana@xn--schle-mva.example"


def test_seats_full_gives_the_neutral_response_and_no_email(protected_page, school, mailoutbox):
    for email in ("ana@school.example", "ben@school.example"):
        unlock(Client(), protected_page, email, mailoutbox)
    assert Seat.objects.count() == 2
    sent = len(mailoutbox)

    full, unknown = Client(), Client()
    ask(unknown, protected_page, "nobody@example.org")
    expected = normalised(unknown.get(protected_page.url).content.decode(), "nobody@example.org")
    response = ask(full, protected_page, "cem@school.example")
    assert response.status_code == 303
    html = full.get(protected_page.url).content.decode()
    assert normalised(html, "cem@school.example") == expected
    assert len(mailoutbox) == sent
    challenge = EmailChallenge.objects.filter(email="cem@school.example").get()
    assert challenge.cancel_reason == EmailChallenge.CancelReason.NOT_ELIGIBLE
    # A member who holds a seat still gets codes.
    unlock(Client(), protected_page, "ana@school.example", mailoutbox)
    assert mailoutbox[-1].to == ["ana@school.example"]


def test_the_last_seat_taken_meanwhile_signs_nobody_in(client, protected_page, school, mailoutbox):
    ask(client, protected_page, "cem@school.example")  # sent: a seat is free now
    code = code_from(mailoutbox[-1])
    for email in ("ana@school.example", "ben@school.example"):
        unlock(Client(), protected_page, email, mailoutbox)
    verify = reverse("wagtail_member_access:verify_code", args=[protected_page.pk])
    client.post(verify, {"code": code, "next": protected_page.url})
    assert not opens(client, protected_page)
    assert "_auth_user_id" not in client.session
    assert not Seat.objects.filter(email="cem@school.example").exists()


def test_a_member_with_a_grant_of_their_own_takes_no_seat(
    client, protected_page, course, school, mailoutbox
):
    api.grant_access("ana@school.example", course)
    unlock(client, protected_page, "ana@school.example", mailoutbox)
    assert opens(client, protected_page)
    assert not Seat.objects.exists()


def test_a_freed_seat_closes_the_page_on_the_next_request(
    client, protected_page, school, mailoutbox
):
    unlock(client, protected_page, "ana@school.example", mailoutbox)
    assert opens(client, protected_page)
    grants.free_seat(Seat.objects.get())
    assert not opens(client, protected_page)


def test_revoke_and_expiry_of_the_domain_grant_act_on_the_next_request(
    client, protected_page, course, school, mailoutbox, clock
):
    unlock(client, protected_page, "ana@school.example", mailoutbox)
    assert opens(client, protected_page)
    api.revoke_access("@school.example", course)
    assert not opens(client, protected_page)
    api.grant_access("@school.example", course, duration=timedelta(days=1))  # restored
    assert opens(client, protected_page)  # the seat was kept
    clock.advance(days=1, seconds=1)
    assert not opens(client, protected_page)


def test_a_member_holding_a_seat_costs_what_a_member_with_a_grant_costs(
    protected_page, course, school, django_assert_num_queries, rf
):
    api.grant_access("own@example.com", course)
    own = UserFactory(username="own", email="own@example.com")
    seated = UserFactory(username="seated", email="ana@school.example")
    grants.grant("@school.example", course)  # unchanged; seats kept
    from wagtail_member_access import seats

    seats.take(school.pk, "ana@school.example")
    for user in (own, seated):
        # A first view writes last_access_at; the second is the steady cost.
        request = rf.get(protected_page.url)
        request.user = user
        access.decide(request, protected_page, restricted=True)
        request = rf.get(protected_page.url)
        request.user = user
        with django_assert_num_queries(1):  # the rules with the member's grants
            assert access.decide(request, protected_page, restricted=True).allowed


def test_can_view_and_my_access_see_the_seat(protected_page, course, school):
    from wagtail_member_access import seats
    from wagtail_member_access.flows.my_access import member_access

    user = UserFactory(username="ana", email="Ana@School.example")
    assert not api.can_view(user, protected_page)
    seats.take(school.pk, "ana@school.example")
    assert api.can_view(user, protected_page)
    assert [entry.list_name for entry in member_access(user)] == ["Course A"]
