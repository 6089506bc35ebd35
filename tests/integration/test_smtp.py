"""The code email through a real SMTP server (aiosmtpd on 127.0.0.1), end to end.

The locmem backend the other tests use never builds the bytes a mail server receives, so
headers, MIME structure and escaping are only really checked here; so is what happens to
the visitor when the mail server is down.
"""

from __future__ import annotations

import email
import logging
import re
from datetime import timedelta
from email import policy
from email.message import EmailMessage

import pytest
from django.urls import reverse

from tests.factories import make_page
from wagtail_member_access import api
from wagtail_member_access.models import EmailChallenge

pytestmark = pytest.mark.django_db

TITLE = "Lesson <b>1</b> & more"
ESCAPED_TITLE = "Lesson &lt;b&gt;1&lt;/b&gt; &amp; more"
BODY = "The members-only lesson text."


def request_url(page) -> str:
    return reverse("wagtail_member_access:request_code", args=[page.pk])


def verify_url(page) -> str:
    return reverse("wagtail_member_access:verify_code", args=[page.pk])


def parse(received) -> EmailMessage:
    return email.message_from_bytes(received.content, policy=policy.default)


def code_in_subject(message: EmailMessage, title: str) -> str:
    match = re.fullmatch(re.escape(f"Your code for {title}: ") + r"(\d{6})", message["Subject"])
    assert match, message["Subject"]
    return match.group(1)


def app_log(caplog) -> list[logging.LogRecord]:
    """Everything the site logged. aiosmtpd's own "mail.log" records are left out: they are
    the receiving mail server's log (it logs whole envelopes and DATA lines at DEBUG), which in
    production is another machine's."""
    return [r for r in caplog.records if not r.name.startswith("mail.log")]


def assert_log_is_clean(caplog, code: str) -> None:
    for record in app_log(caplog):
        text = record.getMessage() + (record.exc_text or "")
        assert code not in text, (record.name, text)
        assert "ana@example.com" not in text.lower(), (record.name, text)


def log_lines(caplog) -> list[tuple[str, int, str]]:
    return [(r.name, r.levelno, r.getMessage()) for r in app_log(caplog)]


@pytest.fixture
def debug_log(caplog):
    caplog.set_level(logging.DEBUG)  # the root logger: everything that propagates
    caplog.set_level(logging.DEBUG, logger="wagtail_member_access")
    return caplog


@pytest.fixture
def tricky_page(home, course):
    """A page whose title is HTML-like: the HTML email must escape it."""
    page = make_page(home, title=TITLE, slug="lesson", body=BODY)
    api.protect(page, mode="code", access_lists=[course])
    return page


def test_code_email_over_smtp(
    client, settings, smtp_server, tricky_page, buyer, debug_log, django_mail_patch_dns
):
    settings.WAGTAIL_MEMBER_ACCESS_FROM_EMAIL = "Course team <courses@example.com>"
    smtp_server.start()
    page = tricky_page

    response = client.post(request_url(page), {"email": "  Ana@Example.COM ", "next": page.url})

    assert response.status_code == 303
    assert response["Location"] == page.url
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    # Envelope and header go to the address stored on the grant, not to what was typed.
    assert buyer.email == "ana@example.com"
    assert received.mail_from == "courses@example.com"
    assert received.rcpt_tos == [buyer.email]
    message = parse(received)
    assert message["From"] == "Course team <courses@example.com>"
    assert message["To"] == buyer.email
    assert message.get_all("Cc") is None and message.get_all("Bcc") is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    code = code_in_subject(message, TITLE)
    assert re.fullmatch(r"<[^<>@\s]+@fake-tests\.example\.com>", message["Message-ID"])
    assert message["Date"].datetime is not None  # an RFC 5322 date, parsed

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text, html = parts[0].get_content(), parts[1].get_content()
    assert f"    {code}" in text.splitlines()  # on its own line, indented
    assert f'Your code to open "{TITLE}" on localhost is:' in text
    assert f">{code}</p>" in html
    # The sentence, the closing line, the link text and the <title>.
    assert html.count(ESCAPED_TITLE) == 4
    assert "<b>" not in html and "& more" not in html

    # The code from the real email opens the page.
    assert 'autocomplete="one-time-code"' in client.get(page.url).content.decode()
    response = client.post(verify_url(page), {"code": code, "next": page.url})
    assert response.status_code == 303
    assert response["Location"] == page.url
    assert BODY in client.get(page.url).content.decode()

    assert_log_is_clean(debug_log, code)
    lines = log_lines(debug_log)
    assert (
        "wagtail_member_access",
        logging.INFO,
        "Sent unlock_code email to a**@example.com.",
    ) in lines
    assert (
        "wagtail_member_access",
        logging.INFO,
        f"a**@example.com unlocked page {page.pk} with a code.",
    ) in lines


