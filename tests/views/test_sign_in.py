"""The member sign-in page: email me a code or a link (issue 3; passwords come later)."""

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
    assert "Email me a code or link" in html
    assert 'autocomplete="email"' in html
    assert "no-store" in response["Cache-Control"]


def test_sign_in_page_focuses_its_first_field_only(client):
    html = client.get(SIGN_IN).content.decode()
    inputs = re.findall(r"<input [^>]*>", html)
    focused = [tag for tag in inputs if re.search(r"\sautofocus[\s>]", tag)]
    assert len(focused) == 1
    assert 'id="id_password_email"' in focused[0]


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
    assert "we have sent it an email with a code and a link" in client.get(SIGN_IN).content.decode()
    response = client.post(reverse("wagtail_member_access:sign_in_code"), {"code": code})
    assert response.status_code == 303
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"]


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_staff_get_the_neutral_response_and_no_email(client, mailoutbox, db, flag):
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
