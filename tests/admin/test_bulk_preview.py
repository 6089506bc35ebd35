"""The bulk email form's preview (``admin/bulk_preview.py``): what the first recipient will
receive, rendered like every email, with example codes and links, served sandboxed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse

from tests.admin.conftest import confirmation_of, editor_with, send_bulk_email
from tests.factories import UserFactory, make_page
from wagtail_member_access import api, bulk
from wagtail_member_access.email_kinds import KINDS
from wagtail_member_access.models import BulkEmailJob, EmailChallenge, MemberProfile

pytestmark = pytest.mark.django_db

ADD = reverse("wagtail_member_access_bulk_emails:add")
PREVIEW = reverse("wagtail_member_access_bulk_emails:preview")
EXAMPLE_LINK = KINDS["unlock_link"].placeholders["link"].example


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(bulk.time, "sleep", lambda seconds: None)


@pytest.fixture
def sender_client(client, db):
    client.force_login(editor_with("add_bulkemailjob", "view_bulkemailjob"))
    return client


@pytest.fixture
def course_with_pages(course, home):
    lesson = make_page(home, title="Lesson <1>", slug="lesson-1")
    api.protect(lesson, mode="code", access_lists=[course])
    api.grant_access(
        "ana@example.com",
        course,
        name="Ana & Bo",
        expires_at=datetime(2031, 2, 1, tzinfo=ZoneInfo("UTC")),  # until the end of 31 January
    )
    api.grant_access("ben@example.com", course, name="Ben")
    return lesson


def preview_frame(response) -> str:
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    section = soup.select_one("[data-bulk-email-preview]")
    assert section is not None, "no preview shown"
    frame = section.find("iframe")
    assert frame["sandbox"] in ("", [])  # a bare sandbox: nothing allowed
    return section.get_text(" ", strip=True), frame["src"]


def test_preview_of_the_access_email_shows_the_first_recipients_values(
    sender_client, course, course_with_pages, mailoutbox
):
    response = sender_client.post(
        ADD, {"kind": "access_ready", "access_list": course.pk, "preview": "1"}
    )
    assert response.status_code == 200
    text, src = preview_frame(response)
    assert "What ana@example.com, the first of 2 recipients, will receive." in text
    assert src == f"{PREVIEW}?kind=access_ready&email=ana%40example.com&access_list={course.pk}"
    page = sender_client.get(src)
    assert page.status_code == 200
    assert page["Content-Security-Policy"] == "sandbox"
    assert page["Referrer-Policy"] == "no-referrer"
    assert page["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-cache" in page["Cache-Control"]
    soup = BeautifulSoup(page.content.decode(), "html.parser")
    assert soup.select_one("[data-email-to]").get_text() == "ana@example.com"
    assert soup.select_one("[data-email-subject]").get_text() == "Your access to Course A is ready"
    text_part = soup.select_one("[data-email-text]").get_text()
    assert text_part.startswith(
        "Hello Ana & Bo,\n\nYou now have access to Course A on localhost. "
        "Your access lasts until the end of 31 January 2031 (UTC).\n\n"
        f"- Lesson <1>: {EXAMPLE_LINK}\n"
    )
    html_part = soup.select_one("[data-email-html]")
    assert html_part["sandbox"] in ("", [])
    assert "Hello Ana &amp; Bo," in html_part["srcdoc"]  # escaped in the HTML part
    assert "Lesson &lt;1&gt;" in html_part["srcdoc"]
    # Nothing was sent, recorded or issued: a preview makes no codes or links.
    assert mailoutbox == []
    assert not BulkEmailJob.objects.exists()
    assert not EmailChallenge.objects.exists()


def test_preview_of_an_access_email_for_a_list_without_pages(sender_client, course):
    api.grant_access("ana@example.com", course)
    page = sender_client.get(
        PREVIEW, {"kind": "access_ready", "email": "ana@example.com", "access_list": course.pk}
    )
    text_part = BeautifulSoup(page.content.decode(), "html.parser").select_one("[data-email-text]")
    assert "To open a page of Course A, enter ana@example.com on it" in text_part.get_text()
    assert "Each link" not in text_part.get_text()


def test_preview_uses_the_editors_version_in_the_members_language(sender_client, course):
    api.set_email_template(
        "sign_in_link",
        subject="Anmelden bei {{ site_name }}",
        text="Hallo {{ email }}, hier: {{ link }}",
        language="de",
    )
    member = UserFactory(username="ana", email="ana@example.com")
    MemberProfile.objects.create(user=member, language="de")
    response = sender_client.post(
        ADD, {"kind": "sign_in_link", "emails": "ana@example.com\nben@example.com", "preview": "1"}
    )
    text, src = preview_frame(response)
    soup = BeautifulSoup(sender_client.get(src).content.decode(), "html.parser")
    assert soup.select_one("[data-email-subject]").get_text() == "Anmelden bei localhost"
    link = KINDS["sign_in_link"].placeholders["link"].example
    assert soup.select_one("[data-email-text]").get_text() == f"Hallo ana@example.com, hier: {link}"


def test_a_form_error_shows_no_preview_and_sends_nothing(sender_client, mailoutbox):
    response = sender_client.post(ADD, {"kind": "access_ready", "emails": "", "preview": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors["access_list"] == [
        "Choose the access list whose email to send."
    ]
    assert b"data-bulk-email-preview" not in response.content
    assert not BulkEmailJob.objects.exists() and mailoutbox == []


def test_the_form_offers_a_preview_button(sender_client):
    soup = BeautifulSoup(sender_client.get(ADD).content.decode(), "html.parser")
    (button,) = soup.select('button[name="preview"]')
    assert button.get_text(strip=True) == "Preview"


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "nonsense", "email": "ana@example.com"},
        {"kind": "reset", "email": "not an address"},
        {"kind": "access_ready", "email": "ana@example.com", "access_list": "999999"},
        {"kind": "access_ready", "email": "ana@example.com", "access_list": "x"},
    ],
)
def test_bad_preview_parameters_are_404(sender_client, params):
    assert sender_client.get(PREVIEW, params).status_code == 404


def test_preview_needs_the_permission_to_send_bulk_emails(client, db):
    client.force_login(editor_with("view_bulkemailjob"))
    response = client.get(PREVIEW, {"kind": "reset", "email": "ana@example.com"})
    # Wagtail turns PermissionDenied in the admin into a redirect with a message.
    assert (response.status_code, response.url) == (302, reverse("wagtailadmin_home"))


# --- the send button: preview and count first, then send --------------------------------------


def send_button(response) -> str:
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    (label,) = soup.select('footer button[type="submit"] [data-w-progress-target="label"]')
    return label.get_text(strip=True)


def confirm_notice(response) -> str:
    soup = BeautifulSoup(response.content.decode(), "html.parser")
    notice = soup.select_one("[data-bulk-email-confirm]")
    assert notice is not None, "no confirmation shown"
    return " ".join(notice.get_text(" ").split())  # as a browser collapses white space


NOT_YET = (
    "Nothing has been sent yet: press the send button to send, or change the form and "
    "preview again."
)
CHANGED = (
    "What you confirmed has changed since (the form, or the grants on the list), so nothing "
    "was sent. Check the preview again."
)


def test_the_send_button_says_it_sends(sender_client):
    response = sender_client.get(ADD)
    assert send_button(response) == "Send emails"
    assert b"data-bulk-email-confirm" not in response.content


def test_the_first_press_sends_nothing_and_shows_the_preview_and_the_count(
    sender_client, course, course_with_pages, mailoutbox
):
    data = {"kind": "access_ready", "access_list": course.pk}
    response = sender_client.post(ADD, data)
    assert response.status_code == 200
    assert not BulkEmailJob.objects.exists() and mailoutbox == []
    text, src = preview_frame(response)
    assert "What ana@example.com, the first of 2 recipients, will receive." in text
    assert src == f"{PREVIEW}?kind=access_ready&email=ana%40example.com&access_list={course.pk}"
    assert confirm_notice(response) == (
        "This sends 2 emails to the members with an active grant on “Course A”. " + NOT_YET
    )
    assert send_button(response) == "Send 2 emails"


def test_the_first_press_to_one_address_names_the_address_above(sender_client, mailoutbox):
    response = sender_client.post(ADD, {"kind": "reset", "emails": "ana@example.com"})
    assert (
        confirm_notice(response)
        == "This sends 1 email to the address in the form below. " + NOT_YET
    )
    assert send_button(response) == "Send 1 email"
    assert not BulkEmailJob.objects.exists() and mailoutbox == []


def test_the_confirmed_press_sends(sender_client, course, course_with_pages, mailoutbox):
    response = send_bulk_email(sender_client, {"kind": "access_ready", "access_list": course.pk})
    job = BulkEmailJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "wagtail_member_access_bulk_emails:inspect", args=[job.pk]
    )
    assert (job.kind, job.access_list, job.recipients) == (
        "access_ready",
        course,
        ["ana@example.com", "ben@example.com"],
    )
    assert sorted(m.to[0] for m in mailoutbox) == ["ana@example.com", "ben@example.com"]


def test_a_confirmation_made_stale_by_a_new_grant_sends_nothing_and_shows_the_new_count(
    sender_client, course, course_with_pages, mailoutbox
):
    data = {"kind": "access_ready", "access_list": course.pk}
    first = sender_client.post(ADD, data)
    api.grant_access("cy@example.com", course)  # meanwhile, the list gains a member
    mailoutbox.clear()
    again = sender_client.post(ADD, {**data, "confirmation": confirmation_of(first)})
    assert again.status_code == 200
    assert not BulkEmailJob.objects.exists() and mailoutbox == []
    assert confirm_notice(again) == (
        f"{CHANGED} This sends 3 emails to the members with an active grant on “Course A”. "
        + NOT_YET
    )
    assert send_button(again) == "Send 3 emails"
    # The new confirmation sends to the three.
    sent = sender_client.post(ADD, {**data, "confirmation": confirmation_of(again)})
    assert sent.status_code == 302
    assert BulkEmailJob.objects.get().recipients == [
        "ana@example.com",
        "ben@example.com",
        "cy@example.com",
    ]


def test_a_confirmation_of_another_kind_sends_nothing(
    sender_client, course, course_with_pages, mailoutbox
):
    first = sender_client.post(ADD, {"kind": "access_ready", "access_list": course.pk})
    data = {"kind": "sign_in_link", "access_list": course.pk}
    response = sender_client.post(ADD, {**data, "confirmation": confirmation_of(first)})
    assert response.status_code == 200
    assert not BulkEmailJob.objects.exists() and mailoutbox == []
    text, src = preview_frame(response)
    assert src == f"{PREVIEW}?kind=sign_in_link&email=ana%40example.com&access_list={course.pk}"
    assert confirm_notice(response).startswith(CHANGED)
    assert confirmation_of(response) != confirmation_of(first)


def test_a_confirmation_of_other_addresses_sends_nothing(sender_client, mailoutbox):
    first = sender_client.post(ADD, {"kind": "reset", "emails": "ana@example.com"})
    data = {"kind": "reset", "emails": "ana@example.com\nben@example.com"}
    response = sender_client.post(ADD, {**data, "confirmation": confirmation_of(first)})
    assert confirm_notice(response) == (
        f"{CHANGED} This sends 2 emails to the addresses in the form below. {NOT_YET}"
    )
    assert not BulkEmailJob.objects.exists() and mailoutbox == []


@pytest.mark.parametrize("forged", ["0" * 64, "garbled", " ", "x" * 5000])
def test_a_forged_confirmation_sends_nothing(
    sender_client, course, course_with_pages, mailoutbox, forged
):
    data = {"kind": "access_ready", "access_list": course.pk, "confirmation": forged}
    response = sender_client.post(ADD, data)
    assert response.status_code == 200
    assert not BulkEmailJob.objects.exists() and mailoutbox == []
    assert confirm_notice(response).startswith(CHANGED)
    assert send_button(response) == "Send 2 emails"


def test_preview_with_a_valid_confirmation_only_previews(
    sender_client, course, course_with_pages, mailoutbox
):
    data = {"kind": "access_ready", "access_list": course.pk}
    first = sender_client.post(ADD, data)
    response = sender_client.post(
        ADD, {**data, "confirmation": confirmation_of(first), "preview": "1"}
    )
    assert response.status_code == 200
    assert not BulkEmailJob.objects.exists() and mailoutbox == []
    preview_frame(response)
    assert b"data-bulk-email-confirm" not in response.content
    assert send_button(response) == "Send emails"


def test_a_form_error_with_a_confirmation_sends_nothing(
    sender_client, course, course_with_pages, mailoutbox
):
    first = sender_client.post(ADD, {"kind": "access_ready", "access_list": course.pk})
    response = sender_client.post(
        ADD, {"kind": "access_ready", "confirmation": confirmation_of(first)}
    )
    assert response.context["form"].errors["access_list"] == [
        "Choose the access list whose email to send."
    ]
    assert b"data-bulk-email-confirm" not in response.content
    assert not BulkEmailJob.objects.exists() and mailoutbox == []
