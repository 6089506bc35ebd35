"""Rendering and sending our emails (``emails.py``): one-line subjects, plain-string
contexts, escaping per part, the sender address and what is logged."""

from __future__ import annotations

import logging
import re

import pytest
from django.template.loader import get_template

from tests.factories import UserFactory
from wagtail_member_access import emails
from wagtail_member_access.emails import KINDS, render_email, send_email

# Rendering looks up the editors' versions of each email in the database.
pytestmark = pytest.mark.django_db

UNLOCK = {
    "code": "012345",
    "minutes": "10",
    "link": "http://localhost/access/link/TOKEN/",
    "link_minutes": "30",
    "page_title": "Lesson",
    "page_url": "http://localhost/lesson/",
    "site_name": "Test site",
    "email": "ana@example.com",
}
READY = {
    "name": "Ana",
    "email": "ana@example.com",
    "list_name": "Course A",
    "pages": [{"title": "Lesson", "url": "http://localhost/lesson/", "link": ""}],
    "site_name": "Test site",
    "expires": "",
    "link_hours": "24",
}


#: Sample values of the member-account placeholders (invitation, reset, notices).
ACCOUNT = {
    "name": "Ana",
    "days": "7",
    "sign_in_url": "http://localhost/access/sign-in/",
    "password": "",
    "link_hours": "24",
    "changed_at": "2025-01-01 10:00",
    "reset_url": "http://localhost/access/password/forgot/",
    "set_password_link": "",
    "invite_days": "",
    "old_email": "ana@example.com",
    "new_email": "ana.new@example.com",
}


def context_for(kind: str, **changes) -> dict:
    base = ACCOUNT | (READY if kind in ("access_ready", "expiry_reminder") else UNLOCK)
    return {name: base[name] for name in KINDS[kind]} | changes


# --- the templates ----------------------------------------------------------------------------


def template_source(kind: str, part: str) -> str:
    return get_template(f"wagtail_member_access/emails/{kind}_{part}").template.source


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("part", ["subject.txt", "message.txt", "message.html"])
def test_every_kind_has_all_three_templates_using_only_its_placeholders(kind, part):
    source = template_source(kind, part)
    loop_names = set(re.findall(r"{%\s*for\s+(\w+)\s+in\s+(\w+)", source))
    used = set(re.findall(r"{{\s*(\w+)", source)) | {seq for _, seq in loop_names}
    used -= {name for name, _ in loop_names}
    assert used <= set(KINDS[kind]), used - set(KINDS[kind])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders(kind):
    rendered = render_email(kind, context_for(kind))
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip()
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")


def test_unlock_code_email():
    rendered = render_email("unlock_code", context_for("unlock_code"))
    assert rendered.subject == "Your code for Lesson: 012345"
    assert rendered.text == (
        "Hello,\n\n"
        'Your code to open "Lesson" on Test site is:\n\n'
        "    012345\n\n"
        "Enter it on the page where you asked for it. It is valid for 10 minutes and works once."
        "\n\nhttp://localhost/lesson/\n\n"
        'If you did not ask for this code, you can ignore this email: nobody can open "Lesson" '
        "without it.\n\n"
    )


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match=r"^Unknown email kind 'newsletter'\.$"):
        render_email("newsletter", {})


# --- subjects are one line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field", "expected"),
    [
        ("unlock_code", "page_title", "Your code for Lesson Bcc: evil@example.com one: 012345"),
        ("unlock_link", "page_title", "Your link to Lesson Bcc: evil@example.com one"),
        (
            "unlock_code_or_link",
            "page_title",
            "Your code for Lesson Bcc: evil@example.com one: 012345",
        ),
        ("sign_in", "site_name", "Your sign-in code for Lesson Bcc: evil@example.com one: 012345"),
        ("access_ready", "list_name", "Your access to Lesson Bcc: evil@example.com one is ready"),
    ],
)
def test_subject_is_forced_to_one_line(kind, field, expected):
    title = "Lesson\r\nBcc: evil@example.com\n\t one"
    rendered = render_email(kind, context_for(kind, **{field: title}))
    assert rendered.subject == expected


def test_multiline_title_can_be_sent(db, mailoutbox):
    send_email("unlock_code", "ana@example.com", context_for("unlock_code", page_title="A\nB"))
    assert mailoutbox[0].subject == "Your code for A B: 012345"
    assert "Bcc" not in mailoutbox[0].message().as_string().split("\n\n", 1)[0]


