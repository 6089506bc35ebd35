"""The example site (``make demo PORT=…``, example_site/): the seeded Site and every emailed
link use the demo's port.

The demo has its own settings module, so it runs in a subprocess: migrate an in-memory
database, run ``seed_demo`` with ``DEMO_PORT``, then ask for a magic link for the seeded
link-mode page as a visitor would and print what the test checks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, re
import django
django.setup()
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from wagtail.models import Page, Site

setup_test_environment()  # the locmem outbox instead of the demo's files
call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
site = Site.objects.get(is_default_site=True)
video = Page.objects.get(slug="course-a-video")
response = Client().post(
    reverse("wagtail_member_access:request_code", args=[video.pk]),
    {"email": "buyer@example.com", "next": video.url},
)
links = re.findall(r"https?://[^\s\"<>]+", mail.outbox[-1].body) if mail.outbox else []
print(json.dumps({
    "site": [site.hostname, site.port],
    "status": response.status_code,
    "emails": len(mail.outbox),
    "links": links,
}))
"""


#: An admin seeded before the demo named its admin, then seeded again (twice: idempotent);
#: and one who named themselves, whose name the seed keeps.
NAMES_SCRIPT = r"""
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from wagtail.admin.forms.account import NameEmailForm

call_command("migrate", verbosity=0)
User = get_user_model()
User.objects.create_superuser("admin", email="admin@example.com", password="admin")
call_command("seed_demo", verbosity=0)
call_command("seed_demo", verbosity=0)
admin = User.objects.get(username="admin")
form = NameEmailForm(instance=admin, data={
    "first_name": admin.first_name, "last_name": admin.last_name, "email": admin.email,
})
User.objects.filter(username="admin").update(first_name="Ada", last_name="")
call_command("seed_demo", verbosity=0)
renamed = User.objects.get(username="admin")
print(json.dumps({
    "name": [admin.first_name, admin.last_name],
    "account_settings_valid": form.is_valid(),
    "errors": form.errors,
    "renamed": [renamed.first_name, renamed.last_name],
    "admins": User.objects.count(),
}))
"""


def seed_demo(port: str, script: str = SCRIPT) -> dict:
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": "sqlite://:memory:",
        "DEMO_PORT": port,
        "PYTHONPATH": str(ROOT / "example_site"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_demo_port_reaches_the_seeded_site_and_every_emailed_link():
    result = seed_demo("8123")
    assert result["site"] == ["127.0.0.1", 8123]
    assert (result["status"], result["emails"]) == (303, 1)
    links = result["links"]
    assert any("/access/link/" in link for link in links), links
    assert all(link.startswith("http://127.0.0.1:8123/") for link in links), links


def test_the_seeded_admin_has_a_name_so_account_settings_save():
    """The demo walkthrough could not save Account settings (to change the admin language):
    "This field is required." for the name the seeded admin lacked."""
    result = seed_demo("8123", NAMES_SCRIPT)
    assert result["name"] == ["Demo", "Admin"]
    assert result["account_settings_valid"], result["errors"]
    assert result["renamed"] == ["Ada", "Admin"]
    assert result["admins"] == 1


#: The demo's home page for a German browser (the demo has LocaleMiddleware).
GERMAN_SCRIPT = r"""
import json
import django
django.setup()
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
html = Client(HTTP_ACCEPT_LANGUAGE="de").get("/").content.decode()
print(json.dumps({"html": html}))
"""


def test_the_demo_frame_speaks_the_browsers_german():
    """The German walkthrough found the demo's own frame English on German pages."""
    html = seed_demo("8123", GERMAN_SCRIPT)["html"]
    assert '<html lang="de">' in html
    assert ">Anmelden</a>" in html
    assert "Demo-Website von wagtail-member-access. Nicht für den Produktivbetrieb." in html
    assert "Gebaut mit Wagtail und wagtail-member-access." in html
    assert "Not for production" not in html
