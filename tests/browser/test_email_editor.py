"""The email editor in a real browser: an editor writes the German code email, previews it and
saves it; a visitor whose browser speaks German asks for a code and receives that email.

The visitor's language comes from their browser (``Accept-Language``) through Django's
``LocaleMiddleware``, as on the example site. tests/settings.py has no LocaleMiddleware (the
other tests switch languages with ``translation.override``), and a live server loads its
middleware when it starts, so this module runs its own live server with the middleware added.

With WMA_DOCS_IMG=1 it also saves the screenshots of docs/editing-emails.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer
from wagtail.models import Site

from tests.browser.conftest import admin_user, sign_in_to_admin, unwatch_requests, watch_requests
from tests.browser.test_unlock_flow import code_from, wait_for_mail
from tests.factories import ensure_default_home, make_page
from wagtail_member_access import api
from wagtail_member_access.models import BulkEmailJob, EmailTemplate

pytestmark = pytest.mark.browser

PASSWORD = "a-long-editor-password"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SUBJECT = "Ihr Zugangscode für {{ page_title }}: {{ code }}"
TEXT = (
    "Guten Tag,\n\n"
    "Ihr Zugangscode für „{{ page_title }}“ auf {{ site_name }}:\n\n"
    "    {{ code }}\n\n"
    "Er gilt {{ minutes }} Minuten. Viel Freude mit dem Kurs!"
)


@pytest.fixture
def german_server(transactional_db, settings):
    """A live server whose requests go through ``LocaleMiddleware`` (after the session
    middleware, as Django's docs place it), with the default Site pointed at it."""
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
        "django.middleware.locale.LocaleMiddleware",
    )
    with override_settings(MIDDLEWARE=middleware):
        server = LiveServer("localhost:0")  # loads the middleware in its thread, now
    home = ensure_default_home()
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={
            "hostname": server.thread.host,
            "port": server.thread.port,
            "root_page": home,
            "site_name": "Kursseite",
        },
    )
    watch_requests(server)  # new_context's teardown waits for its answers too
    yield server, home
    unwatch_requests(server)
    server.stop()


@pytest.fixture
def editor(transactional_db):
    return admin_user(
        "Email editors",
        ["add_emailtemplate", "change_emailtemplate", "view_emailtemplate"],
        username="editor",
        email="editor@example.com",
        password=PASSWORD,
    )


def docs_img(page, name: str, height: int) -> None:
    """Save docs/img/admin-<name>.png (WMA_DOCS_IMG=1), ``height`` pixels tall (Wagtail's
    admin scrolls inside its layout, so a full-page shot would stop at the viewport)."""
    if os.environ.get("WMA_DOCS_IMG") == "1":
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": height})
        page.screenshot(path=str(DOCS_IMG / f"admin-{name}.png"))
        page.set_viewport_size(size)