# --- plain strings only ------------------------------------------------------------------------


def test_plain_converts_nested_values_to_strings():
    class Thing:
        def __str__(self):
            return "a thing"

    assert emails._plain(
        {
            "none": None,
            "number": 3,
            "thing": Thing(),
            "list": [1, None, {"nested": 2.5, 7: Thing()}],
            "tuple": ("x", 1),
            8: "key",
        }
    ) == {
        "none": "",
        "number": "3",
        "thing": "a thing",
        "list": ["1", "", {"nested": "2.5", "7": "a thing"}],
        "tuple": ["x", "1"],
        "8": "key",
    }


@pytest.mark.django_db
def test_a_model_object_reaches_the_template_only_as_its_string():
    user = UserFactory(username="ana", email="private@example.org")
    rendered = render_email("access_ready", context_for("access_ready", name=user, pages=[user]))
    assert rendered.text.startswith("Hello ana,\n")
    # In the loop each page is the string "ana": ``page.title`` is str.title(), ``page.url``
    # and ``page.link`` are nothing. No attribute of the user is reachable.
    assert "\n- Ana: \n" in rendered.text
    for part in (rendered.subject, rendered.text, rendered.html):
        assert user.password not in part
        assert "private@example.org" not in part


def test_none_renders_as_empty():
    rendered = render_email("access_ready", context_for("access_ready", name=None))
    assert rendered.text.startswith("Hello,\n")
    assert "None" not in rendered.text


# --- escaping per part ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["unlock_code", "unlock_link", "unlock_code_or_link"])
def test_html_part_escapes_page_titles(kind):
    rendered = render_email(kind, context_for(kind, page_title="<script>alert(1)</script>"))
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html


def test_html_part_escapes_access_ready_page_titles_and_urls():
    pages = [{"title": "<b>Lesson</b>", "url": 'http://localhost/"onmouseover=x', "link": ""}]
    rendered = render_email("access_ready", context_for("access_ready", pages=pages))
    assert "<b>" not in rendered.html
    assert "&lt;b&gt;Lesson&lt;/b&gt;" in rendered.html
    assert 'href="http://localhost/&quot;onmouseover=x"' in rendered.html


@pytest.mark.parametrize("kind", ["unlock_code", "unlock_link", "unlock_code_or_link"])
def test_text_part_and_subject_are_not_html_escaped(kind):
    rendered = render_email(kind, context_for(kind, page_title="Q&A <live>"))
    assert 'pen "Q&A <live>" on Test site' in rendered.text
    assert "&amp;" not in rendered.text
    assert "Q&A <live>" in rendered.subject


def test_access_ready_text_lists_each_page_with_its_link_or_url():
    pages = [
        {"title": "Q&A", "url": "http://localhost/qa/", "link": "http://localhost/access/link/T/"},
        {"title": "Forum", "url": "http://localhost/forum/", "link": ""},
    ]
    rendered = render_email(
        "access_ready",
        context_for("access_ready", pages=pages, expires="until 31 January 2030, 12:00 (UTC)"),
    )
    assert rendered.text == (
        "Hello Ana,\n\n"
        "You now have access to Course A on Test site. "
        "Your access lasts until 31 January 2030, 12:00 (UTC).\n\n"
        "- Q&A: http://localhost/access/link/T/\n"
        "- Forum: http://localhost/forum/\n\n"
        "Each link signs you in once within 24 hours. Later, open the page and enter "
        "ana@example.com: we will email you a code or a link. No password needed.\n\n"
    )


def test_access_ready_for_a_list_without_pages_promises_no_links():
    rendered = render_email("access_ready", context_for("access_ready", pages=[]))
    assert rendered.text == (
        "Hello Ana,\n\n"
        "You now have access to Course A on Test site.\n\n"
        "To open a page of Course A, enter ana@example.com on it: we will email you a code or "
        "a link. No password needed.\n\n"
    )
    assert "Each link" not in rendered.html and "<ul>" not in rendered.html


# --- sending -------------------------------------------------------------------------------------


def test_send_email_uses_default_from_email(settings, mailoutbox):
    settings.DEFAULT_FROM_EMAIL = "site@example.org"
    send_email("unlock_code", "ana@example.com", context_for("unlock_code"))
    [message] = mailoutbox
    assert message.from_email == "site@example.org"
    assert message.to == ["ana@example.com"]
    assert message.cc == [] and message.bcc == []
    assert message.subject == "Your code for Lesson: 012345"
    assert message.body == render_email("unlock_code", context_for("unlock_code")).text
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "012345" in html


