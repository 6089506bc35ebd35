"""Smoke test of the built wheel in a fresh ``wagtail start`` project (run by .ci/run).

Run from the project's directory with its own Python. Proves that the wheel alone (templates,
migrations, default settings) protects a page and runs the code flow with nothing configured
beyond the install contract.
"""

from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_install.settings.dev")

import django  # noqa: E402

django.setup()

from django.core import mail  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402
from wagtail.models import Page  # noqa: E402

from wagtail_member_access import api  # noqa: E402

setup_test_environment()

home = Page.objects.get(depth=2).specific
course = api.create_access_list("Smoke course")
api.protect(home, mode="code", access_lists=[course])
api.grant_access("smoke@example.com", course, name="Smoke")

client = Client()
response = client.get("/")
body = response.content.decode()
assert response.status_code == 200, response.status_code
assert 'name="email"' in body, body[:2000]
assert "private" in response["Cache-Control"], response["Cache-Control"]
match = re.search(r'action="(/access/unlock/\d+/email/)"', body)
assert match, body[:2000]

with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
    mail.outbox = []
    response = client.post(match.group(1), {"email": "smoke@example.com", "next": "/"})
    assert response.status_code == 303, response.status_code
    assert len(mail.outbox) == 1, mail.outbox
    code = re.search(r"\b(\d{6,8})\b", mail.outbox[0].body).group(1)

response = client.get("/")
assert 'name="code"' in response.content.decode()
response = client.post(match.group(1).replace("/email/", "/code/"), {"code": code, "next": "/"})
assert response.status_code == 303, response.status_code
response = client.get("/")
assert response.status_code == 200 and 'name="email"' not in response.content.decode()
print("install smoke: unlock form, email with code, code accepted, home page served")
