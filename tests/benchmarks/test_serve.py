"""What a protected page costs to serve, next to the same page public, the same page without
our hook, and Wagtail's own password and login restrictions (the anchors: what Wagtail users
already accept).

All visitors are the same signed-in member (a grant on the page's access list), so the only
difference between the variants is the restriction on the page.
"""

from __future__ import annotations

import statistics
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse
from wagtail.models import Page, PageViewRestriction

from tests.factories import UserFactory, default_home, make_page
from wagtail_member_access import access, api
from wagtail_member_access.models import Grant

from .conftest import count_queries, median_us, member_access_hook_bypassed, report, time_calls

pytestmark = pytest.mark.django_db

# The variants take turns in many short rounds, so that a busy moment on the machine (other
# processes on 2 cores) lands on all of them alike rather than on one.
ROUNDS = 30
PER_ROUND = 10  # timed GETs per variant and round: 300 in all
WARM_UP = 3  # untimed GETs per variant at the start of each round
WAGTAIL_PASSWORD = "open sesame"


@dataclass
class BenchSite:
    lesson: Page  # the page under test: public, ours, or Wagtail's password in turn
    other: Page  # protected for another list: the site has restrictions besides the lesson
    course: object
    member: object


@pytest.fixture
def site(db) -> BenchSite:
    home = default_home()
    course = api.create_access_list("Course A")
    other_course = api.create_access_list("Course B")
    section = make_page(home, title="Courses", slug="courses")
    lesson = make_page(section, title="Lesson", slug="lesson")
    other = make_page(section, title="Other lesson", slug="other-lesson")
    api.protect(other, mode="code", access_lists=[other_course])
    member = UserFactory(username="ana", email="ana@example.com")
    api.grant_access("ana@example.com", course, name="Ana")
    return BenchSite(lesson=lesson, other=other, course=course, member=member)


def member_client(site: BenchSite) -> Client:
    client = Client()
    client.force_login(site.member)
    return client


def protect_ours(site: BenchSite) -> None:
    api.protect(site.lesson, mode="code", access_lists=[site.course])
    assert access.can_view(site.member, site.lesson)
    # The restriction is real: an anonymous visitor gets the unlock form, not the content.
    anonymous = Client().get(site.lesson.url).content.decode()
    assert "Secret body" not in anonymous and 'type="email"' in anonymous


def protect_wagtail(site: BenchSite, client: Client, kind: str = "password"):
    """Wagtail's own restriction on the lesson, passed by ``client`` (the signed-in member):
    the password posted to Wagtail's form, or just being signed in for ``"login"``."""
    if kind == "login":
        restriction = PageViewRestriction.objects.create(
            page=site.lesson, restriction_type=PageViewRestriction.LOGIN
        )
        assert Client().get(site.lesson.url).status_code == 302
        return restriction
    restriction = PageViewRestriction.objects.create(
        page=site.lesson,
        restriction_type=PageViewRestriction.PASSWORD,
        password=WAGTAIL_PASSWORD,
    )
    assert "Secret body" not in Client().get(site.lesson.url).content.decode()
    response = client.post(
        reverse("wagtailcore_authenticate_with_password", args=[restriction.id, site.lesson.id]),
        {"password": WAGTAIL_PASSWORD, "return_url": site.lesson.url},
    )
    assert response.status_code == 302, response.status_code
    return restriction


def get_ok(client: Client, url: str, *, private: bool):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert "Secret body of Lesson" in response.content.decode()
    assert ("no-store" in response.get("Cache-Control", "")) is private
    return response


@contextmanager
def variant_public(site, client):
    yield False


@contextmanager
def variant_public_without_package(site, client):
    with member_access_hook_bypassed():
        yield False


@contextmanager
def variant_ours(site, client):
    protect_ours(site)
    yield True
    assert api.unprotect(site.lesson)


@contextmanager
def variant_wagtail_password(site, client):
    restriction = protect_wagtail(site, client, "password")
    yield True
    restriction.delete()


@contextmanager
def variant_wagtail_login(site, client):
    restriction = protect_wagtail(site, client, "login")
    yield True
    restriction.delete()


VARIANTS = {
    "public": variant_public,
    # The same again, timed separately: how much two identical variants differ in this run.
    "public_again": variant_public,
    "public_without_package": variant_public_without_package,
    "protected_unlocked": variant_ours,
    "wagtail_password": variant_wagtail_password,
    "wagtail_login": variant_wagtail_login,
}


#: Django's database sessions (its default), and cached database sessions (what Django's docs
#: recommend for speed): the session of a signed-in visitor is then read from the cache, not
#: a query. Figures for the second carry the suffix ``_cached_sessions``.
SESSION_ENGINES = {
    "": "django.contrib.sessions.backends.db",
    "_cached_sessions": "django.contrib.sessions.backends.cached_db",
}


@pytest.fixture(params=list(SESSION_ENGINES), ids=["db_sessions", "cached_db_sessions"])
def sessions(request, settings):
    """The session engine for this run; returns the suffix for the figures' names."""
    settings.SESSION_ENGINE = SESSION_ENGINES[request.param]
    return request.param


