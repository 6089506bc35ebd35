"""Bulk actions on a selection of grants through Wagtail's bulk-action views: extend by days
or to a date, set unlimited, revoke, restore, resend; each logged per grant, signalled, with
the reminder reset, a success message with counts, and bad input changing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from wagtail.log_actions import registry
from wagtail.models import ModelLogEntry

from tests.factories import GrantFactory
from wagtail_member_access import moments
from wagtail_member_access.signals import access_granted, access_revoked

pytestmark = pytest.mark.django_db


def bulk(action: str) -> str:
    return reverse("wagtail_bulk_action", args=("wagtail_member_access", "grant", action))


def grants_listing() -> str:
    return reverse("wagtail_member_access_grants:index")


def url(action, *grants, **params):
    query = "&".join(f"id={g.pk}" for g in grants)
    extra = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{bulk(action)}?{query}&next={grants_listing()}" + (f"&{extra}" if extra else "")


def messages(response):
    return [str(m).split("\n")[0] for m in response.wsgi_request._messages]


def entries(action):
    return list(
        ModelLogEntry.objects.filter(action=f"wagtail_member_access.{action}").order_by("pk")
    )


@pytest.fixture
def signals():
    calls = []

    def granted(sender, grant, created, **kwargs):
        calls.append(("granted", grant.email, created))

    def revoked(sender, grant, **kwargs):
        calls.append(("revoked", grant.email))

    access_granted.connect(granted)
    access_revoked.connect(revoked)
    yield calls
    access_granted.disconnect(granted)
    access_revoked.disconnect(revoked)


@pytest.fixture
def selection(course, clock):
    now = clock.now
    return [
        GrantFactory(
            access_list=course,
            email="a@example.com",
            expires_at=now + timedelta(days=2),
            reminder_sent_at=now,
        ),
        GrantFactory(
            access_list=course,
            email="b@example.com",
            expires_at=now - timedelta(days=5),
            expiry_recorded_at=now,
        ),
        GrantFactory(access_list=course, email="c@example.com"),  # unlimited
    ]


def test_extend_by_days(
    editor_client, editor, selection, clock, signals, django_capture_on_commit_callbacks
):
    page = editor_client.get(url("extend", *selection))
    assert page.status_code == 200
    assert "3 grants selected:" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(url("extend", *selection), {"days": "10", "until": ""})
    assert response.status_code == 302 and response.url == grants_listing()
    a, b, c = (g.__class__.objects.get(pk=g.pk) for g in selection)
    assert a.expires_at == clock.now + timedelta(days=12)  # from its end
    assert b.expires_at == clock.now + timedelta(days=10)  # ended: from now
    assert c.expires_at is None  # unlimited stays unlimited
    assert a.reminder_sent_at is None and b.expiry_recorded_at is None
    assert messages(response) == ["Access extended for 2 of 3 selected grants."]
    logged = entries("extend")
    assert [(e.data["email"], e.user) for e in logged] == [
        ("a@example.com", editor),
        ("b@example.com", editor),
    ]
    message = registry.get_formatter(logged[0]).format_message(logged[0])
    shown = moments.until(a.expires_at)
    assert message == f"Access of a@example.com on “Course A” now lasts {shown}"
    assert "T" not in message.split("lasts ")[1].split("(")[0]  # not the stored ISO value
    assert signals == [("granted", "a@example.com", False), ("granted", "b@example.com", False)]


def test_extend_to_a_date(editor_client, selection, clock):
    day = (clock.now + timedelta(days=40)).date()
    response = editor_client.post(url("extend", *selection), {"days": "", "until": day.isoformat()})
    assert messages(response) == ["Access extended for 3 of 3 selected grants."]
    expected = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    for grant in selection:
        grant.refresh_from_db()
        assert grant.expires_at == expected  # the whole last day


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"days": "", "until": ""}, "Give either a number of days or a date."),
        ({"days": "5", "until": "2040-01-01"}, "Give either a number of days or a date."),
        ({"days": "0", "until": ""}, "Ensure this value is greater than or equal to 1."),
        ({"days": "", "until": "2001-01-01"}, "The new end must be in the future."),
    ],
)
def test_extend_bad_input_changes_nothing(editor_client, selection, signals, data, error):
    before = [g.expires_at for g in selection]
    response = editor_client.post(url("extend", *selection), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert [g.__class__.objects.get(pk=g.pk).expires_at for g in selection] == before
    assert entries("extend") == [] and signals == []


def test_extend_to_a_date_before_a_start_changes_nothing(editor_client, course, clock):
    late = GrantFactory(
        access_list=course, email="late@example.com", starts_at=clock.now + timedelta(days=30)
    )
    early = GrantFactory(access_list=course, email="early@example.com")
    day = (clock.now + timedelta(days=10)).date().isoformat()
    response = editor_client.post(url("extend", late, early), {"days": "", "until": day})
    assert response.status_code == 200
    assert (
        "The new end is not after the start of the access of late@example.com."
        in response.content.decode()
    )
    early.refresh_from_db()
    assert early.expires_at is None and entries("extend") == []


def test_set_unlimited(editor_client, selection, signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(url("set_unlimited", *selection))
    assert messages(response) == ["Access made unlimited for 2 of 3 selected grants."]
    assert all(g.__class__.objects.get(pk=g.pk).expires_at is None for g in selection)
    assert [e.data["expires_at"] for e in entries("extend")] == [None, None]
    message = registry.get_formatter(entries("extend")[0]).format_message(entries("extend")[0])
    assert message == "Access of a@example.com on “Course A” now lasts with no end"
    assert len(signals) == 2


def test_revoke_and_restore(
    editor_client, editor, selection, clock, signals, django_capture_on_commit_callbacks
):
    a, b, c = selection
    c.revoked_at = clock.now
    c.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(url("revoke", *selection))
    assert messages(response) == ["Access revoked for 2 of 3 selected grants."]
    assert [e.data["email"] for e in entries("revoke")] == ["a@example.com", "b@example.com"]
    assert signals == [("revoked", "a@example.com"), ("revoked", "b@example.com")]
    a.refresh_from_db()
    assert a.revoked_at == clock.now and not a.is_active()

    signals.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(url("restore", a, c))
    # (the previous request's message is still unread: the client follows no redirect)
    assert messages(response)[-1] == "Access restored for 2 of 2 selected grants."
    a.refresh_from_db()
    assert a.revoked_at is None and a.is_active()
    assert [(e.data["email"], e.data["restored"], e.user) for e in entries("grant")] == [
        ("a@example.com", True, editor),
        ("c@example.com", True, editor),
    ]
    assert signals == [("granted", "a@example.com", False), ("granted", "c@example.com", False)]


def test_resend_emails_only_active_grants(
    editor_client, selection, protected_page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(url("resend", *selection))
    assert messages(response) == ["Access email queued for 2 of 3 selected grants."]
    assert sorted(m.to[0] for m in mailoutbox) == ["a@example.com", "c@example.com"]


def test_select_all_in_listing_acts_on_the_filtered_set(editor_client, course, selection, clock):
    # "Select all" sends the listing's query (filters, search) with id=all.
    response = editor_client.post(
        f"{bulk('revoke')}?id=all&access_list={course.pk}&status=expired&next={grants_listing()}"
    )
    assert messages(response) == ["Access revoked for 1 of 1 selected grant."]
    assert [g.email for g in course.grants.filter(revoked_at__isnull=False)] == ["b@example.com"]
