"""Sign-in links sent by staff and the bulk sender (``flows/email_proof.py``); the unlock and
sign-in pages are tested in tests/views/.
Runs with any user model (see tests/test_custom_user_models.py)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.users import make_user
from wagtail_member_access.flows import (
    email_proof,
)

pytestmark = pytest.mark.django_db


def test_sign_in_link_signs_the_member_in_once(mailoutbox, home):
    from tests.views.test_links import confirm

    user = make_user("mia@example.com")
    assert email_proof.send_sign_in_link("mia@example.com") is True
    message = mailoutbox[0]
    assert message.subject == "Your sign-in link for localhost"
    assert "within 24 hours" in message.body
    path = re.search(r"http://[^/\s]+(/access/link/[A-Za-z0-9_-]{43}/)", message.body).group(1)
    client = Client()
    assert confirm(client, path).status_code == 303
    assert int(client.session["_auth_user_id"]) == user.pk
    assert Client().get(path).status_code == 410


def test_magic_link_tokens_do_not_open_the_set_password_page(client, mailoutbox, home):
    make_user("mia@example.com")
    email_proof.send_sign_in_link("mia@example.com")
    token = re.search(r"/access/link/([A-Za-z0-9_-]{43})/", mailoutbox[0].body).group(1)
    assert client.get(f"/access/invitation/{token}/").status_code == 404
    assert client.get(f"/access/password/reset/{token}/").status_code == 404