def test_serve_time(site, sessions):
    """Median serve time of the lesson for the member in each variant, and the ratios to the
    same page public. The variants take turns, round by round, in a rotating order."""
    client = member_client(site)
    url = site.lesson.url
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    # Each round's median per variant: the paired ratios compare variants measured within
    # the same few hundred milliseconds, so a slow stretch of the machine cancels out.
    rounds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    for round_ in range(ROUNDS):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            with VARIANTS[name](site, client) as private:
                get_ok(client, url, private=private)
                for _ in range(WARM_UP):
                    client.get(url)
                timed = time_calls(lambda: client.get(url), PER_ROUND)
                samples[name] += timed
                rounds[name].append(statistics.median(timed))
                get_ok(client, url, private=private)

    def paired(name, base="public"):
        return statistics.median(a / b for a, b in zip(rounds[name], rounds[base], strict=True))

    medians = {name: median_us(values) for name, values in samples.items()}
    public = medians["public"]
    print()
    report(f"serve_iterations_per_variant{sessions}", len(samples["public"]))
    for name, value in medians.items():
        report(f"serve_{name}_median_us{sessions}", value, 1)
    report(f"protected_unlocked_vs_public_ratio{sessions}", medians["protected_unlocked"] / public)
    report(f"wagtail_password_vs_public_ratio{sessions}", medians["wagtail_password"] / public)
    report(f"wagtail_login_vs_public_ratio{sessions}", medians["wagtail_login"] / public)
    report(f"public_vs_without_package_ratio{sessions}", public / medians["public_without_package"])
    report(f"public_repeat_ratio{sessions}", medians["public_again"] / public)
    # The same ratios, as the median of the 30 per-round ratios (the steadier estimate).
    report(f"protected_unlocked_vs_public_paired_ratio{sessions}", paired("protected_unlocked"))
    report(f"wagtail_password_vs_public_paired_ratio{sessions}", paired("wagtail_password"))
    report(f"wagtail_login_vs_public_paired_ratio{sessions}", paired("wagtail_login"))
    report(
        f"protected_unlocked_vs_wagtail_login_paired_ratio{sessions}",
        paired("protected_unlocked", "wagtail_login"),
    )
    report(f"public_repeat_paired_ratio{sessions}", paired("public_again"))


def test_query_counts(site, sessions):
    """Queries per GET of the lesson in the steady state (after a first visit), and what our
    hook adds: the same request with our ``on_serve_page`` hook out of Wagtail's registry."""
    anonymous = Client()
    member = member_client(site)
    lesson = site.lesson.url

    def queries(client, label):
        client.get(lesson)  # warm-up: site root paths cached, session and grant writes done
        with count_queries() as q:
            response = client.get(lesson)
        assert response.status_code == 200
        assert "Secret body of Lesson" in response.content.decode()
        q.dump(label)
        return q

    print()
    # The lesson public, in a site that has member-only pages (the other lesson).
    public_anon = queries(anonymous, "public, anonymous")
    public_member = queries(member, "public, signed-in member")
    with member_access_hook_bypassed():
        public_anon_bare = queries(anonymous, "public, anonymous, without our hook")
        public_member_bare = queries(member, "public, signed-in member, without our hook")
    report(f"queries_public_anonymous{sessions}", public_anon.count)
    report(f"queries_public_member{sessions}", public_member.count)
    report(f"queries_public_without_package{sessions}", public_anon_bare.count)
    report(f"extra_queries_public_page{sessions}", public_anon.count - public_anon_bare.count)
    report(
        f"extra_queries_public_page_member{sessions}",
        public_member.count - public_member_bare.count,
    )
    report(f"package_table_queries_public_page{sessions}", len(public_anon.package))
    report(f"session_queries_public_page_member{sessions}", len(public_member.session))

    # The lesson protected by us, the member unlocked.
    with variant_ours(site, member):
        unlocked = queries(member, "protected, unlocked")
        # Against the site without the package, where the lesson is an ordinary page (taking
        # our hook out would not do: Wagtail's own check would still ask our privacy row).
        report(f"queries_protected_unlocked{sessions}", unlocked.count)
        report(
            f"extra_queries_protected_unlocked{sessions}",
            unlocked.count - public_member_bare.count,
        )
        # Wagtail's API v2 listing: one batch decides every member-protected page.
        for client, who in ((anonymous, "anonymous"), (member, "member")):
            client.get("/api/v2/pages/")
            with count_queries() as api_listing:
                assert client.get("/api/v2/pages/").status_code == 200
            api_listing.dump(f"API v2 listing, {who}")
            report(f"queries_api_v2_listing_{who}{sessions}", api_listing.count)
        report(f"package_table_queries_protected_unlocked{sessions}", len(unlocked.package))
        # Once per LAST_ACCESS_RESOLUTION (15 minutes) a visit also records the access.
        Grant.objects.filter(email="ana@example.com").update(last_access_at=None)
        with count_queries() as first_visit:
            member.get(lesson)
        first_visit.dump("protected, unlocked, last_access_at written")
        assert Grant.objects.get(email="ana@example.com").last_access_at is not None
        report(f"queries_protected_unlocked_with_last_access_write{sessions}", first_visit.count)

    # Wagtail's own restrictions, passed, for comparison.
    with variant_wagtail_password(site, member):
        report(
            f"queries_wagtail_password_passed{sessions}", queries(member, "wagtail password").count
        )
    with variant_wagtail_login(site, member):
        report(f"queries_wagtail_login_passed{sessions}", queries(member, "wagtail login").count)
