"""Member emails sent by editors (``admin/members.py``): one member from the user listing,
many members as a background bulk job with visible counts."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from wagtail.models import ModelLogEntry

from tests.admin.conftest import editor_with, send_bulk_email
from tests.factories import UserFactory
from wagtail_member_access import api, bulk, log_actions
from wagtail_member_access.models import BulkEmailJob

pytestmark = pytest.mark.django_db

ADD = reverse("wagtail_member_access_bulk_emails:add")
INDEX = reverse("wagtail_member_access_bulk_emails:index")


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(bulk.time, "sleep", lambda seconds: None)


@pytest.fixture
def sender(db):
    return editor_with("add_bulkemailjob", "view_bulkemailjob")


@pytest.fixture
def sender_client(client, sender):
    client.force_login(sender)
    return client


@pytest.fixture
def member(buyer):
    return UserFactory(username="ana", email="ana@example.com")


def send_one_url(user, kind):
    return reverse("wagtail_member_access_bulk_emails:send_one", args=[user.pk, kind])


def messages_of(response):
    return [str(m).strip() for m in response.context["messages"]]


def inspect_fields(html: str) -> dict[str, str]:
    """The labelled values of an inspect page: ``{"Sent": "2", …}``."""
    soup = BeautifulSoup(html, "html.parser")
    return {
        dt.get_text(strip=True): dt.find_next_sibling("dd").get_text(" ", strip=True)
        for dt in soup.select("dl dt")
    }


def listing_rows(html: str) -> list[dict[str, str]]:
    """The rows of an admin listing table, each as ``{column heading: cell text}``."""
    table = BeautifulSoup(html, "html.parser").select_one("table.listing")
    headings = [th.get_text(" ", strip=True) for th in table.select("thead th")]
    return [
        dict(
            zip(headings, (td.get_text(" ", strip=True) for td in row.find_all("td")), strict=True)
        )
        for row in table.select("tbody tr")
    ]


# --- one member ----------------------------------------------------------------------------------


def test_user_listing_offers_member_emails_to_senders_only(sender_client, sender, member, client):
    # Editors who manage users (Wagtail's "Users" menu) and may send member emails.
    sender.groups.get().permissions.add(Permission.objects.get(codename="change_user"))
    response = sender_client.get(reverse("wagtailusers_users:index"))
    assert send_one_url(member, "reset") in response.content.decode()
    assert send_one_url(member, "sign_in_link") in response.content.decode()
    other = editor_with("view_grant")
    client.force_login(other)
    assert client.get(send_one_url(member, "reset")).status_code == 302  # no admin perms
    assert not BulkEmailJob.objects.exists()


def test_staff_accounts_get_no_member_email_buttons(sender_client, sender):
    boss = UserFactory(username="boss", email="boss@example.com", is_staff=True)
    from wagtail_member_access.admin.members import user_listing_buttons

    assert user_listing_buttons(boss, sender) == []


def test_send_one_reset_confirms_then_sends(sender_client, member, mailoutbox):
    url = send_one_url(member, "reset")
    page = sender_client.get(url)
    assert page.status_code == 200
    assert "ana@example.com" in page.content.decode()
    assert mailoutbox == []  # the GET only asks
    response = sender_client.post(url, follow=True)
    assert [m.to for m in mailoutbox] == [["ana@example.com"]]
    assert "The email was sent to ana@example.com." in response.content.decode()


def test_send_one_invitation_sends_a_set_password_link(sender_client, sender, member, mailoutbox):
    # An editor who has the button: manages users and may send member emails.
    sender.groups.get().permissions.add(Permission.objects.get(codename="change_user"))
    url = send_one_url(member, "invite")
    page = sender_client.get(url).content.decode()
    assert "The member gets an invitation with a single-use link to set their own password." in page
    assert "ana@example.com" in page
    assert mailoutbox == []  # the GET only asks
    response = sender_client.post(url, follow=True)
    assert [m.to for m in mailoutbox] == [["ana@example.com"]]
    message = mailoutbox[0]
    assert message.subject == "Your invitation to localhost"
    match = re.search(r"http://localhost(/access/invitation/[A-Za-z0-9_-]{43}/)", message.body)
    assert match, message.body
    assert messages_of(response) == ["The email was sent to ana@example.com."]
    (entry,) = ModelLogEntry.objects.filter(action=log_actions.INVITE, object_id=str(member.pk))
    assert (entry.user_id, entry.data) == (sender.pk, {"email": "a**@example.com"})
    # The link leads the member to choose their password.
    opened = Client().get(match.group(1))
    assert (opened.status_code, opened["Location"]) == (
        303,
        reverse("wagtail_member_access:set_password"),
    )


@pytest.mark.parametrize("kind", ["reset", "sign_in_link", "invite"])
def test_send_one_to_staff_is_not_found_and_sends_nothing(sender_client, mailoutbox, kind):
    boss = UserFactory(username="boss", email="boss@example.com", is_superuser=True)
    for method in (sender_client.get, sender_client.post):
        response = method(send_one_url(boss, kind))
        assert response.status_code == 404
        assert "boss@example.com" not in response.content.decode()
    assert mailoutbox == []
    assert not ModelLogEntry.objects.filter(action__startswith="wagtail_member_access.").exists()


def test_send_one_unknown_kind_is_refused(sender_client, member):
    # Wagtail turns PermissionDenied in the admin into a redirect to the dashboard.
    response = sender_client.get(send_one_url(member, "access_ready"))
    assert (response.status_code, response["Location"]) == (302, reverse("wagtailadmin_home"))


def test_send_one_needs_the_permission(client, member, mailoutbox):
    client.force_login(editor_with("view_grant"))
    response = client.post(send_one_url(member, "reset"))
    assert (response.status_code, response["Location"]) == (302, reverse("wagtailadmin_home"))
    assert mailoutbox == []


# --- many members ------------------------------------------------------------------------------


@pytest.fixture
def members(course, protected_page):
    for name in ("ana", "ben"):
        api.grant_access(f"{name}@example.com", course)
    api.grant_access("old@example.com", course)
    api.revoke_access("old@example.com", course)
    return course


def test_bulk_email_to_a_whole_list_runs_after_the_response(sender_client, members, mailoutbox):
    response = send_bulk_email(sender_client, {"kind": "sign_in_link", "access_list": members.pk})
    job = BulkEmailJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "wagtail_member_access_bulk_emails:inspect", args=[job.pk]
    )
    assert job.recipients == ["ana@example.com", "ben@example.com"]  # active grants only
    job.refresh_from_db()
    assert (job.sent, job.failed, bool(job.finished_at)) == (2, 0, True)
    assert sorted(m.to[0] for m in mailoutbox) == ["ana@example.com", "ben@example.com"]
    page = sender_client.get(response["Location"]).content.decode()
    assert "Finished" in page


def test_bulk_email_to_given_addresses_shows_each_failure(sender_client, members, mailoutbox):
    UserFactory(username="boss", email="boss@example.com", is_staff=True)
    send_bulk_email(
        sender_client,
        {"kind": "reset", "emails": "ana@example.com\n\nBOSS@example.com\nana@example.com"},
    )
    job = BulkEmailJob.objects.get()
    assert (job.total, job.sent, job.failed) == (2, 1, 1)
    page = sender_client.get(
        reverse("wagtail_member_access_bulk_emails:inspect", args=[job.pk])
    ).content.decode()
    assert "boss@example.com" in page
    assert bulk.NOT_ELIGIBLE in page
    listing = sender_client.get(INDEX).content.decode()
    assert "Password reset" in listing


def test_bulk_email_job_page_and_listing_show_sent_and_failed_counts(
    sender_client, members, mailoutbox
):
    UserFactory(username="boss", email="boss@example.com", is_staff=True)
    send_bulk_email(
        sender_client,
        {"kind": "reset", "emails": "ana@example.com\nben@example.com\nboss@example.com"},
    )
    job = BulkEmailJob.objects.get()
    assert (job.total, job.sent, job.failed) == (3, 2, 1)
    assert sorted(m.to[0] for m in mailoutbox) == ["ana@example.com", "ben@example.com"]
    html = sender_client.get(
        reverse("wagtail_member_access_bulk_emails:inspect", args=[job.pk])
    ).content.decode()
    fields = inspect_fields(html)
    assert (fields["Total"], fields["Sent"], fields["Failed"]) == ("3", "2", "1")
    assert "Status: Finished" in BeautifulSoup(html, "html.parser").get_text(" ", strip=True)
    [row] = listing_rows(sender_client.get(INDEX).content.decode())
    assert {k: row[k] for k in ("Email", "Recipients", "Sent", "Failed", "Status")} == {
        "Email": "Password reset",
        "Recipients": "3",
        "Sent": "2",
        "Failed": "1",
        "Status": "Finished",
    }


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "reset"}, "emails", "Choose an access list or give addresses."),
        (
            {"kind": "reset", "emails": "ana@example.com\nnope"},
            "emails",
            "Not valid email addresses: nope",
        ),
        (
            {"kind": "access_ready", "emails": "ana@example.com"},
            "access_list",
            "Choose the access list whose email to send.",
        ),
    ],
)
def test_bulk_email_form_errors_change_nothing(sender_client, members, data, field, message):
    response = sender_client.post(ADD, data)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert not BulkEmailJob.objects.exists()


def test_bulk_email_to_an_empty_list_is_refused(sender_client, home):
    empty = api.create_access_list("Empty")
    response = sender_client.post(ADD, {"kind": "sign_in_link", "access_list": empty.pk})
    assert response.context["form"].errors["access_list"] == ["This list has no active grants."]


def test_the_form_is_prefilled_from_selected_grants(sender_client, members):
    ids = list(members.grants.order_by("email").values_list("pk", flat=True))[:2]
    query = "&".join(f"grant={pk}" for pk in ids)
    response = sender_client.get(f"{ADD}?kind=access_ready&list={members.pk}&{query}")
    form = response.context["form"]
    assert form.initial == {
        "kind": "access_ready",
        "access_list": str(members.pk),
        "emails": "ana@example.com\nben@example.com",
    }


def test_bulk_jobs_cannot_be_edited(sender_client, members):
    job = bulk.start("sign_in_link", ["ana@example.com"])
    assert sender_client.get(f"{INDEX}edit/{job.pk}/").status_code == 404


def test_bulk_emails_need_the_permission(viewer_client, members):
    assert viewer_client.get(ADD).status_code == 302  # Wagtail sends the user away
    assert viewer_client.post(
        ADD, {"kind": "sign_in_link", "access_list": members.pk}
    ).status_code in (
        302,
        403,
    )
    assert not BulkEmailJob.objects.exists()