def test_editor_edits_the_german_code_email_and_a_german_visitor_receives_it(
    german_server, editor, new_context, screenshot
):
    server, home = german_server
    course = api.create_access_list("Kurs A")
    lesson = make_page(home, title="Lektion 1", slug="lektion-1")
    api.protect(lesson, mode="code", access_lists=[course])
    api.grant_access("ana@example.com", course, name="Ana")

    # --- the editor, in an English admin ------------------------------------------------
    admin = new_context(viewport={"width": 1280, "height": 860}, locale="en-GB").new_page()
    sign_in_to_admin(admin, server.url, "editor", PASSWORD)
    viewset = EmailTemplate.snippet_viewset
    admin.goto(server.url + reverse(viewset.get_url_name("list")))
    admin.get_by_role("link", name="Add email template").first.click()
    expect(admin.locator("#id_kind")).to_have_value("")
    # The documented link starts from the shipped German default of the code email.
    admin.goto(server.url + reverse(viewset.get_url_name("add")) + "?kind=unlock_code&language=de")
    expect(admin.locator("#id_kind")).to_have_value("unlock_code")
    expect(admin.locator("#id_language")).to_have_value("de")
    subject = admin.locator("#id_subject")
    expect(subject).to_have_value("Ihr Code für {{ page_title }}: {{ code }}")
    subject.fill(SUBJECT)
    admin.locator("#id_text").fill(TEXT)
    # The default's HTML came along; emptied, the HTML part is built from the text.
    expect(admin.locator("#id_html")).to_contain_text("Hallo,")
    admin.locator("#id_html").fill("")
    placeholders = admin.locator('details[data-placeholders="unlock_code"]')
    expect(placeholders).to_contain_text("{{ code }}")
    expect(placeholders).to_contain_text("required")
    docs_img(admin, "emails-editor", 1560)
    screenshot(admin, "editor")

    admin.get_by_role("button", name="Toggle preview").click()
    preview = admin.frame_locator("#w-preview-iframe")
    expect(preview.locator("[data-email-subject]")).to_have_text(
        "Ihr Zugangscode für Lesson 1: 048213"
    )
    expect(preview.locator("[data-email-text]")).to_contain_text("Viel Freude mit dem Kurs!")
    # The HTML part, in a sandboxed frame of its own (scripts cannot run in it, so it is read
    # from its source; the screenshot shows it rendered).
    html_part = preview.locator("[data-email-html]")
    expect(html_part).to_have_attribute("sandbox", "")
    expect(html_part).to_have_attribute("srcdoc", re.compile("Viel Freude mit dem Kurs!"))
    docs_img(admin, "emails-preview", 860)
    screenshot(admin, "preview")

    admin.get_by_role("button", name="Save").click()
    expect(
        admin.get_by_text("Email template 'Unlock code (every site, Deutsch)' created.")
    ).to_be_visible()
    template = EmailTemplate.objects.get()
    assert (template.kind, template.site, template.language) == ("unlock_code", None, "de")
    assert (template.subject, template.text) == (SUBJECT, TEXT)  # CRLF stored as LF
    admin.goto(server.url + reverse(viewset.get_url_name("list")))
    expect(admin.get_by_role("link", name="Unlock code (every site, Deutsch)")).to_be_visible()
    docs_img(admin, "emails-list", 360)

    # --- the visitor, whose browser speaks German -----------------------------------------
    mail.outbox.clear()
    visitor = new_context(locale="de-DE", extra_http_headers={"Accept-Language": "de"}).new_page()
    url = server.url + lesson.url
    visitor.goto(url)
    visitor.get_by_label("E-Mail-Adresse").fill("ana@example.com")
    visitor.get_by_role("button", name="Code anfordern").click()
    visitor.wait_for_url(url)
    message = wait_for_mail(visitor, mail.outbox)
    code = code_from(message)
    assert message.to == ["ana@example.com"]
    assert message.subject == f"Ihr Zugangscode für Lektion 1: {code}"
    assert message.body == (
        "Guten Tag,\n\n"
        "Ihr Zugangscode für „Lektion 1“ auf Kursseite:\n\n"
        f"    {code}\n\n"
        "Er gilt 10 Minuten. Viel Freude mit dem Kurs!"
    )
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html" and "Viel Freude mit dem Kurs!" in html

    # And the code opens the page.
    visitor.get_by_label("Code aus der E-Mail").fill(code)
    visitor.get_by_role("button", name="Weiter").click()
    expect(visitor.locator("body")).to_contain_text("Secret body of Lektion 1")


def test_the_bulk_email_preview_shows_in_its_sandboxed_frame(german_server, new_context):
    server, home = german_server
    admin_user(
        "Senders", ["add_bulkemailjob", "view_bulkemailjob"], username="sender", password=PASSWORD
    )
    course = api.create_access_list("Kurs A")
    lesson = make_page(home, title="Lektion 1", slug="lektion-1")
    api.protect(lesson, mode="code", access_lists=[course])
    api.grant_access("ana@example.com", course, name="Ana")
    mail.outbox.clear()

    page = new_context(viewport={"width": 1280, "height": 900}, locale="en-GB").new_page()
    sign_in_to_admin(page, server.url, "sender", PASSWORD)
    page.goto(server.url + reverse("wagtail_member_access_bulk_emails:add"))
    page.locator("#id_kind").select_option("access_ready")
    page.locator("#id_access_list").select_option(str(course.pk))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-bulk-email-preview]")).to_contain_text(
        "What ana@example.com will receive."
    )
    frame = page.frame_locator("[data-bulk-email-preview] iframe")
    expect(frame.locator("[data-email-subject]")).to_have_text("Your access to Kurs A is ready")
    expect(frame.locator("[data-email-text]")).to_contain_text("Hello Ana,")
    expect(frame.locator("[data-email-text]")).to_contain_text("- Lektion 1: https://example.com/")
    docs_img(page, "bulk-email-preview", 1400)
    assert mail.outbox == []

    # Sending: the first press shows the preview again and asks for a confirmation.
    page.get_by_role("button", name="Send emails").click()
    expect(page.locator("[data-bulk-email-confirm]")).to_contain_text(
        "This sends 1 email to the member with an active grant on “Kurs A”."
    )
    expect(page.locator("[data-bulk-email-preview]")).to_contain_text(
        "What ana@example.com will receive."
    )
    assert mail.outbox == [] and not BulkEmailJob.objects.exists()
    page.get_by_role("button", name="Send 1 email").click()
    expect(page.locator("body")).to_contain_text("Sending 1 email in the background.")
    job = BulkEmailJob.objects.get()
    expect(page).to_have_url(
        server.url + reverse("wagtail_member_access_bulk_emails:inspect", args=[job.pk])
    )
    assert wait_for_mail(page, mail.outbox).to == ["ana@example.com"]
