"""Member-account pages: members-only pages, password sign-in, invitation, forgotten password
(code and link), forced change, terms, "My access" and sign out. Runs with any user model
(see tests/test_custom_user_models.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import code_from
from tests.factories import AccessListFactory, make_page
from tests.users import PASSWORD, make_user
from wagtail_member_access import api
from wagtail_member_access.flows import common, invitation, password_reset, password_sign_in
from wagtail_member_access.models import MemberProfile

pytestmark = pytest.mark.django_db

SIGN_IN = "/access/sign-in/"
PASSWORD_URL = "/access/sign-in/password/"
FORGOT = "/access/password/forgot/"
FORGOT_CODE = "/access/password/forgot/code/"
SET = "/access/password/set/"
CHANGE = "/access/password/change/"
MY_ACCESS = "/access/my-access/"
NEW = "a brand new passphrase 42"
REFUSED = (
    "The email address or password is not right. Check them, or sign in with an emailed code "
    "or link instead."
)


@pytest.fixture(autouse=True)
def _validators(settings):
    # Django's usual four, as a project's settings have them.
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": f"django.contrib.auth.password_validation.{name}"}
        for name in (
            "UserAttributeSimilarityValidator",
            "MinimumLengthValidator",
            "CommonPasswordValidator",
            "NumericPasswordValidator",
        )
    ]


@pytest.fixture
def members_page(home, course):
    page = make_page(home, title="Members area", slug="members-area", body="Members body")
    api.protect(page, mode="members", access_lists=[course])
    return page


def sign_in(client, email, password=PASSWORD, next_url=""):
    return client.post(PASSWORD_URL, {"email": email, "password": password, "next": next_url})


def token_path(message, kind):
    match = re.search(rf"http://[^/\s]+(/access/{kind}/[A-Za-z0-9_-]{{43}}/)", message.body)
    assert match, message.body
    return match.group(1)


def set_password(client, path, password=NEW, **extra):
    response = client.get(path)
    assert response.status_code == 303 and response["Location"] == SET, response
    return client.post(SET, {"new_password1": password, "new_password2": password, **extra})


def signed_in_pk(client):
    return client.session.get("_auth_user_id")


# --- members-only pages ----------------------------------------------------------------------


def test_signed_out_visitor_goes_to_our_sign_in_page_and_back(client, members_page, buyer):
    response = client.get(members_page.url + "?x=1")
    assert response.status_code == 302
    assert response["Location"] == f"{SIGN_IN}?next=/members-area/%3Fx%3D1"
    assert "no-store" in response["Cache-Control"]
    user = make_user("ana@example.com")
    response = sign_in(client, "ana@example.com", next_url="/members-area/?x=1")
    assert response.status_code == 303 and response["Location"] == "/members-area/?x=1"
    assert int(signed_in_pk(client)) == user.pk
    assert "Members body" in client.get("/members-area/?x=1").content.decode()


def test_frontend_login_url_and_our_setting_take_precedence(client, members_page, settings):
    settings.WAGTAIL_FRONTEND_LOGIN_URL = "/login/"
    assert client.get(members_page.url)["Location"] == "/login/?next=/members-area/"
    settings.WAGTAIL_MEMBER_ACCESS_LOGIN_URL = "/members/login/"
    assert client.get(members_page.url)["Location"] == "/members/login/?next=/members-area/"


def test_member_without_the_grant_gets_a_403_listing_their_access(client, members_page, home):
    other = AccessListFactory(name="Course B")
    lesson = make_page(home, title="Lesson B", slug="lesson-b")
    api.protect(lesson, mode="members", access_lists=[other])
    api.grant_access("mia@example.com", other)
    user = make_user("mia@example.com")
    client.force_login(user)
    response = client.get(members_page.url)
    html = response.content.decode()
    assert response.status_code == 403
    assert "Your access does not include this page" in html
    assert "Course B" in html and '<a href="/lesson-b/">Lesson B</a>' in html
    assert "Members body" not in html
    assert "no-store" in response["Cache-Control"]


# --- password sign-in ------------------------------------------------------------------------


def test_sign_in_page_offers_password_and_email_sign_in(client):
    html = client.get(SIGN_IN).content.decode()
    assert 'autocomplete="current-password"' in html
    assert "Forgot your password, or never had one?" in html
    assert "Email me a code and a link" in html


@pytest.mark.parametrize("case", ["wrong password", "unknown", "inactive", "no password"])
def test_failed_password_sign_in_says_the_same_whatever_was_wrong(client, case):
    make_user("mia@example.com")
    make_user("gone@example.com", is_active=False)
    make_user("nopass@example.com", password=None)
    email, password = {
        "wrong password": ("mia@example.com", "wrong"),
        "unknown": ("nobody@example.com", PASSWORD),
        "inactive": ("gone@example.com", PASSWORD),
        "no password": ("nopass@example.com", ""),
    }[case]
    response = sign_in(client, email, password or "x")
    assert response.status_code == 400
    assert REFUSED in response.content.decode()
    assert signed_in_pk(client) is None


def test_email_is_matched_case_insensitively(client):
    user = make_user("mia@example.com")
    assert sign_in(client, "  MIA@Example.COM ").status_code == 303
    assert int(signed_in_pk(client)) == user.pk


def test_password_failures_are_limited_per_account_across_ips(settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "3/h"
    make_user("mia@example.com")
    for n in range(3):
        client = Client(REMOTE_ADDR=f"10.0.0.{n}")
        assert sign_in(client, "mia@example.com", "wrong").status_code == 400
    response = sign_in(Client(REMOTE_ADDR="10.0.0.9"), "MIA@example.com")  # right password
    assert response.status_code == 429
    assert "Too many requests" in response.content.decode()
    # Another account is not affected.
    make_user("ana@example.com")
    assert sign_in(Client(REMOTE_ADDR="10.0.0.9"), "ana@example.com").status_code == 303


def test_password_failures_are_limited_per_ip(client, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_IP = "3/h"
    make_user("mia@example.com")
    for n in range(3):
        assert sign_in(client, f"user{n}@example.com", "wrong").status_code == 400
    assert sign_in(client, "mia@example.com").status_code == 429
    assert sign_in(Client(REMOTE_ADDR="10.9.9.9"), "mia@example.com").status_code == 303


def test_successful_sign_ins_are_not_counted(settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "2/h"
    make_user("mia@example.com")
    for _ in range(5):
        assert sign_in(Client(), "mia@example.com").status_code == 303


def test_username_and_email_share_one_account_allowance(settings):
    # Alternating "mia" and "mia@example.com" does not double the allowance
    # (docs/security.md#password-guessing).
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "4/h"
    user = make_user("mia@example.com")
    names = [user.get_username(), "mia@example.com", user.get_username(), " MIA@Example.com"]
    for n, name in enumerate(names):
        assert sign_in(Client(REMOTE_ADDR=f"10.0.1.{n}"), name, "wrong").status_code == 400
    for name in (user.get_username(), "mia@example.com"):
        assert sign_in(Client(REMOTE_ADDR="10.0.1.9"), name).status_code == 429


def test_unknown_identifiers_are_limited_and_answered_the_same(settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "2/h"
    make_user("mia@example.com")
    answers = {}
    for email in ("mia@example.com", "nobody@example.com"):
        statuses = []
        for n in range(3):
            response = sign_in(Client(REMOTE_ADDR=f"10.0.2.{n}"), email, "wrong")
            statuses.append(response.status_code)
            if response.status_code == 400:
                assert REFUSED in response.content.decode()
        answers[email] = statuses
    assert answers["mia@example.com"] == answers["nobody@example.com"] == [400, 400, 429]


def test_at_most_the_maximum_failures_in_a_row_however_slow(settings, clock):
    # The window (10 per 15 minutes by default) alone would allow 960 failures a day.
    settings.WAGTAIL_MEMBER_ACCESS_PASSWORD_MAX_FAILURES = 25
    make_user("mia@example.com")
    for n in range(25):
        if n and n % 10 == 0:
            clock.advance(minutes=16)  # a new window for the account
        client = Client(REMOTE_ADDR=f"10.0.3.{n}")
        assert sign_in(client, "mia@example.com", "wrong").status_code == 400
    clock.advance(days=30)
    for name in ("mia@example.com", "MIA@example.com"):
        response = sign_in(Client(REMOTE_ADDR="10.0.3.99"), name)  # right password
        assert response.status_code == 429
        assert "Too many requests" in response.content.decode()
    # Another account is not affected.
    make_user("ana@example.com")
    assert sign_in(Client(REMOTE_ADDR="10.0.3.99"), "ana@example.com").status_code == 303


def test_the_default_maximum_is_one_hundred_in_a_row(settings, clock):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "1000/d"
    make_user("mia@example.com")
    for n in range(100):
        client = Client(REMOTE_ADDR=f"10.0.{4 + n // 25}.{n}")
        assert sign_in(client, "mia@example.com", "wrong").status_code == 400, n
    clock.advance(days=2)
    assert sign_in(Client(REMOTE_ADDR="10.1.0.1"), "mia@example.com").status_code == 429


def test_a_success_or_a_new_password_starts_the_failures_in_a_row_again(settings, mailoutbox):
    settings.WAGTAIL_MEMBER_ACCESS_PASSWORD_MAX_FAILURES = 3
    user = make_user("mia@example.com")
    for _ in range(2):
        assert sign_in(Client(), "mia@example.com", "wrong").status_code == 400
    assert sign_in(Client(), "mia@example.com").status_code == 303
    for _ in range(3):
        assert sign_in(Client(), "mia@example.com", "wrong").status_code == 400
    assert sign_in(Client(), "mia@example.com").status_code == 429
    # A password reset (the way back the docs give) lifts the pause.
    assert password_reset.send_password_reset(user)
    path = re.search(
        r"http://[^/\s]+(/access/password/reset/[A-Za-z0-9_-]{43}/)", mailoutbox[-1].body
    )
    assert set_password(Client(), path.group(1)).status_code == 303
    assert sign_in(Client(), "mia@example.com", NEW).status_code == 303


def test_signing_in_anywhere_else_ends_a_run_of_failures(settings):
    # An editor paused on the member sign-in page signs in at the Wagtail admin's login: the
    # owner is back, so the member sign-in page takes their password again.
    settings.WAGTAIL_MEMBER_ACCESS_PASSWORD_MAX_FAILURES = 3
    editor = make_user("editor@example.com", is_staff=True, is_superuser=True)
    for _ in range(3):
        assert sign_in(Client(), "editor@example.com", "wrong").status_code == 400
    assert sign_in(Client(), "editor@example.com").status_code == 429
    admin = Client()
    response = admin.post(
        reverse("wagtailadmin_login"), {"username": editor.get_username(), "password": PASSWORD}
    )
    assert response.status_code == 302
    assert sign_in(Client(), "editor@example.com").status_code == 303


def test_failures_in_a_row_of_a_made_up_name_expire(settings, monkeypatch):
    # A name that names no account can never succeed: its count must not stay in the cache for
    # ever (made-up names would fill it, and push real accounts' counts out). An account's
    # count has no expiry: only a success ends it.
    make_user("mia@example.com")
    timeouts = {}
    cache = common.ratelimit_cache()
    real = cache.add

    def spy(key, value, timeout=None, version=None):
        timeouts[key] = timeout
        return real(key, value, timeout, version)

    monkeypatch.setattr(cache, "add", spy)
    sign_in(Client(), "nobody@example.com", "wrong")
    sign_in(Client(), "mia@example.com", "wrong")
    failures = {
        name: timeouts[common.failures_key(account)]
        for name, account in (
            ("made up", f"name:{password_sign_in._account_key('nobody@example.com')}"),
            ("account", f"user:{password_sign_in._account_for('mia@example.com').pk}"),
        )
    }
    assert failures == {"made up": password_sign_in.UNKNOWN_NAME_FAILURES_TTL, "account": None}
    assert password_sign_in.UNKNOWN_NAME_FAILURES_TTL == 24 * 3600


def test_parallel_guesses_cannot_overshoot_the_limit(settings, monkeypatch):
    # The second request arrives while the first one's password is being checked: it must
    # already see the first attempt counted.
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "1/h"
    make_user("mia@example.com")
    from wagtail_member_access.views import sign_in as view

    real = view.authenticate_password
    nested = []

    def slow_check(request, identifier, password):
        if not nested:
            nested.append(sign_in(Client(REMOTE_ADDR="10.0.9.2"), "mia@example.com", "guess 2"))
        return real(request, identifier, password)

    monkeypatch.setattr(view, "authenticate_password", slow_check)
    assert sign_in(Client(REMOTE_ADDR="10.0.9.1"), "mia@example.com", "guess 1").status_code == 400
    assert nested[0].status_code == 429


@pytest.mark.parametrize(
    "evil", ["//evil.com/", "https://evil.com/", "/\\evil.com", "javascript:x"]
)
def test_password_sign_in_next_stays_inside_the_site(client, evil):
    make_user("mia@example.com")
    assert sign_in(client, "mia@example.com", next_url=evil)["Location"] == "/"


def test_editors_sign_in_with_their_password_and_go_to_next_or_the_admin(client):
    make_user("editor@example.com", is_staff=True, is_superuser=True)
    assert sign_in(client, "editor@example.com")["Location"] == reverse("wagtailadmin_home")
    assert client.get(reverse("wagtailadmin_home")).status_code == 200
    other = Client()
    assert sign_in(other, "editor@example.com", next_url="/somewhere/")["Location"] == "/somewhere/"


def test_password_sign_in_cycles_the_session_key(client):
    make_user("mia@example.com")
    client.get(SIGN_IN)
    client.session.save()
    before = client.session.session_key
    sign_in(client, "mia@example.com")
    assert client.session.session_key != before


# --- invitation ------------------------------------------------------------------------------


def test_invitation_sets_the_password_and_signs_in(client, mailoutbox, members_page, buyer):
    invitation.send_invitation("ana@example.com")
    path = token_path(mailoutbox[0], "invitation")
    # Opening the link (as scanners do) changes nothing, however often.
    for _ in range(3):
        response = Client().get(path)
        assert response.status_code == 303 and response["Referrer-Policy"] == "no-referrer"
    response = client.get(path)
    html = client.get(SET).content.decode()
    assert "Choose your password" in html and "ana@example.com" in html
    response = client.post(SET, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 303 and response["Location"] == MY_ACCESS
    user = MemberProfile.objects.get(user__pk=signed_in_pk(client)).user
    assert user.check_password(NEW)
    assert MemberProfile.objects.get(user=user).invited_at is not None
    assert "Members body" in client.get(members_page.url).content.decode()
    assert len(mailoutbox) == 1  # no "password changed" notice for the first password
    # Used: the link is dead now, in any browser.
    again = Client().get(path)
    assert again.status_code == 410
    assert "This link has already been used" in again.content.decode()


def test_an_invitation_that_replaces_a_password_sends_the_notice(client, mailoutbox, buyer):
    # A password the account already had is changed: its owner is told
    # (docs/security.md#account-links).
    make_user("ana@example.com")
    invitation.send_invitation("ana@example.com")
    client.get(token_path(mailoutbox[0], "invitation"))
    response = client.post(SET, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 303
    assert len(mailoutbox) == 2
    notice = mailoutbox[1]
    assert notice.to == ["ana@example.com"]
    assert notice.subject == "Your password for localhost was changed"


def test_an_invitation_with_an_initial_password_sends_no_notice(
    client, mailoutbox, buyer, settings
):
    # The generated initial password is not the member's own: choosing theirs through the
    # link is their first password.
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    invitation.send_invitation("ana@example.com")
    client.get(token_path(mailoutbox[0], "invitation"))
    assert client.post(SET, {"new_password1": NEW, "new_password2": NEW}).status_code == 303
    assert len(mailoutbox) == 1


def test_password_validators_apply_and_keep_the_link(client, mailoutbox, home):
    invitation.send_invitation("ana@example.com")
    path = token_path(mailoutbox[0], "invitation")
    response = set_password(client, path, password="123")
    assert response.status_code == 400
    html = response.content.decode()
    assert "This password is too short." in html
    assert "This password is entirely numeric." in html
    mismatch = client.post(SET, {"new_password1": NEW, "new_password2": NEW + "x"})
    assert "The two password fields didn’t match." in mismatch.content.decode()
    assert signed_in_pk(client) is None
    assert set_password(client, path).status_code == 303  # still usable


def test_invitation_expires(client, mailoutbox, home, clock, settings):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_VALIDITY = timedelta(days=2)
    invitation.send_invitation("ana@example.com")
    path = token_path(mailoutbox[0], "invitation")
    clock.advance(days=1, hours=23, minutes=59)
    assert client.get(path).status_code == 303
    clock.advance(minutes=2)
    response = client.post(SET, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert reverse("wagtail_member_access:forgot_password") in response.content.decode()
    assert signed_in_pk(client) is None


@pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 300, "%00"])
def test_malformed_tokens_get_a_friendly_404(client, token):
    for prefix in ("/access/invitation/", "/access/password/reset/"):
        response = client.get(f"{prefix}{token}/")
        assert response.status_code == 404
        assert "This link is not valid" in response.content.decode()
    assert client.get(SET).status_code == 404  # nothing opened in this browser


def test_invitation_never_signs_in_someone_made_staff_since(client, mailoutbox, home):
    invitation.send_invitation("ana@example.com")
    path = token_path(mailoutbox[0], "invitation")
    client.get(path)
    user = MemberProfile.objects.get().user
    user.is_staff = True
    user.save()
    response = client.post(SET, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 403
    assert signed_in_pk(client) is None
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_terms_must_be_accepted_with_the_first_password(client, mailoutbox, home, settings):
    settings.WAGTAIL_MEMBER_ACCESS_TERMS_URL = "https://example.com/terms/"
    invitation.send_invitation("ana@example.com")
    response = set_password(client, token_path(mailoutbox[0], "invitation"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please accept the terms of use to continue." in html
    assert 'href="https://example.com/terms/"' in html
    response = client.post(SET, {"new_password1": NEW, "new_password2": NEW, "accept_terms": "on"})
    assert response.status_code == 303
    assert MemberProfile.objects.get().terms_accepted_at is not None


def test_a_first_password_by_reset_link_asks_for_the_terms_too(mailoutbox, buyer, settings):
    # A buyer without a password gets their first one through "forgot your password, or
    # never had one?": the terms are asked there as with an invitation.
    settings.WAGTAIL_MEMBER_ACCESS_TERMS_URL = "https://example.com/terms/"
    ask_reset(Client(), "ana@example.com")
    other = Client()
    response = set_password(other, token_path(mailoutbox[0], "password/reset"))
    assert response.status_code == 400
    assert "Please accept the terms of use to continue." in response.content.decode()
    assert signed_in_pk(other) is None
    response = other.post(SET, {"new_password1": NEW, "new_password2": NEW, "accept_terms": "on"})
    assert response.status_code == 303
    assert MemberProfile.objects.get().terms_accepted_at is not None


def test_the_reset_code_form_asks_everyone_for_the_terms(client, mailoutbox, buyer, settings):
    # The code form is shown before the code proves the address, so it asks every address
    # alike (asking only some would tell who has an account).
    settings.WAGTAIL_MEMBER_ACCESS_TERMS_URL = "https://example.com/terms/"
    make_user("mia@example.com")
    forms = []
    for email in ("ana@example.com", "mia@example.com", "nobody@example.com"):
        browser = Client()
        ask_reset(browser, email)
        forms.append('name="accept_terms"' in browser.get(FORGOT).content.decode())
    assert forms == [True, True, True]
    ask_reset(client, "ana@example.com")
    code = code_from(mailoutbox[-1])
    data = {"code": code, "new_password1": NEW, "new_password2": NEW}
    response = client.post(FORGOT_CODE, data)
    assert response.status_code == 400
    assert "Please accept the terms of use to continue." in response.content.decode()
    assert signed_in_pk(client) is None
    response = client.post(FORGOT_CODE, {**data, "accept_terms": "on"})
    assert response.status_code == 303
    assert MemberProfile.objects.get(user__pk=signed_in_pk(client)).terms_accepted_at


def test_no_terms_box_without_a_terms_url(client, mailoutbox, buyer):
    ask_reset(client, "ana@example.com")
    assert 'name="accept_terms"' not in client.get(FORGOT).content.decode()


# --- initial password and forced change ------------------------------------------------------


def test_initial_password_forces_a_change_before_any_member_page(
    client, mailoutbox, members_page, buyer, settings
):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    invitation.send_invitation("ana@example.com")
    initial = re.search(r"initial password:\s+(\S+)", mailoutbox[0].body).group(1)
    response = sign_in(client, "ana@example.com", initial, next_url=members_page.url)
    assert response["Location"] == f"{CHANGE}?next=%2Fmembers-area%2F"
    # Every member page sends them to the change first …
    assert client.get(members_page.url)["Location"] == f"{CHANGE}?next=%2Fmembers-area%2F"
    assert client.get(MY_ACCESS)["Location"].startswith(CHANGE)
    # … and the initial password no longer works anywhere.
    assert sign_in(Client(), "ana@example.com", initial).status_code == 400
    html = client.get(CHANGE).content.decode()
    assert "You signed in with an initial password." in html and "old_password" not in html
    response = client.post(
        CHANGE, {"new_password1": NEW, "new_password2": NEW, "next": members_page.url}
    )
    assert response["Location"] == members_page.url
    assert "Members body" in client.get(members_page.url).content.decode()
    assert not MemberProfile.objects.get().must_change_password
    assert sign_in(Client(), "ana@example.com", NEW).status_code == 303


def test_the_forced_change_after_an_initial_password_asks_for_the_terms(
    client, mailoutbox, members_page, buyer, settings
):
    settings.WAGTAIL_MEMBER_ACCESS_INVITATION_INITIAL_PASSWORD = True
    settings.WAGTAIL_MEMBER_ACCESS_TERMS_URL = "https://example.com/terms/"
    invitation.send_invitation("ana@example.com")
    initial = re.search(r"initial password:\s+(\S+)", mailoutbox[0].body).group(1)
    sign_in(client, "ana@example.com", initial)
    html = client.get(CHANGE).content.decode()
    assert 'name="accept_terms"' in html and 'href="https://example.com/terms/"' in html
    response = client.post(CHANGE, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 400
    assert "Please accept the terms of use to continue." in response.content.decode()
    assert MemberProfile.objects.get().must_change_password
    response = client.post(
        CHANGE, {"new_password1": NEW, "new_password2": NEW, "accept_terms": "on"}
    )
    assert response.status_code == 303
    profile = MemberProfile.objects.get()
    assert profile.terms_accepted_at is not None and not profile.must_change_password


def test_a_first_password_chosen_from_my_access_asks_for_the_terms(client, buyer, settings):
    # A member who so far signed in by code has no password; choosing one is a first
    # password like any other.
    settings.WAGTAIL_MEMBER_ACCESS_TERMS_URL = "https://example.com/terms/"
    user = make_user("ana@example.com", password=None)
    client.force_login(user)
    assert 'name="accept_terms"' in client.get(CHANGE).content.decode()
    response = client.post(CHANGE, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 400
    user.refresh_from_db()
    assert not user.has_usable_password()
    response = client.post(
        CHANGE, {"new_password1": NEW, "new_password2": NEW, "accept_terms": "on"}
    )
    assert response.status_code == 303
    assert MemberProfile.objects.get(user=user).terms_accepted_at is not None
    # Once accepted, a later change does not ask again.
    assert 'name="accept_terms"' not in client.get(CHANGE).content.decode()


def test_voluntary_change_needs_the_current_password_and_ends_other_sessions(client, mailoutbox):
    user = make_user("mia@example.com")
    other = Client()
    sign_in(other, "mia@example.com")
    sign_in(client, "mia@example.com")
    wrong = client.post(
        CHANGE, {"old_password": "nope", "new_password1": NEW, "new_password2": NEW}
    )
    assert "Your old password was entered incorrectly." in wrong.content.decode()
    response = client.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert response["Location"] == MY_ACCESS
    assert client.get(MY_ACCESS).status_code == 200  # this session stays
    assert other.get(MY_ACCESS).status_code == 303  # the other one ended
    (notice,) = mailoutbox
    assert notice.subject == "Your password for localhost was changed"
    user.refresh_from_db()
    assert user.check_password(NEW)


def change(client, old, new=NEW):
    return client.post(CHANGE, {"old_password": old, "new_password1": new, "new_password2": new})


def test_guessing_the_current_password_is_limited_per_account(client, settings, mailoutbox):
    # Someone holding a member's session cannot guess their current password without limit.
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "3/h"
    user = make_user("mia@example.com")
    client.force_login(user)
    for n in range(3):
        response = change(client, f"guess {n}")
        assert response.status_code == 400
        assert "Your old password was entered incorrectly." in response.content.decode()
    response = change(client, PASSWORD)  # the right one, too late
    assert response.status_code == 429
    assert "Too many requests" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and not mailoutbox
    # The same account allowance as the sign-in page, from any IP.
    assert sign_in(Client(REMOTE_ADDR="10.0.5.1"), "mia@example.com").status_code == 429


def test_guessing_the_current_password_is_limited_per_ip(settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_IP = "2/h"
    for n, email in enumerate(("mia@example.com", "ana@example.com")):
        client = Client(REMOTE_ADDR="10.0.6.1")
        client.force_login(make_user(email))
        assert change(client, f"guess {n}").status_code == 400
    client = Client(REMOTE_ADDR="10.0.6.1")
    client.force_login(make_user("ben@example.com"))
    assert change(client, PASSWORD).status_code == 429


def test_current_password_failures_count_in_a_row(client, settings):
    settings.WAGTAIL_MEMBER_ACCESS_PASSWORD_MAX_FAILURES = 2
    client.force_login(make_user("mia@example.com"))
    assert change(client, "guess 1").status_code == 400
    assert change(client, "guess 2").status_code == 400
    assert change(client, PASSWORD).status_code == 429


def test_a_right_current_password_is_not_counted(client, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_PASSWORD_PER_ACCOUNT = "1/h"
    client.force_login(make_user("mia@example.com"))
    # The current password is right but the new one is refused: not a failure.
    for _ in range(3):
        response = change(client, PASSWORD, new="123")
        assert response.status_code == 400
        assert "Your old password was entered incorrectly." not in response.content.decode()
    assert change(client, PASSWORD).status_code == 303


# --- forgotten password ----------------------------------------------------------------------


def ask_reset(client, email):
    return client.post(FORGOT, {"email": email})


def test_forgot_password_answers_the_same_for_every_address(mailoutbox):
    make_user("mia@example.com")
    make_user("boss@example.com", is_staff=True)
    answers = []
    for email in ("mia@example.com", "nobody@example.com", "boss@example.com"):
        client = Client()
        response = ask_reset(client, email)
        page = client.get(FORGOT).content.decode().replace(email, "EMAIL")
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
        answers.append((response.status_code, response["Location"], page))
    assert answers[0] == answers[1] == answers[2]
    assert [m.to for m in mailoutbox] == [["mia@example.com"]]


def test_reset_by_code_sets_the_password_and_ends_other_sessions(client, mailoutbox):
    user = make_user("mia@example.com")
    elsewhere = Client()
    sign_in(elsewhere, "mia@example.com")
    ask_reset(client, "mia@example.com")
    message = mailoutbox[0]
    assert message.subject == "Choose a new password for localhost"
    code = code_from(message)
    response = client.post(FORGOT_CODE, {"code": code, "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 303 and response["Location"] == MY_ACCESS
    assert int(signed_in_pk(client)) == user.pk
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert elsewhere.get(MY_ACCESS).status_code == 303  # signed out there
    assert mailoutbox[1].subject == "Your password for localhost was changed"
    # The code and the link of that email are used up.
    assert (
        client.post(
            FORGOT_CODE, {"code": code, "new_password1": NEW, "new_password2": NEW}
        ).status_code
        == 400
    )
    assert Client().get(token_path(message, "password/reset")).status_code == 410


def test_wrong_or_expired_code_changes_nothing(client, mailoutbox, clock):
    user = make_user("mia@example.com")
    ask_reset(client, "mia@example.com")
    code = code_from(mailoutbox[0])
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(FORGOT_CODE, {"code": wrong, "new_password1": NEW, "new_password2": NEW})
    assert "That code was not right. You can try again in" in response.content.decode()
    clock.advance(minutes=11)
    response = client.post(FORGOT_CODE, {"code": code, "new_password1": NEW, "new_password2": NEW})
    assert "This code has expired." in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reset_code_form_validates_the_password_first(client, mailoutbox):
    user = make_user("mia@example.com")
    ask_reset(client, "mia@example.com")
    code = code_from(mailoutbox[0])
    response = client.post(
        FORGOT_CODE, {"code": code, "new_password1": "abc", "new_password2": "abc"}
    )
    assert "This password is too short." in response.content.decode()
    response = client.post(FORGOT_CODE, {"code": code, "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 303  # the code was not used up by the invalid try
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_reset_by_link_in_another_browser(mailoutbox):
    user = make_user("mia@example.com")
    ask_reset(Client(), "mia@example.com")
    other = Client()
    response = set_password(other, token_path(mailoutbox[0], "password/reset"))
    assert response.status_code == 303
    assert int(signed_in_pk(other)) == user.pk
    assert mailoutbox[1].subject == "Your password for localhost was changed"


def test_reset_requests_are_rate_limited(client, settings):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_EMAIL = "2/h"
    settings.WAGTAIL_MEMBER_ACCESS_RESEND_COOLDOWN = 0
    for _ in range(2):
        assert ask_reset(Client(), "mia@example.com").status_code == 303
    assert ask_reset(Client(), "mia@example.com").status_code == 429


def test_staff_get_no_reset_email_and_no_sign_in_by_reset(mailoutbox):
    make_user("boss@example.com", is_staff=True)
    ask_reset(Client(), "boss@example.com")
    assert mailoutbox == []


# --- my access and sign out -------------------------------------------------------------------


def test_my_access_shows_lists_pages_and_dates(client, members_page, course):
    api.grant_access("ana@example.com", course)
    client.force_login(make_user("ana@example.com"))
    response = client.get(MY_ACCESS)
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "Course A" in html and '<a href="/members-area/">Members area</a>' in html
    assert "(unlimited)" in html
    assert 'action="/access/sign-out/"' in html


def test_my_access_shows_until_starts_and_ended_dates(client, clock, members_page, course):
    clock.now = datetime(2030, 5, 17, 14, 5, tzinfo=UTC)
    upcoming = AccessListFactory(name="Course B")
    api.protect(
        make_page(title="Lesson B", slug="lesson-b"), mode="members", access_lists=[upcoming]
    )
    ended = AccessListFactory(name="Course C")
    day_ended = AccessListFactory(name="Course D")
    revoked = AccessListFactory(name="Course E")
    api.grant_access("ana@example.com", course, expires_at=datetime(2030, 6, 16, 9, 30, tzinfo=UTC))
    api.grant_access("ana@example.com", upcoming, starts_at=datetime(2030, 5, 19, 0, 0, tzinfo=UTC))
    api.grant_access("ana@example.com", ended, expires_at=datetime(2030, 5, 14, 12, 0, tzinfo=UTC))
    # "Until 15 May" (stored as 16 May 00:00) reads as the day typed, not 16 May, midnight.
    api.grant_access("ana@example.com", day_ended, expires_at=datetime(2030, 5, 16, tzinfo=UTC))
    api.grant_access("ana@example.com", revoked)
    api.revoke_access("ana@example.com", revoked)
    client.force_login(make_user("ana@example.com"))
    html = client.get(MY_ACCESS).content.decode()
    access = html[html.index('<ul class="wma-access">') :]
    entries = re.findall(r"<strong>([^<]+)</strong>\s*\((.*)\)\s*\n", access)
    assert entries == [
        ("Course A", "until 16 June 2030, 09:30 (UTC)"),
        ("Course B", "starts 19 May 2030, 00:00 (UTC)"),
        ("Course C", "ended 14 May 2030, 12:00 (UTC)"),
        ("Course D", "ended at the end of 15 May 2030 (UTC)"),
        ("Course E", "revoked on 17 May 2030, 14:05 (UTC)"),
    ]
    # Only the active list's pages are links.
    assert '<li><a href="/members-area/">Members area</a></li>' in access
    assert "<li>Lesson B</li>" in access and 'href="/lesson-b/"' not in access


def test_my_access_needs_sign_in(client):
    response = client.get(MY_ACCESS)
    assert response["Location"] == f"{SIGN_IN}?next=%2Faccess%2Fmy-access%2F"


def test_sign_out_is_post_only(client):
    client.force_login(make_user("ana@example.com"))
    assert client.get("/access/sign-out/").status_code == 405
    response = client.post("/access/sign-out/")
    assert response["Location"] == SIGN_IN
    assert signed_in_pk(client) is None


def test_every_aria_describedby_of_the_password_forms_points_at_an_element(client, mailoutbox):
    make_user("mia@example.com")
    ask_reset(client, "mia@example.com")
    pages = [client.get(FORGOT).content.decode()]
    sign_in(client, "mia@example.com")
    pages.append(client.get(CHANGE).content.decode())
    for html in pages:
        described = re.findall(r'aria-describedby="([^"]+)"', html)
        assert described
        for ids in described:
            for id_ in ids.split():
                assert f'id="{id_}"' in html, id_
