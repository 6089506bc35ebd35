"""Drip (``api.protect(..., opens_after=...)``): pages that open some days after a member's
access started. Time is moved with the ``clock`` fixture; the grant's start is the one the
access decision reads (``starts_at``, or when the grant was added)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from smtplib import SMTPException

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from wagtail.models import PageLogEntry

from tests.factories import AccessListFactory, UserFactory, make_page
from wagtail_member_access import access, api, emails, grants, lessons, moments
from wagtail_member_access.models import Grant, LessonNotice, PageAccessRestriction

pytestmark = pytest.mark.django_db

WEEK = timedelta(days=7)


@pytest.fixture
def lessons_tree(home, course):
    """A course page (code, no drip) with three lessons: lesson 1 open at once, lesson 2
    after a week, lesson 3 after two weeks."""
    parent = make_page(home, title="Course", slug="course")
    api.protect(parent, mode="code", access_lists=[course])
    one = make_page(parent, title="Lesson 1", slug="lesson-1")
    two = make_page(parent, title="Lesson 2", slug="lesson-2")
    three = make_page(parent, title="Lesson 3", slug="lesson-3")
    api.protect(one, mode="code", access_lists=[course])
    api.protect(two, mode="code", access_lists=[course], opens_after=WEEK)
    api.protect(three, mode="code", access_lists=[course], opens_after=2 * WEEK)
    return parent, one, two, three


@pytest.fixture
def ana(db):
    return UserFactory(username="ana", email="ana@example.com")


def request_for(page, user):
    request = RequestFactory().get(page.url)
    request.user = user
    return request


def decide(page, user):
    return access.decide(request_for(page, user), page, restricted=True)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            timedelta(0),
            "A page opens a whole number of days after a member's access starts: 1 or more.",
        ),
        (
            timedelta(days=-1),
            "A page opens a whole number of days after a member's access starts: 1 or more.",
        ),
        (
            timedelta(days=1, hours=2),
            "A page opens a whole number of days after a member's access starts: 1 or more.",
        ),
        (
            timedelta(days=3651),
            "A page can open at most 3650 days after a member's access starts.",
        ),
        (7, "The delay before a page opens must be a duration (datetime.timedelta)."),
    ],
)
def test_bad_delays_are_refused_and_change_nothing(home, course, value, message):
    page = make_page(home, title="Lesson", slug="lesson")
    api.protect(page, mode="code", access_lists=[course])
    with pytest.raises(ValidationError) as error:
        api.protect(page, mode="link", access_lists=[course], opens_after=value)
    assert error.value.messages == [message]
    restriction = PageAccessRestriction.objects.get(page=page)
    assert (restriction.mode, restriction.opens_after) == ("code", None)


NEEDS_LISTS = (
    "Opening a page some days after a member's access starts needs at least one access list: "
    "the days count from the start of the member's grant on it, and signed-in members or "
    "groups have no such start."
)


def test_members_only_without_lists_cannot_drip(home):
    page = make_page(home, title="Lesson", slug="lesson")
    group = Group.objects.create(name="Staff room")
    for groups in ([], [group]):
        with pytest.raises(ValidationError) as error:
            api.protect(page, mode="members", groups=groups, opens_after=WEEK)
        assert error.value.messages == [NEEDS_LISTS]
    assert not PageAccessRestriction.objects.filter(page=page).exists()


def test_the_longest_delay_is_accepted(home, course):
    page = make_page(home, title="Lesson", slug="lesson")
    restriction = api.protect(
        page, mode="code", access_lists=[course], opens_after=timedelta(days=3650)
    )
    restriction.refresh_from_db()
    assert restriction.opens_after == timedelta(days=3650)


def test_a_change_of_delay_is_in_the_page_history(home, course, admin_user):
    page = make_page(home, title="Lesson", slug="lesson")
    api.protect(page, mode="code", access_lists=[course])
    api.protect(page, mode="code", access_lists=[course], opens_after=WEEK, user=admin_user)
    api.protect(page, mode="link", access_lists=[course], opens_after=WEEK)  # unchanged
    api.protect(page, mode="link", access_lists=[course])
    entries = PageLogEntry.objects.filter(page=page, action="wagtail_member_access.drip")
    assert [e.data for e in entries.order_by("pk")] == [{"days": 7}, {"days": None}]
    assert [e.message for e in entries.order_by("pk")] == [
        "Pages open 7 days after a member's access starts",
        "Pages open as soon as a member's access starts",
    ]
    assert entries.order_by("pk").first().user == admin_user


# --- the decision ------------------------------------------------------------------------------


def test_closed_on_day_6_at_23_59_and_open_on_day_7(lessons_tree, course, ana, clock):
    _, one, two, _ = lessons_tree
    buyer = api.grant_access("ana@example.com", course)
    assert decide(one, ana).allowed
    clock.advance(days=6, hours=23, minutes=59, seconds=59)
    decision = decide(two, ana)
    assert not decision.allowed
    assert decision.opens_at == buyer.created_at + WEEK
    assert decision.failed.page_id == two.pk
    clock.advance(seconds=1)
    assert decide(two, ana).allowed


def test_the_grant_start_counts_and_an_editor_can_move_it(lessons_tree, course, ana, clock):
    _, _, two, _ = lessons_tree
    start = clock.now + timedelta(days=2)
    api.grant_access("ana@example.com", course, starts_at=start)
    clock.advance(days=8)  # 6 days after the start
    assert decide(two, ana).opens_at == start + WEEK
    # The editor moves the start back by two days (the admin's grant form calls grants.grant).
    grants.grant("ana@example.com", course, starts_at=start - timedelta(days=2))
    assert decide(two, ana).allowed


def test_the_earliest_of_two_lists_counts(lessons_tree, course, ana, clock):
    _, _, two, _ = lessons_tree
    other = AccessListFactory(name="Bundle")
    api.protect(two, mode="code", access_lists=[course, other], opens_after=WEEK)
    api.grant_access("ana@example.com", other)
    clock.advance(days=3)
    api.grant_access("ana@example.com", course)
    clock.advance(days=4)
    assert decide(two, ana).allowed  # a week after the bundle's start


@pytest.fixture
def lesson_under_other_course(home, course):
    """Lesson 2 (drips on ``course``) below a course page that needs another list."""
    parent = make_page(home, title="Course", slug="course")
    api.protect(parent, mode="code", access_lists=[AccessListFactory(name="Other course")])
    lesson = make_page(parent, title="Lesson 2", slug="lesson-2")
    api.protect(lesson, mode="code", access_lists=[course], opens_after=WEEK)
    return parent, lesson


def test_drip_under_a_protected_parent_still_needs_the_parent(
    lesson_under_other_course, course, ana, clock
):
    parent, lesson = lesson_under_other_course
    api.grant_access("ana@example.com", course)
    clock.advance(days=8)
    decision = decide(lesson, ana)
    assert not decision.allowed
    assert decision.opens_at is None  # the parent refuses: never "opens on"
    assert decision.failed.page_id == parent.pk


def test_a_closed_parent_holds_an_open_child(home, course, ana, clock):
    parent = make_page(home, title="Week 2", slug="week-2")
    api.protect(parent, mode="code", access_lists=[course], opens_after=WEEK)
    lesson = make_page(parent, title="Lesson 2a", slug="lesson-2a")
    api.protect(lesson, mode="code", access_lists=[course])
    buyer = api.grant_access("ana@example.com", course)
    assert decide(lesson, ana).opens_at == buyer.created_at + WEEK
    clock.advance(days=7)
    assert decide(lesson, ana).allowed


def test_two_closed_restrictions_open_at_the_later_date(home, course, ana, clock):
    parent = make_page(home, title="Week 2", slug="week-2")
    api.protect(parent, mode="code", access_lists=[course], opens_after=WEEK)
    lesson = make_page(parent, title="Lesson", slug="lesson")
    api.protect(lesson, mode="code", access_lists=[course], opens_after=2 * WEEK)
    buyer = api.grant_access("ana@example.com", course)
    assert decide(lesson, ana).opens_at == buyer.created_at + 2 * WEEK


@pytest.mark.parametrize("mode", ["members", "code", "link", "code_or_link"])
def test_every_mode_drips(home, course, ana, clock, mode):
    page = make_page(home, title="Lesson", slug="lesson")
    api.protect(page, mode=mode, access_lists=[course], opens_after=WEEK)
    buyer = api.grant_access("ana@example.com", course)
    assert decide(page, ana).opens_at == buyer.created_at + WEEK
    assert not api.can_view(ana, page)
    clock.advance(days=7)
    assert api.can_view(ana, page)


def test_a_group_member_is_not_held_back(home, course, ana, clock):
    group = Group.objects.create(name="Teachers")
    ana.groups.add(group)
    page = make_page(home, title="Lesson", slug="lesson")
    api.protect(page, mode="members", access_lists=[course], groups=[group], opens_after=WEEK)
    api.grant_access("ana@example.com", course)
    assert decide(page, ana).allowed


def test_an_editor_sees_a_closed_lesson(lessons_tree, course, admin_user):
    _, _, two, _ = lessons_tree
    assert decide(two, admin_user).allowed


def test_a_drip_adds_no_query_for_an_unlocked_member(
    lessons_tree, course, ana, clock, django_assert_num_queries
):
    _, one, two, _ = lessons_tree
    api.grant_access("ana@example.com", course)
    clock.advance(days=8)
    decide(one, ana)  # last access written
    for page in (one, two):
        with django_assert_num_queries(1):  # the rules with the grants, as without drip
            assert decide(page, ana).allowed


# --- sending a code to a member whose lesson is not open yet -----------------------------------


def test_a_code_is_still_sent_for_a_closed_lesson(lessons_tree, course):
    _, _, two, _ = lessons_tree
    api.grant_access("ana@example.com", course)
    assert access.email_may_view("ana@example.com", two) == "ana@example.com"
    assert access.member_may_view("ana@example.com", two, open_now=True) is None


# --- the "opens on" page -----------------------------------------------------------------------


def test_the_opens_on_page(client, lessons_tree, course, ana, clock):
    _, one, two, three = lessons_tree
    buyer = api.grant_access("ana@example.com", course)
    client.force_login(ana)
    response = client.get(two.url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Secret body" not in html
    when = moments.moment(buyer.created_at + WEEK)
    assert f"This lesson opens on {when}." in html
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]
    lessons_list = [lesson for lesson in response.context["lessons"]]
    assert [(lesson.title, lesson.opens_at) for lesson in lessons_list] == [
        ("Lesson 1", None),
        ("Lesson 3", buyer.created_at + 2 * WEEK),
    ]
    assert f'<a href="{one.url}">Lesson 1</a>' in html
    clock.advance(days=7)
    response = client.get(two.url)
    assert "Secret body of Lesson 2" in response.content.decode()


def test_a_signed_out_visitor_gets_the_unlock_form_not_the_date(client, lessons_tree, course):
    _, _, two, _ = lessons_tree
    api.grant_access("ana@example.com", course)
    html = client.get(two.url).content.decode()
    assert "opens on" not in html
    assert 'name="email"' in html


# --- My access ---------------------------------------------------------------------------------


def test_my_access_shows_the_schedule(client, lessons_tree, course, ana, clock):
    buyer = api.grant_access("ana@example.com", course)
    client.force_login(ana)
    html = client.get(reverse("wagtail_member_access:my_access")).content.decode()
    for title, delay in (("Lesson 2", WEEK), ("Lesson 3", 2 * WEEK)):
        date = moments.moment(buyer.created_at + delay)
        assert f"{title} opens on {date}" in html
    clock.advance(days=7)
    html = client.get(reverse("wagtail_member_access:my_access")).content.decode()
    assert "Lesson 2 opens on" not in html
    assert "Lesson 3 opens on" in html


# --- the lesson email --------------------------------------------------------------------------


@pytest.fixture
def lesson_emails(settings):
    settings.WAGTAIL_MEMBER_ACCESS_LESSON_EMAILS = True


def test_no_lesson_email_by_default(lessons_tree, course, clock, mailoutbox):
    api.grant_access("ana@example.com", course)
    clock.advance(days=7)
    assert lessons.run().counts() == {"lessons_emailed": 0, "lesson_emails_failed": 0}
    assert mailoutbox == []


def test_the_lesson_email_is_sent_once_by_two_runs(
    lesson_emails, lessons_tree, course, clock, mailoutbox
):
    _, _, two, _ = lessons_tree
    buyer = api.grant_access("ana@example.com", course, name="Ana")
    clock.advance(days=6, hours=23)
    assert lessons.run().sent == []
    clock.advance(hours=1)
    assert [entry[2] for entry in lessons.run().sent] == ["Lesson 2"]
    assert lessons.run().sent == []
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ana@example.com"]
    assert message.subject == "Now open: Lesson 2"
    assert "http://localhost/course/lesson-2/" in message.body
    assert LessonNotice.objects.filter(grant=buyer).count() == 1


def test_two_grants_of_one_member_on_the_lessons_lists_send_one_email(
    lesson_emails, home, course, clock, mailoutbox
):
    """A lesson protected by two lists: the member holds a grant on each, which become due
    on different days; the member still gets one email (docs/courses-and-teams.md
    #lesson-email)."""
    bundle = api.create_access_list("Bundle")
    lesson = make_page(home, title="Lesson 2", slug="lesson-2")
    api.protect(lesson, mode="code", access_lists=[course, bundle], opens_after=WEEK)
    api.grant_access("ana@example.com", course)
    clock.advance(days=1)
    api.grant_access("ana@example.com", bundle)
    clock.advance(days=6)
    assert [entry[2] for entry in lessons.run().sent] == ["Lesson 2"]
    clock.advance(days=1)  # the second grant's week is over too
    assert lessons.run().sent == []
    assert len(mailoutbox) == 1
    assert list(LessonNotice.objects.values_list("email", flat=True)) == ["ana@example.com"]


def test_a_domain_grant_gets_no_lesson_email(
    lesson_emails, lessons_tree, course, clock, mailoutbox
):
    api.grant_access("@school.example", course, seats=3)
    clock.advance(days=7)
    assert lessons.run().counts() == {"lessons_emailed": 0, "lesson_emails_failed": 0}
    assert mailoutbox == []


def test_no_lesson_email_while_the_parent_refuses(
    lesson_emails, lesson_under_other_course, course, clock, mailoutbox
):
    api.grant_access("ana@example.com", course)
    clock.advance(days=7)
    assert lessons.run().sent == []
    assert mailoutbox == []


def test_old_openings_are_not_emailed(lesson_emails, lessons_tree, course, clock, mailoutbox):
    api.grant_access("ana@example.com", course)
    clock.advance(days=7 + 3, seconds=1)  # lesson 2 opened more than LOOKBACK ago
    assert lessons.run().sent == []
    clock.advance(days=4)  # lesson 3 opens
    assert [entry[2] for entry in lessons.run().sent] == ["Lesson 3"]


def test_a_failed_lesson_email_is_tried_again(
    lesson_emails, lessons_tree, course, clock, mailoutbox, monkeypatch
):
    api.grant_access("ana@example.com", course)
    clock.advance(days=7)

    def down(*args, **kwargs):
        raise SMTPException("connection refused")

    send = emails.EmailMultiAlternatives.send
    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", down)
    report = lessons.run()
    assert [entry[2] for entry in report.failed] == ["Lesson 2"]
    assert not LessonNotice.objects.exists()
    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", send)
    assert [entry[2] for entry in lessons.run().sent] == ["Lesson 2"]
    assert len(mailoutbox) == 1


# --- the start a purchase sets -----------------------------------------------------------------


def purchase_again(course, clock) -> Grant:
    """A second order for the same address, as the webhook grants it."""
    obj, _ = grants.grant(
        "ana@example.com",
        course,
        source=Grant.Source.PURCHASE,
        reference="order-2",
        expires_at=clock.now + timedelta(days=30),
        extend_only=True,
    )
    return obj


def test_a_purchase_restoring_an_ended_grant_starts_it_again(course, clock):
    old = api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(days=30))
    clock.advance(days=40)
    obj = purchase_again(course, clock)
    assert obj.pk == old.pk
    assert obj.starts_at == clock.now


def test_a_purchase_renewing_a_running_grant_keeps_its_start(course, clock):
    old = api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(days=30))
    clock.advance(days=20)
    obj = purchase_again(course, clock)
    assert obj.starts_at is None
    assert obj.created_at == old.created_at


def test_the_expire_command_sends_the_lesson_emails(
    lesson_emails, lessons_tree, course, clock, mailoutbox
):
    api.grant_access("ana@example.com", course)
    clock.advance(days=7)
    out = StringIO()
    call_command("member_access_expire", stdout=out)
    assert out.getvalue().splitlines()[-1] == "lesson emails sent: 1"
    call_command("member_access_expire", stdout=StringIO())
    assert [m.subject for m in mailoutbox] == ["Now open: Lesson 2"]


def test_a_closed_lesson_is_hidden_from_listings_until_it_opens(lessons_tree, course, ana, clock):
    parent, one, two, three = lessons_tree
    api.grant_access("ana@example.com", course)
    request = request_for(parent, ana)
    children = parent.get_children().live()
    assert set(api.visible_pages(request, children)) == {one.page_ptr}
    clock.advance(days=7)
    assert set(api.visible_pages(request_for(parent, ana), children)) == {
        one.page_ptr,
        two.page_ptr,
    }
