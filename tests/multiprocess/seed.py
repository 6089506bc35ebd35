"""``python -m tests.multiprocess.seed``: migrate the multiprocess test's database and make
its protected page and grants; prints ``{"page_id", "path"}`` as JSON."""

import json
import os

import django


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.multiprocess.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from tests.factories import AccessListFactory, ensure_default_home, make_page
    from wagtail_member_access import api

    home = ensure_default_home()
    course = AccessListFactory(name="Course A", slug="course-a")
    page = make_page(home, title="Members lesson", slug="lesson", body="SECRET-LESSON-BODY")
    api.protect(page, mode="code", access_lists=[course])
    for i in range(40):
        api.grant_access(f"m{i}@example.com", course)
    for name in ("ana", "ben", "cleo", "dora", "emil"):
        api.grant_access(f"{name}@example.com", course)
    print(json.dumps({"page_id": page.pk, "path": page.url}))


if __name__ == "__main__":
    main()