def test_smtp_down_then_send_a_new_code(
    client, settings, smtp_server, protected_page, buyer, debug_log, clock, django_mail_patch_dns
):
    page = protected_page
    assert settings.DEFAULT_FROM_EMAIL == "site@example.com"
    assert not hasattr(settings, "WAGTAIL_MEMBER_ACCESS_FROM_EMAIL")

    # Nothing listens on the configured port: the mail server is down.
    failed = client.post(request_url(page), {"email": "ana@example.com", "next": page.url})

    assert failed.status_code == 303
    assert failed["Location"] == page.url
    challenge = EmailChallenge.objects.get()
    # Not cancelled: retried with back-off (docs/security.md#mail-retries); no code works.
    assert (challenge.cancel_reason, challenge.code_hash, challenge.sent_at) == ("", "", None)
    assert challenge.send_attempts == 1
    assert challenge.next_attempt_at == clock.now + timedelta(seconds=30)
    assert challenge.send_error.startswith("ConnectionRefusedError: ")
    assert (
        "wagtail_member_access",
        logging.ERROR,
        "Could not send the unlock_code email to a**@example.com (ConnectionRefusedError).",
    ) in log_lines(debug_log)
    # The visitor is told honestly that nothing is sent yet, and may ask again at once.
    html = client.get(page.url).content.decode()
    assert "We could not send emails just now: the email is not sent yet." in html
    assert "we have sent it" not in html
    assert "possible again" not in html
    assert '<input type="hidden" name="email" value="ana@example.com">' in html

    smtp_server.start()
    resent = client.post(request_url(page), {"email": "ana@example.com", "next": page.url})

    # The same answer as when sending failed: the visitor cannot tell the difference.
    assert (resent.status_code, resent["Location"], resent["Cache-Control"]) == (
        failed.status_code,
        failed["Location"],
        failed["Cache-Control"],
    )
    assert len(smtp_server.messages) == 1
    message = parse(smtp_server.messages[0])
    assert message["From"] == "site@example.com"
    assert message["To"] == "ana@example.com"
    code = code_in_subject(message, page.title)
    response = client.post(verify_url(page), {"code": code, "next": page.url})
    assert response.status_code == 303
    assert "Secret body of Members lesson" in client.get(page.url).content.decode()

    first, second = EmailChallenge.objects.order_by("pk")
    assert first.pk == challenge.pk
    assert first.cancel_reason == "replaced"  # its retry stops: the new request was sent
    assert second.send_error == ""
    assert second.sent_at == clock.now
    assert second.cancel_reason == ""
    assert second.redeemed_at == clock.now
    assert_log_is_clean(debug_log, code)


def test_an_edited_code_email_over_smtp(
    client, settings, smtp_server, tricky_page, buyer, django_mail_patch_dns
):
    """The editors' version, with its own HTML, arrives as written: multipart, the text part
    unescaped, every value escaped in the HTML part, in the site's layout with CSS inlined."""
    api.set_email_template(
        "unlock_code",
        subject="Code {{ code }} for {{ page_title }}",
        text="Hi!\n\nYour code: {{ code }}\nPage: {{ page_title }}\n\nThe team",
        html='<p>Hi!</p><p class="code">{{ code }}</p><p>Page: <em>{{ page_title }}</em></p>',
    )
    smtp_server.start()

    response = client.post(request_url(tricky_page), {"email": "ana@example.com"})

    assert response.status_code == 303
    (received,) = smtp_server.messages
    message = parse(received)
    code = re.fullmatch(r"Code (\d{6}) for " + re.escape(TITLE), message["Subject"]).group(1)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in message.iter_parts())
    # SMTP lines end in CRLF; the text is otherwise exactly the editor's.
    assert text.replace("\r\n", "\n").rstrip("\n") == (
        f"Hi!\n\nYour code: {code}\nPage: {TITLE}\n\nThe team"
    )
    assert f"<p>Page: <em>{ESCAPED_TITLE}</em></p>" in html
    assert "<b>1</b>" not in html
    assert re.search(rf'<p class="code" style="[^"]*font-size: 32px[^"]*">{code}</p>', html)
    assert "<style" not in html  # inlined for mail clients
