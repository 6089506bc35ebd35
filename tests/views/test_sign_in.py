"""The member sign-in page: email me a code or a link."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import code_from
from tests.factories import UserFactory
from tests.views.test_links import confirm
from wagtail_member_access.models import EmailChallenge

pytestmark = pytest.mark.django_db

SIGN_IN = "/access/sign-in/"


def ask(client, email, next_url=""):
    return client.post(SIGN_IN, {"email": email, "next": next_url})


def link_path(message):
    match = re.search(r"http://[^/\s]+(/access/link/[A-Za-z0-9_-]{43}/)", message.body)
    assert match, message.body
    return match.group(1)


def test_sign_in_page_offers_email_me_a_code_or_link(client):
    response = client.get(SIGN_IN)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Email me a code and a link" in html
    assert "no-store" in response["Cache-Control"]
    # One address field serves both ways in: the code button posts it to the email step.
    assert len(re.findall(r'<input [^>]*name="email"', html)) == 1
    assert 'formaction="/access/sign-in/" formnovalidate' in html


def test_sign_in_page_focuses_its_first_field_only(client):
    html = client.get(SIGN_IN).content.decode()
    inputs = re.findall(r"<input [^>]*>", html)
    focused = [tag for tag in inputs if re.search(r"\sautofocus[\s>]", tag)]
    assert len(focused) == 1
    assert 'id="id_email"' in focused[0]


def test_member_with_an_account_signs_in_by_link(client, mailoutbox, db):
    member = UserFactory(username="mia", email="mia@example.com")
    response = ask(client, "MIA@example.com", next_url="/somewhere/")
    assert response.status_code == 303
    message = mailoutbox[0]
    assert message.to == ["mia@example.com"]
    assert message.subject.startswith("Your sign-in code for ")
    other = Client()
    assert "Continue signing in" in other.get(link_path(message)).content.decode()
    response = confirm(other, link_path(message))
    assert response["Location"] == "/somewhere/"
    assert int(other.session["_auth_user_id"]) == member.pk


def test_buyer_without_an_account_signs_in_by_code(client, buyer, mailoutbox):
    ask(client, "ana@example.com")
    code = code_from(mailoutbox[0])
    assert (
        "we have sent an email with a code and a link to that address"
        in client.get(SIGN_IN).content.decode()
    )
    response = client.post(reverse("wagtail_member_access:sign_in_code"), {"code": code})
    assert response.status_code == 303
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"]


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser", "admin_access"])
def test_staff_get_the_neutral_response_and_no_email(client, mailoutbox, db, flag):
    from django.contrib.auth.models import Permission

    if flag == "admin_access":  # Wagtail admin access alone, through a permission
        user = UserFactory(username="boss", email="boss@example.com")
        user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    else:
        UserFactory(username="boss", email="boss@example.com", **{flag: True})
    a = ask(client, "boss@example.com")
    b = ask(Client(), "nobody@example.com")
    assert (a.status_code, a["Location"]) == (b.status_code, b["Location"])
    assert mailoutbox == []
    assert EmailChallenge.objects.filter(cancel_reason="not_eligible").count() == 2


def test_inactive_and_unknown_get_nothing(client, mailoutbox, db):
    UserFactory(username="gone", email="gone@example.com", is_active=False)
    ask(client, "gone@example.com")
    ask(Client(), "stranger@example.com")
    assert mailoutbox == []


@pytest.mark.parametrize("evil", ["//evil.com/", "https://evil.com/", "/\\evil.com"])
def test_sign_in_next_stays_inside_the_site(client, mailoutbox, db, evil):
    UserFactory(username="mia", email="mia@example.com")
    ask(client, "mia@example.com", next_url=evil)
    response = confirm(Client(), link_path(mailoutbox[0]))
    assert response["Location"] == "/"


def test_sign_in_link_never_signs_in_someone_made_staff_since(client, mailoutbox, db):
    member = UserFactory(username="mia", email="mia@example.com")
    ask(client, "mia@example.com")
    member.is_staff = True
    member.save()
    response = confirm(Client(), link_path(mailoutbox[0]))
    assert response.status_code == 403


def test_a_return_url_with_its_own_query_survives_the_email_step(client, buyer, mailoutbox):
    response = client.post(
        reverse("wagtail_member_access:sign_in"),
        {"email": "ana@example.com", "next": "/course/?page=2&tab=notes"},
    )
    assert response.status_code == 303
    assert response["Location"] == "/access/sign-in/?next=%2Fcourse%2F%3Fpage%3D2%26tab%3Dnotes"
    page = client.get(response["Location"])
    assert 'value="/course/?page=2&amp;tab=notes"' in page.content.decode()


# --- themable: the site's own base template ---------------------------------------------------

THEME = "testapp/member_base.html"


def in_theme(html: str) -> str:
    """The content the custom base template's ``content`` block holds (fails if the page is
    not rendered inside it)."""
    assert "<header data-testapp-theme>Testapp site header</header>" in html, html
    assert "max-width: 32rem" not in html  # nothing of the default base template
    match = re.search(r'<main id="testapp-main">(.*)</main>', html, re.DOTALL)
    assert match, html
    return match.group(1)


def test_sign_in_page_renders_inside_the_configured_base_template(client, settings, db):
    settings.WAGTAIL_MEMBER_ACCESS_BASE_TEMPLATE = THEME
    response = client.get(SIGN_IN)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Sign in | Testapp theme</title>" in html
    content = in_theme(html)
    assert 'action="/access/sign-in/password/"' in content
    assert 'id="id_email"' in content
    assert "Email me a code and a link" in content


# --- rate limits (docs/security.md#send-limits, #limited-429): as on an unlock page ----------


def test_sign_in_emails_are_rate_limited_per_email(client, mailoutbox, settings, db):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_EMAIL = "2/h"
    settings.WAGTAIL_MEMBER_ACCESS_RESEND_COOLDOWN = 0
    UserFactory(username="mia", email="mia@example.com")
    statuses = [
        ask(Client(REMOTE_ADDR=f"10.0.5.{n}"), email).status_code
        for n, email in enumerate(["mia@example.com", "MIA@example.com", " mia@example.com"])
    ]
    assert statuses == [303, 303, 429]
    assert len(mailoutbox) == 2


def test_sign_in_emails_are_rate_limited_per_ip(client, mailoutbox, settings, db):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "2/h"
    statuses = [ask(client, f"p{n}@example.com").status_code for n in range(3)]
    assert statuses == [303, 303, 429]
    response = ask(client, "p9@example.com")
    assert response.status_code == 429
    assert "Too many requests" in response.content.decode()


def test_sign_in_codes_are_rate_limited_per_ip(client, buyer, mailoutbox, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_VERIFY_PER_IP = "2/h"
    ask(client, "ana@example.com")
    code = code_from(mailoutbox[0])
    wrong = "000000" if code != "000000" else "111111"
    url = reverse("wagtail_member_access:sign_in_code")
    assert (
        "That code was not right. You can try again in"
        in client.post(url, {"code": wrong}).content.decode()
    )
    assert client.post(url, {"code": wrong}).status_code == 200  # (within the back-off)
    response = client.post(url, {"code": code})  # the right code, over the limit
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_used_link_opened_by_its_signed_in_member_says_signed_in_already(client, mailoutbox, db):
    member = UserFactory(username="mia", email="mia@example.com")
    ask(client, "mia@example.com", next_url="/somewhere/")
    path = link_path(mailoutbox[0])
    assert confirm(client, path)["Location"] == "/somewhere/"
    assert int(client.session["_auth_user_id"]) == member.pk
    # The same member opens the (now used) link again, e.g. from the email a second time.
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert "You are signed in already" in html
    assert "This link was used already, and you are signed in as mia@example.com." in html
    assert 'href="/somewhere/"' in html
    assert "already been used" not in html
    # Still signed in as the same member: opening the page changed nothing.
    assert int(client.session["_auth_user_id"]) == member.pk


def test_used_link_opened_by_another_signed_in_member_is_just_used(client, mailoutbox, db):
    UserFactory(username="mia", email="mia@example.com")
    other = UserFactory(username="olaf", email="olaf@example.com")
    ask(client, "mia@example.com", next_url="/somewhere/")
    path = link_path(mailoutbox[0])
    confirm(Client(), path)
    client.force_login(other)
    response = client.get(path)
    html = response.content.decode()
    assert response.status_code == 410
    assert "already been used" in html
    assert "You are signed in already" not in html
    assert "mia@example.com" not in html
