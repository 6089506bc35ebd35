"""``python manage.py seed_demo``: the demo's users, pages, access list and buyer.

Idempotent: whatever already exists is left as it is, so running it twice changes nothing.
Member access is changed only through ``wagtail_member_access.api``, as a site's own code
would do it (the models are only read, to see what exists).

DEMO ONLY: it creates a superuser ``admin`` with the password ``admin``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from wagtail.models import Page, Site

from home.models import ContentPage, HomePage
from wagtail_member_access import api
from wagtail_member_access.models import AccessList, Grant, PageAccessRestriction

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"  # demo only
ADMIN_NAME = {"first_name": "Demo", "last_name": "Admin"}
BUYER_EMAIL = "buyer@example.com"
BUYER_NAME = "Demo Buyer"
LIST_NAME = "Course A"
LESSON_SLUG = "course-a-lesson-1"

HOME_BODY = (
    "<p>This is the demo of <b>wagtail-member-access</b>. Some pages here are open to "
    "everyone, others only to the people on an access list.</p>"
    "<p><b>Course A – Lesson 1</b> (and the page below it) is only for buyers of Course A. "
    f"Open it, enter <b>{BUYER_EMAIL}</b> and ask for a code. The email with the code is "
    'printed in the terminal and shown in the <a href="/outbox/">demo outbox</a>. Any other '
    "email address gets no code (and the page does not tell you so).</p>"
    "<p><b>Course A – Lesson 2</b> opens 7 days after a buyer's access started (drip); "
    "<b>anyone at school.example</b> (e.g. <b>pupil@school.example</b>) may unlock Course A, "
    "up to 5 different addresses (a domain grant with seats).</p>"
    "<p><b>Course A – Bonus video</b> is unlocked by a magic link instead, and the "
    "<b>Members' area</b> by a code or a link (one email carries both). Buyers can also "
    '<a href="/access/sign-in/">sign in</a> without a password.</p>'
    "<p>Editors: sign in to the admin as admin / admin to see the access list, the grant and "
    "the page's history.</p>"
)
PUBLIC_BODY = (
    "<p>A public page: everyone can read it, no email needed.</p>"
    "<p>Wagtail's own privacy settings keep working beside member access.</p>"
)
LESSON_BODY = (
    "<p>Welcome to lesson 1 of Course A. You can read this because your email address is on "
    "the Course A access list.</p>"
    "<p>Your sign-in also opens every other page this email has access to, such as the "
    "worksheet below: it inherits this page's protection.</p>"
)
VIDEO_BODY = (
    "<p>The bonus video of Course A. This page is set to <b>magic link</b>: enter your email "
    "and open the link from the email, in this browser or any other.</p>"
)
MEMBERS_BODY = (
    "<p>The members' area. This page is set to <b>code or link</b>: one email carries both; "
    "use whichever is handier, the other then stops working.</p>"
)
LIBRARY_BODY = (
    "<p>The members' library. This page is set to <b>signed-in members</b> of the Course A "
    "list: signed-out visitors are sent to the sign-in page (password, code or link) and back "
    "here; signed-in members without a Course A grant are told what they do have.</p>"
)
#: Sample grants for the admin's filters: (email, name, starts in days, expires in days,
#: revoked). Dates count from the first seeding; the seeding never changes them later.
SAMPLE_GRANTS = [
    ("active@example.com", "Active Buyer", None, None, False),
    ("soon@example.com", "Expiring Soon", -30, 3, False),
    ("expired@example.com", "Expired Buyer", -60, -1, False),
    ("upcoming@example.com", "Upcoming Buyer", 10, 40, False),
    ("refunded@example.com", "Refunded Buyer", None, None, True),
]
SAMPLE_LIST = "Course B"

LESSON_2_BODY = (
    "<p>Lesson 2 of Course A. It <b>drips</b>: it opens 7 days after a buyer's access to "
    "Course A started. Until then a signed-in buyer reads when it opens, and sees the lessons "
    "that are open already.</p>"
)
#: Everyone at this domain may unlock Course A, up to SCHOOL_SEATS different addresses.
SCHOOL_DOMAIN = "@school.example"
SCHOOL_SEATS = 5
DRIP_DAYS = 7

WORKSHEET_BODY = (
    "<p>The worksheet for lesson 1. This page has no protection of its own: it is protected "
    "because it is below Course A – Lesson 1.</p>"
)


class Command(BaseCommand):
    help = "Create the demo's admin user, pages, access list and buyer (idempotent; demo only)."

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        with transaction.atomic():
            self.ensure_admin()
            home = self.ensure_home()
            self.ensure_site(home)
            self.ensure_page(home, "About this demo", "about", PUBLIC_BODY)
            lesson = self.ensure_page(home, "Course A – Lesson 1", LESSON_SLUG, LESSON_BODY)
            self.ensure_page(lesson, "Lesson 1 – Worksheet", "worksheet", WORKSHEET_BODY)
            video = self.ensure_page(home, "Course A – Bonus video", "course-a-video", VIDEO_BODY)
            members = self.ensure_page(home, "Members' area", "members-area", MEMBERS_BODY)
            library = self.ensure_page(home, "Members' library", "library", LIBRARY_BODY)
            course = self.ensure_access_list()
            self.ensure_protected(lesson, course, "code")
            self.ensure_protected(video, course, "link")
            self.ensure_protected(members, course, "code_or_link")
            self.ensure_protected(library, course, "members")
            lesson_2 = self.ensure_page(
                home, "Course A – Lesson 2", "course-a-lesson-2", LESSON_2_BODY
            )
            self.ensure_protected(lesson_2, course, "code", opens_after=timedelta(days=DRIP_DAYS))
            self.ensure_school(course)
            self.ensure_buyer(course)
            self.ensure_sample_grants()
        if self.verbosity:
            self.stdout.write(
                self.style.SUCCESS("Demo data ready.")
                + f" Admin: {ADMIN_USERNAME} / {ADMIN_PASSWORD} (demo only)."
                + f" Protected page: /{LESSON_SLUG}/, buyer: {BUYER_EMAIL}."
            )

    def say(self, changed: bool, what: str, verb: str = "created") -> None:
        if self.verbosity:
            self.stdout.write(f"  {verb if changed else 'exists':8} {what}")

    def ensure_admin(self) -> None:
        """The superuser, with a name: Wagtail's Account settings require one, so without it
        the demo's admin could not save them (e.g. to change the admin language). A demo
        database seeded before gets the name it lacks; a name set since is kept."""
        User = get_user_model()
        lookup = {User.USERNAME_FIELD: ADMIN_USERNAME}
        user = User.objects.filter(**lookup).first()
        if user is None:
            User.objects.create_superuser(
                **lookup,
                email="admin@example.com",
                password=ADMIN_PASSWORD,
                **ADMIN_NAME,
            )
        self.say(user is None, f"superuser {ADMIN_USERNAME} (password {ADMIN_PASSWORD!r})")
        if user is not None:
            missing = {
                field: value for field, value in ADMIN_NAME.items() if not getattr(user, field)
            }
            for field, value in missing.items():
                setattr(user, field, value)
            if missing:
                user.save(update_fields=list(missing))
                self.say(True, f"name of {ADMIN_USERNAME}", verb="named")

    def ensure_home(self) -> HomePage:
        home = HomePage.objects.filter(depth=2).first()
        if home is not None:
            self.say(False, f"home page {home.title!r}")
            return home
        root = Page.get_first_root_node()
        # Wagtail's migrations create a plain "Welcome to your new Wagtail site!" page at
        # the root (and a Site pointing to it); the demo's home page replaces it.
        plain = ContentType.objects.get_for_model(Page)
        for welcome in Page.objects.filter(depth=2, slug="home", content_type=plain):
            if welcome.is_leaf():
                welcome.delete()
        slug = "home" if not root.get_children().filter(slug="home").exists() else "demo-home"
        home = root.add_child(instance=HomePage(title="Example site", slug=slug, body=HOME_BODY))
        self.say(True, f"home page {home.title!r}")
        return home

    def ensure_site(self, home: HomePage) -> None:
        site = Site.objects.filter(is_default_site=True).first() or Site(is_default_site=True)
        wanted = {
            # The address README and `make demo` print: email links must open in the same
            # browser session (cookies are per host, and localhost is another host).
            "hostname": "127.0.0.1",
            "port": settings.DEMO_PORT,  # `make demo PORT=…`
            "site_name": "Example site",
            "root_page_id": home.pk,
        }
        changed = site.pk is None or any(getattr(site, k) != v for k, v in wanted.items())
        if changed:
            for key, value in wanted.items():
                setattr(site, key, value)
            site.save()
        self.say(changed, f"default site 127.0.0.1:{settings.DEMO_PORT}", verb="updated")

    def ensure_page(self, parent: Page, title: str, slug: str, body: str) -> ContentPage:
        page = parent.get_children().filter(slug=slug).specific().first()
        created = page is None
        if created:
            page = parent.add_child(instance=ContentPage(title=title, slug=slug, body=body))
        self.say(created, f"page {title!r} at {page.get_url()}")
        return page

    def ensure_access_list(self) -> AccessList:
        course = AccessList.objects.filter(name=LIST_NAME).first()
        created = course is None
        if created:
            course = api.create_access_list(LIST_NAME, description="Buyers of Course A.")
        self.say(created, f"access list {LIST_NAME!r}")
        return course

    def ensure_protected(
        self, page: Page, course: AccessList, mode: str, *, opens_after=None
    ) -> None:
        exists = PageAccessRestriction.objects.filter(page=page).exists()
        if not exists:
            api.protect(page, mode=mode, access_lists=[course], opens_after=opens_after)
        drip = f", opens {opens_after.days} days after access starts" if opens_after else ""
        self.say(not exists, f"member access on {page.title!r}: {mode}{drip}")

    def ensure_school(self, course: AccessList) -> None:
        """A domain grant: every address at school.example opens Course A, up to
        SCHOOL_SEATS members (docs/courses-and-teams.md#domain-grants-and-seats)."""
        exists = Grant.objects.filter(access_list=course, email=SCHOOL_DOMAIN).exists()
        if not exists:
            api.grant_access(
                SCHOOL_DOMAIN, course, name="School (demo)", seats=SCHOOL_SEATS, expires_at=None
            )
        self.say(
            not exists, f"domain grant {SCHOOL_DOMAIN} on {LIST_NAME!r} ({SCHOOL_SEATS} seats)"
        )

    def ensure_sample_grants(self) -> None:
        """A second list with grants in every state, for the admin's filters and bulk
        actions. Created once; left alone afterwards (editors may change them)."""
        sample = AccessList.objects.filter(name=SAMPLE_LIST).first()
        if sample is not None:
            self.say(False, f"access list {SAMPLE_LIST!r} with sample grants")
            return
        sample = api.create_access_list(
            SAMPLE_LIST, description="Sample grants in every state.", default_days=365
        )
        now = timezone.now()
        for email, name, starts, expires, revoked in SAMPLE_GRANTS:
            api.grant_access(
                email,
                sample,
                name=name,
                starts_at=now + timedelta(days=starts) if starts is not None else None,
                expires_at=now + timedelta(days=expires) if expires is not None else None,
                source="manual",
            )
            if revoked:
                api.revoke_access(email, sample)
        self.say(True, f"access list {SAMPLE_LIST!r} with {len(SAMPLE_GRANTS)} sample grants")

    def ensure_buyer(self, course: AccessList) -> None:
        # Left alone while active; (re)granted when missing or revoked, e.g. in the admin.
        active = Grant.objects.filter(
            access_list=course, email=BUYER_EMAIL, revoked_at__isnull=True
        ).exists()
        if not active:
            api.grant_access(BUYER_EMAIL, course, name=BUYER_NAME, source="manual")
        self.say(not active, f"grant for {BUYER_EMAIL} ({BUYER_NAME}) on {LIST_NAME!r}")
