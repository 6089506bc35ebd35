"""Adding and editing a grant in the admin: saved through grants.grant (source "manual",
added_by the editor, one audit-log entry, one signal), every refusal a form error that
changes nothing, and the list's default access period for an empty expiry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse, reverse_lazy
from wagtail.models import ModelLogEntry
from wagtail.users.models import UserProfile

from tests.factories import AccessListFactory, GrantFactory, UserFactory
from wagtail_member_access import api
from wagtail_member_access.models import Grant, MemberProfile
from wagtail_member_access.signals import access_granted

pytestmark = pytest.mark.django_db

ADD = reverse_lazy("wagtail_member_access_grants:add")


def edit_url(grant) -> str:
    return reverse("wagtail_member_access_grants:edit", args=(grant.pk,))


def form_data(access_list, **values):
    data = {
        "access_list": access_list.pk,
        "email": "ana@example.com",
        "name": "Ana",
        "starts_at": "",
        "expires_at": "",
        "note": "",
    }
    return {**data, **values}


def messages(response) -> list[str]:
    """The messages' text (Wagtail appends an "Edit" button's HTML to success messages)."""
    return [str(m).split("\n")[0] for m in response.wsgi_request._messages]


def errors(response) -> dict:
    assert response.status_code == 200, response
    form = response.context["form"]
    return {k: [str(m) for m in v] for k, v in form.errors.items()}


@pytest.fixture
def signals():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    access_granted.connect(receiver)
    yield calls
    access_granted.disconnect(receiver)


def test_add_grants_through_the_grant_path(
    editor_client, editor, course, signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            ADD,
            form_data(
                course,
                email=" Ana@Example.COM ",
                expires_at="2031-01-31 18:00",
                note="Paid by invoice",
            ),
        )
    assert response.status_code == 302
    index = reverse("wagtail_member_access_grants:index")
    assert response.url == f"{index}?access_list={course.pk}"
    grant = Grant.objects.get()
    assert (grant.email, grant.name, grant.source, grant.added_by, grant.note) == (
        "ana@example.com",
        "Ana",
        "manual",
        editor,
        "Paid by invoice",
    )
    assert grant.expires_at.isoformat() == "2031-01-31T18:00:00+00:00"
    entries = ModelLogEntry.objects.for_instance(grant)
    assert [e.action for e in entries] == ["wagtail_member_access.grant"]
    assert entries[0].user == editor
    assert [(s["grant"].pk, s["created"]) for s in signals] == [(grant.pk, True)]
    assert messages(response) == ["Access granted to ana@example.com on “Course A”."]


def test_add_with_email_the_access_sends_the_access_ready_email(
    editor_client, course, protected_page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(ADD, form_data(course, notify="on"))
    assert messages(response) == [
        "Access granted to ana@example.com on “Course A”; the access email is sent."
    ]
    [mail] = mailoutbox
    assert mail.to == ["ana@example.com"]
    assert "Course A" in mail.subject
    assert protected_page.title in mail.body
    # Without the box ticked, no email.
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(ADD, form_data(course, email="bea@example.com"))
    assert len(mailoutbox) == 1


def test_the_access_email_is_in_the_members_language_not_the_editors(
    editor, editor_client, course, protected_page, mailoutbox, django_capture_on_commit_callbacks
):
    """docs/editing-emails.md#language: a German editor's grant emails a new member in the
    site's LANGUAGE_CODE (English here), and a member who used the site in German in German."""
    profile = UserProfile.get_for_user(editor)
    profile.preferred_language = "de"
    profile.save()
    known = UserFactory(username="bea@example.com", email="bea@example.com")
    MemberProfile.objects.create(user=known, language="de")
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(ADD, form_data(course, notify="on"))
        editor_client.post(ADD, form_data(course, email="bea@example.com", notify="on"))
    assert [(mail.to, mail.subject) for mail in mailoutbox] == [
        (["ana@example.com"], "Your access to Course A is ready"),
        (["bea@example.com"], "Ihr Zugang zu Course A ist bereit"),
    ]


