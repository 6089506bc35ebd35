"""Smoke test of the example site (run by .ci/run): seed twice, then the code flow through the
demo outbox, as a visitor of ``make demo`` would do it.

Run with the project's virtualenv from the repository root, with ``DATABASE_URL`` pointing at
a scratch database that ``manage.py migrate`` has prepared and ``DEMO_OUTBOX_DIR`` at a scratch
directory.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "example_site"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

outbox_dir = Path(os.environ["DEMO_OUTBOX_DIR"])

with override_settings(DEMO_OUTBOX_DIR=outbox_dir):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # idempotent: must not fail

    client = Client()
    assert client.get("/").status_code == 200
    assert client.get("/about/").status_code == 200
    lesson = client.get("/course-a-lesson-1/")
    html = lesson.content.decode()
    assert lesson.status_code == 200 and 'name="email"' in html, html[:2000]
    assert "Demo site of wagtail-member-access" in html  # the site's base.html
    assert "Welcome to lesson 1" not in html
    action = re.search(r'action="(/access/unlock/\d+/email/)"', html).group(1)

    response = client.post(action, {"email": "buyer@example.com", "next": "/course-a-lesson-1/"})
    assert response.status_code == 303, response.status_code
    outbox = client.get("/outbox/").content.decode()
    code = re.search(r"\b(\d{6})\b\s*\n", outbox).group(1)
    link = re.search(r'href="(/outbox/[0-9a-f-]+/html/)"', outbox).group(1)
    assert client.get(link)["Content-Security-Policy"] == "sandbox"

    response = client.post(action.replace("/email/", "/code/"), {"code": code})
    assert response.status_code == 303, response.status_code
    assert "Welcome to lesson 1" in client.get("/course-a-lesson-1/").content.decode()
    assert "The worksheet" in client.get("/course-a-lesson-1/worksheet/").content.decode()

    # Signed in as the buyer (by the code above): the members-only library opens, and
    # "my access" lists Course A.
    assert "members' library" in client.get("/library/").content.decode().lower()
    assert "Course A" in client.get("/access/my-access/").content.decode()
    # Signed out, the library sends the visitor to the member sign-in page and back.
    anonymous = Client()
    response = anonymous.get("/library/")
    assert response.status_code == 302 and "/access/sign-in/" in response["Location"], response

    # The editor's screens of the demo's admin.
    admin = Client()
    assert admin.login(username="admin", password="admin")
    for url in (
        "/admin/member-access/lists/",
        "/admin/member-access/grants/",
        "/admin/member-access/emails/",
        "/admin/member-access/emails/new/",
    ):
        assert admin.get(url).status_code == 200, url

    with override_settings(DEBUG=False):
        assert client.get("/outbox/").status_code == 404

print(
    f"demo smoke: seeded twice, code flow via the outbox ({settings.ROOT_URLCONF}), members "
    "page, my access and the admin screens work"
)