def test_send_email_uses_our_from_email_when_set(settings, mailoutbox):
    settings.DEFAULT_FROM_EMAIL = "site@example.org"
    settings.WAGTAIL_MEMBER_ACCESS_FROM_EMAIL = "Courses <courses@example.org>"
    send_email("unlock_code", "ana@example.com", context_for("unlock_code"))
    assert mailoutbox[0].from_email == "Courses <courses@example.org>"


def test_send_email_logs_the_kind_and_the_masked_address_only(mailoutbox, caplog):
    with caplog.at_level(logging.DEBUG, logger="wagtail_member_access"):
        send_email("unlock_code", "ana@example.com", context_for("unlock_code"))
    assert caplog.messages == ["Sent unlock_code email to a**@example.com."]
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "ana@example.com" not in caplog.text
    assert "012345" not in caplog.text


@pytest.fixture
def refused(monkeypatch):
    """The mail server refuses every message."""
    from smtplib import SMTPException

    def fail(*args, **kwargs):
        raise SMTPException("refused by mail.example.com")

    monkeypatch.setattr(emails.EmailMultiAlternatives, "send", fail)
    return SMTPException


def failures():
    from wagtail.models import ModelLogEntry, PageLogEntry

    return [
        *PageLogEntry.objects.filter(action="wagtail_member_access.send_failed"),
        *ModelLogEntry.objects.filter(action="wagtail_member_access.send_failed"),
    ]


def test_send_email_raises_what_the_backend_raises_and_logs_nothing(refused, caplog, db):
    with (
        caplog.at_level(logging.DEBUG, logger="wagtail_member_access"),
        pytest.raises(refused, match="^refused by mail.example.com$"),
    ):
        send_email("unlock_code", "ana@example.com", context_for("unlock_code"))
    assert caplog.messages == []


def test_a_failed_email_shows_in_the_history_of_what_it_is_about(refused, protected_page):
    with pytest.raises(refused):
        send_email(
            "unlock_code", "ana@example.com", context_for("unlock_code"), about=protected_page
        )
    [entry] = failures()
    assert entry.page_id == protected_page.pk
    # Masked address, the error's class only: its text can name the mail server.
    assert entry.data == {
        "email_kind": "unlock_code",
        "email": "a**@example.com",
        "error": "SMTPException",
    }
    assert entry.message == "Unlock code email to a**@example.com could not be sent (SMTPException)"
    assert "mail.example.com" not in str(entry.data)


def test_a_failed_email_about_nothing_shows_on_the_member_account(refused, db):
    member = UserFactory(email="mia@example.com")
    with pytest.raises(refused):
        send_email("password_changed", "MIA@example.com", context_for("password_changed"))
    [entry] = failures()
    assert entry.content_type.model_class() is type(member)
    assert entry.object_id == str(member.pk)
    assert entry.label == str(member)


def test_a_failed_email_to_an_address_without_account_shows_on_the_default_site(refused, db):
    from wagtail.models import Site

    with pytest.raises(refused):
        send_email("sign_in", "new@example.com", context_for("sign_in"))
    [entry] = failures()
    assert entry.object_id == str(Site.objects.get(is_default_site=True).pk)


def test_a_failing_audit_log_does_not_hide_the_mail_error(refused, db, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("log table locked")

    monkeypatch.setattr(emails, "log", broken)
    with caplog.at_level(logging.ERROR, logger="wagtail_member_access"), pytest.raises(refused):
        send_email("sign_in", "new@example.com", context_for("sign_in"))
    assert caplog.messages == ["Could not write the audit-log entry for a failed sign_in email."]


def test_render_email_uses_the_given_language():
    from django.utils import translation

    with translation.override("de"):
        rendered = render_email("unlock_code", context_for("unlock_code"), language="en")
        assert rendered.subject == "Your code for Lesson: 012345"
        assert translation.get_language() == "de"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_sentence_after_the_greeting_starts_with_a_capital(kind):
    # English only: in German the line after "Hallo," rightly goes on in lower case (Duden),
    # unless it starts with a noun or "Sie"/"Ihr".
    text = render_email(kind, context_for(kind, name=""), language="en").text
    greeting, _, rest = text.partition("\n\n")
    assert greeting == "Hello,"
    assert rest[0].isupper(), rest[:40]