def test_the_edit_form_has_no_email_the_access_box(editor_client, course):
    grant = GrantFactory(access_list=course)
    add = editor_client.get(ADD).content.decode()
    edit = editor_client.get(edit_url(grant)).content.decode()
    assert 'name="notify"' in add
    assert 'name="notify"' not in edit


@pytest.mark.parametrize("typed", ["2031-01-31", "2031-01-31 00:00"])
def test_an_expiry_date_without_a_time_lasts_to_the_end_of_that_day(editor_client, course, typed):
    # As in a CSV import: "until 31 January" includes 31 January. A time given is kept.
    editor_client.post(ADD, form_data(course, expires_at=typed))
    expected = "2031-02-01T00:00:00+00:00" if len(typed) == 10 else "2031-01-31T00:00:00+00:00"
    assert Grant.objects.get().expires_at.isoformat() == expected


def test_empty_expiry_gets_the_lists_default_period(editor_client, clock):
    course = AccessListFactory(default_days=30)
    editor_client.post(ADD, form_data(course, starts_at="2031-03-01 09:00"))
    grant = Grant.objects.get()
    assert grant.expires_at - grant.starts_at == timedelta(days=30)

    editor_client.post(ADD, form_data(course, email="bea@example.com"))
    assert Grant.objects.get(email="bea@example.com").expires_at == clock.now + timedelta(days=30)

    editor_client.post(ADD, form_data(course, email="cem@example.com", unlimited="on"))
    assert Grant.objects.get(email="cem@example.com").expires_at is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"email": "not-an-email"}, {"email": ["Enter a valid email address."]}),
        (
            {"starts_at": "2031-02-01 00:00", "expires_at": "2031-01-01 00:00"},
            {"expires_at": ["The access must end after it starts."]},
        ),
        (
            {"expires_at": "2031-01-01 00:00", "unlimited": "on"},
            {"unlimited": ["Either give an expiry date or tick “Unlimited”, not both."]},
        ),
    ],
)
def test_add_errors_change_nothing(
    editor_client, course, signals, values, expected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(ADD, form_data(course, **values))
    assert errors(response) == expected
    assert not Grant.objects.exists()
    assert not ModelLogEntry.objects.filter(action__startswith="wagtail_member_access").exists()
    assert signals == []


def test_add_for_an_email_already_on_the_list_is_refused(editor_client, course):
    api.grant_access("ana@example.com", course, name="Old")
    response = editor_client.post(ADD, form_data(course, name="New"))
    assert errors(response) == {
        "email": [
            "ana@example.com already has a grant on “Course A”. Edit that grant instead (a "
            "revoked one is restored with the bulk action “Restore”)."
        ]
    }
    assert Grant.objects.get().name == "Old"


def test_add_form_preselects_the_list(editor_client, course):
    response = editor_client.get(ADD, {"access_list": course.pk})
    assert response.context["form"].initial["access_list"] == course


def test_edit_changes_the_grant_and_keeps_email_and_list(editor_client, editor, course, clock):
    grant = GrantFactory(
        access_list=course,
        email="ana@example.com",
        starts_at=clock.now + timedelta(days=1),
        expires_at=clock.now + timedelta(days=3),
        reminder_sent_at=clock.now,
        expiry_recorded_at=clock.now,
    )
    other = AccessListFactory()
    url = edit_url(grant)
    response = editor_client.post(
        url,
        {
            "access_list": other.pk,  # disabled: ignored
            "email": "mallory@example.com",  # disabled: ignored
            "name": "Ana B.",
            "starts_at": "",
            "expires_at": "2031-06-30 12:00",
            "note": "extended by phone",
        },
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert (grant.email, grant.access_list, grant.name, grant.note) == (
        "ana@example.com",
        course,
        "Ana B.",
        "extended by phone",
    )
    assert grant.starts_at is None  # cleared: access from now on
    assert grant.expires_at.isoformat() == "2031-06-30T12:00:00+00:00"
    # A new expiry is a new period: the reminder and the expiry record start again.
    assert grant.reminder_sent_at is None and grant.expiry_recorded_at is None
    assert messages(response) == ["The grant of ana@example.com on “Course A” was saved."]


def test_edit_needs_an_expiry_or_unlimited(editor_client, course, clock):
    grant = GrantFactory(access_list=course, expires_at=clock.now + timedelta(days=3))
    url = edit_url(grant)
    data = {"name": "x", "starts_at": "", "expires_at": "", "note": ""}
    assert errors(editor_client.post(url, data)) == {
        "expires_at": ["Enter when the access ends, or tick “Unlimited”."]
    }
    grant.refresh_from_db()
    assert grant.expires_at == clock.now + timedelta(days=3)
    editor_client.post(url, {**data, "unlimited": "on"})
    grant.refresh_from_db()
    assert grant.expires_at is None


def revoked_grant(course, clock):
    grant = GrantFactory(access_list=course, email="ana@example.com", expires_at=None)
    grant.revoked_at = clock.now - timedelta(days=1)
    grant.save()
    return grant


def edit_data(**values):
    return {"name": "Ana B.", "starts_at": "", "expires_at": "", "unlimited": "on", **values}


def test_editing_a_revoked_grant_keeps_it_revoked_without_restore_access(
    editor_client, editor, course, clock, signals
):
    grant = revoked_grant(course, clock)
    revoked_at = grant.revoked_at
    html = editor_client.get(edit_url(grant)).content.decode()
    assert "Saving the form keeps it revoked" in html
    assert "restores its access" not in html
    assert 'name="restore"' in html and 'name="restore" checked' not in html
    response = editor_client.post(edit_url(grant), edit_data(note="Name corrected"))
    assert response.status_code == 302, errors(response)
    grant.refresh_from_db()
    assert (grant.name, grant.note, grant.revoked_at) == ("Ana B.", "Name corrected", revoked_at)
    assert not grant.is_active()
    assert signals == []  # no access_granted: no access was given
    entry = ModelLogEntry.objects.get()
    assert (entry.action, entry.user) == ("wagtail.edit", editor)


def test_restore_access_on_a_revoked_grants_form_gives_its_access_back(
    editor_client, editor, course, clock, signals, django_capture_on_commit_callbacks
):
    grant = revoked_grant(course, clock)
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(edit_url(grant), edit_data(restore="on"))
    assert response.status_code == 302, errors(response)
    grant.refresh_from_db()
    assert grant.revoked_at is None and grant.is_active()
    assert len(signals) == 1
    entry = ModelLogEntry.objects.get()
    assert (entry.action, entry.user) == ("wagtail_member_access.grant", editor)


def test_an_invalid_edit_of_a_revoked_grant_with_restore_changes_nothing(
    editor_client, course, clock
):
    grant = revoked_grant(course, clock)
    response = editor_client.post(edit_url(grant), edit_data(restore="on", unlimited=""))
    assert errors(response) == {"expires_at": ["Enter when the access ends, or tick “Unlimited”."]}
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.name == "Buyer"


@pytest.mark.parametrize("revoked", [False, True], ids=["active", "revoked"])
def test_restore_access_is_only_on_a_revoked_grants_form(editor_client, course, clock, revoked):
    grant = revoked_grant(course, clock) if revoked else GrantFactory(access_list=course)
    html = editor_client.get(edit_url(grant)).content.decode()
    assert ('name="restore"' in html) is revoked
    assert 'name="restore"' not in editor_client.get(ADD).content.decode()
    # A "restore" posted to an active grant's form changes nothing about it.
    if not revoked:
        editor_client.post(edit_url(grant), edit_data(restore="on"))
        grant.refresh_from_db()
        assert grant.revoked_at is None


def status_panel(html: str) -> str:
    """The text of the status side panel's first entry (Wagtail: "Live")."""
    start = html.index('aria-labelledby="status-sidebar-')
    return " ".join(re.sub(r"<[^>]+>", " ", html[start : html.index("</section>", start)]).split())


def test_the_status_panel_of_a_revoked_grant_says_revoked_not_live(editor_client, course, clock):
    grant = revoked_grant(course, clock)
    panel = status_panel(editor_client.get(edit_url(grant)).content.decode())
    assert "Revoked" in panel and "revoked on" in panel
    assert "Live" not in panel
    active = GrantFactory(access_list=course, email="bo@example.com")
    panel = status_panel(editor_client.get(edit_url(active)).content.decode())
    assert "Active" in panel and "Unlimited" in panel and "Live" not in panel


def test_access_list_form_slug_site_and_default_days(editor_client):
    response = editor_client.post(
        reverse("wagtail_member_access_lists:add"),
        {"name": "Yoga Kurs", "slug": "", "description": "", "site": "", "default_days": "0"},
    )
    assert errors(response) == {
        "default_days": ["Enter a number of days of 1 or more, or leave it empty."]
    }
    editor_client.post(
        reverse("wagtail_member_access_lists:add"),
        {"name": "Yoga Kurs", "slug": "", "description": "", "site": "", "default_days": "90"},
    )
    from wagtail_member_access.models import AccessList

    created = AccessList.objects.get(name="Yoga Kurs")
    assert (created.slug, created.site, created.default_days) == ("yoga-kurs", None, 90)


def test_an_end_of_day_expiry_is_shown_as_its_last_day_and_kept_on_save(editor_client, course):
    # Access "until 31 January 2031" is stored as midnight of 1 February (UTC in tests).
    response = editor_client.post(ADD, form_data(course, expires_at="2031-01-31"))
    assert response.status_code == 302
    grant = Grant.objects.get()
    assert grant.expires_at.isoformat() == "2031-02-01T00:00:00+00:00"
    listing = editor_client.get(reverse("wagtail_member_access_grants:index")).content.decode()
    assert "end of 31 January 2031 (UTC)" in listing
    assert "Feb. 1, 2031" not in listing
    form = editor_client.get(edit_url(grant)).context["form"]
    assert form.initial["expires_at"] == "2031-01-31"
    assert 'value="2031-01-31"' in str(form["expires_at"])
    data = form_data(course, name="Ana B.", expires_at=form.initial["expires_at"])
    assert editor_client.post(edit_url(grant), data).status_code == 302
    grant.refresh_from_db()
    assert (grant.name, grant.expires_at.isoformat()) == ("Ana B.", "2031-02-01T00:00:00+00:00")


def test_an_expiry_with_a_time_keeps_it_and_names_the_time_zone(editor_client, course):
    editor_client.post(ADD, form_data(course, expires_at="2031-01-31 18:00"))
    grant = Grant.objects.get()
    listing = editor_client.get(reverse("wagtail_member_access_grants:index")).content.decode()
    assert "31 January 2031, 18:00 (UTC)" in listing
    form = editor_client.get(edit_url(grant)).context["form"]
    assert "2031-01-31 18:00" in str(form["expires_at"])


@pytest.mark.parametrize("view", ["add", "edit"])
def test_starts_and_expires_use_wagtails_date_time_picker(editor_client, course, view):
    grant = GrantFactory(access_list=course, expires_at=None)
    url = ADD if view == "add" else edit_url(grant)
    html = editor_client.get(url).content.decode()
    for name in ("starts_at", "expires_at"):
        assert f'initDateTimeChooser("id_{name}"' in html
    # An expiry shown as its last day must not become that day's start when the field
    # loses focus (the picker would rewrite "2031-01-31" as "2031-01-31 00:00").
    expires_script = html.split('initDateTimeChooser("id_expires_at", ')[1].split(");")[0]
    assert '"validateOnBlur": false' in expires_script
    # A day picked is written as a date only (the end of that day), never with the clock
    # time Wagtail's picker would add.
    assert '"format": "Y-m-d"' in expires_script
    assert '"timepicker": false' in expires_script
