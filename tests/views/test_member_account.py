"""The member's account page (docs/member-accounts.md): change email, sign out everywhere,
download my data, delete my account, remove the password; and the walkthrough's fixes on the
visitor pages (wait times, replaced codes, next through the reset, 429s, noindex, `self`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tests.conftest import code_from
from tests.users import PASSWORD, make_user
from wagtail_member_access import api, grants
from wagtail_member_access.checks import check_password_rules
from wagtail_member_access.models import EmailChallenge, Grant, GrantReference, MemberSession

pytestmark = pytest.mark.django_db

PAGE = reverse("wagtail_member_access:my_access")


def url(name):
    return reverse(f"wagtail_member_access:{name}")


@pytest.fixture
def member(course):
    api.grant_access("ana@example.com", course, name="Ana")
    return make_user("ana@example.com")


@pytest.fixture
def signed_in(member):
    client = Client(HTTP_USER_AGENT="Firefox on Linux")
    response = client.post(
        url("sign_in_password"), {"email": "ana@example.com", "password": PASSWORD}
    )
    assert response.status_code == 303
    return client


def email_of(user):
    user.refresh_from_db()
    return getattr(user, user.get_email_field_name())


# --- change email ---------------------------------------------------------------------------


def test_change_email_moves_grants_and_notifies_both(signed_in, member, course, mailoutbox):
    pending = EmailChallenge.objects.create(purpose="sign_in", email="ana@example.com")
    response = signed_in.post(url("change_email_address"), {"email": "Ana.New@example.com"})
    # Back to the section with the code form, further down than a screen.
    assert (response.status_code, response["Location"]) == (303, f"{PAGE}#wma-email-heading")
    assert mailoutbox[-1].to == ["ana.new@example.com"]
    code = code_from(mailoutbox[-1])
    response = signed_in.post(url("change_email_code"), {"code": code})
    assert (response.status_code, response["Location"]) == (303, PAGE)
    assert email_of(member) == "ana.new@example.com"
    assert list(Grant.objects.values_list("email", flat=True)) == ["ana.new@example.com"]
    pending.refresh_from_db()
    assert pending.cancel_reason == "email_changed"
    notices = [m for m in mailoutbox if m.subject.startswith("Your email address on")]
    assert sorted(m.to[0] for m in notices) == ["ana.new@example.com", "ana@example.com"]
    page = signed_in.get(PAGE).content.decode()
    assert "Your email address was changed. Your access moved with it." in page


def test_change_email_to_a_taken_address_changes_nothing(signed_in, member, mailoutbox):
    make_user("bob@example.com")
    signed_in.post(url("change_email_address"), {"email": "bob@example.com"})
    response = signed_in.post(url("change_email_code"), {"code": code_from(mailoutbox[-1])})
    assert response.status_code == 400
    assert "This email address is already used by another account." in response.content.decode()
    assert email_of(member) == "ana@example.com"
    assert list(Grant.objects.values_list("email", flat=True)) == ["ana@example.com"]


def test_change_email_wrong_code_and_same_address(signed_in, member, mailoutbox, settings):
    settings.WAGTAIL_MEMBER_ACCESS_THROTTLE_FACTOR = 0
    response = signed_in.post(url("change_email_address"), {"email": "ana@example.com"})
    assert response.status_code == 400
    assert "This is your email address already." in response.content.decode()
    signed_in.post(url("change_email_address"), {"email": "new@example.com"})
    code = code_from(mailoutbox[-1])
    wrong = "000000" if code != "000000" else "111111"
    response = signed_in.post(url("change_email_code"), {"code": wrong})
    assert "That code is not right. Check the email and try again." in response.content.decode()
    assert email_of(member) == "ana@example.com"


def test_move_email_refuses_a_list_the_new_address_is_on(course):
    api.grant_access("a@example.com", course)
    api.grant_access("b@example.com", course)
    with pytest.raises(ValidationError) as error:
        grants.move_email("a@example.com", "b@example.com")
    assert error.value.code == "taken"
    assert sorted(Grant.objects.values_list("email", flat=True)) == [
        "a@example.com",
        "b@example.com",
    ]


# --- sessions, data, password --------------------------------------------------------------


def test_sign_out_everywhere_ends_the_other_sessions(member, mailoutbox):
    clients = []
    for agent in ("Phone", "Laptop"):
        client = Client(HTTP_USER_AGENT=agent)
        client.post(url("sign_in_password"), {"email": "ana@example.com", "password": PASSWORD})
        clients.append(client)
    phone, laptop = clients
    page = laptop.get(PAGE).content.decode()
    assert "Phone" in page and "Laptop" in page
    response = laptop.post(url("sign_out_everywhere"))
    assert response.status_code == 303
    assert phone.get(PAGE).status_code == 303  # signed out: to the sign-in page
    assert laptop.get(PAGE).status_code == 200
    assert list(MemberSession.objects.values_list("device", flat=True)) == ["Laptop"]
    assert mailoutbox[-1].subject.startswith("You were signed out everywhere on")


def test_last_seen_is_a_moment_with_its_zone(signed_in, member):
    """The demo walkthrough found "Last seen" as "12/07/2026 6:28 a.m." (US format, no zone):
    it is shown by moments.moment, as every other date on the page."""
    phone = Client(HTTP_USER_AGENT="Phone")
    phone.post(url("sign_in_password"), {"email": "ana@example.com", "password": PASSWORD})
    seen = datetime(2026, 12, 7, 6, 28, tzinfo=UTC)
    MemberSession.objects.filter(device="Phone").update(last_seen_at=seen)
    page = signed_in.get(PAGE).content.decode()
    assert "7 December 2026, 06:28 (UTC)" in page
    assert "a.m." not in page


CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_browsers_are_named_in_words_with_the_header_in_the_title(member):
    """The German walkthrough found "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36
    (KHTML, like Gecko…" as the browser: it is named in words, the header only in the title."""
    odd = 'Mozilla/5.0 (X11; Linux x86_64) "><b>odd</b>'
    for agent in (odd, CHROME_LINUX):  # the Chrome session is this browser
        client = Client(HTTP_USER_AGENT=agent)
        client.post(url("sign_in_password"), {"email": "ana@example.com", "password": PASSWORD})
    page = client.get(PAGE).content.decode()
    cells = BeautifulSoup(page, "html.parser").select("table tbody td[title]")
    assert [(td["title"], td.get_text(" ", strip=True)) for td in cells] == [
        (CHROME_LINUX, "Chrome on Linux (this browser)"),
        (odd, "Unknown browser on Linux"),
    ]
    assert page.count("Mozilla/5.0") == 2  # in the two titles, nowhere else
    assert "<b>odd</b>" not in page  # escaped


def test_a_browser_without_a_header_has_no_title(member):
    client = Client()
    client.post(url("sign_in_password"), {"email": "ana@example.com", "password": PASSWORD})
    cell = BeautifulSoup(client.get(PAGE).content, "html.parser").select_one("table tbody td")
    assert cell.get_text(" ", strip=True) == "Unknown browser (this browser)"
    assert not cell.has_attr("title")


def test_download_my_data_has_nothing_secret(signed_in, member):
    response = signed_in.post(url("download_data"))
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.content)
    assert data["account"]["email"] == "ana@example.com"
    assert [g["list"] for g in data["grants"]] == ["Course A"]
    text = response.content.decode()
    assert member.password not in text
    for key in MemberSession.objects.values_list("session_key", flat=True):
        assert key not in text
    assert signed_in.get(url("download_data")).status_code == 302  # a POST only


def test_remove_password_needs_the_current_one(signed_in, member, mailoutbox):
    response = signed_in.post(url("remove_password"), {"password": "wrong"})
    assert response.status_code == 400
    assert "Your current password was entered incorrectly." in response.content.decode()
    response = signed_in.post(url("remove_password"), {"password": PASSWORD})
    assert response.status_code == 303
    member.refresh_from_db()
    assert not member.has_usable_password()
    assert mailoutbox[-1].subject.startswith("Your password for ")


# --- delete my account ---------------------------------------------------------------------


def test_delete_account_by_code_keeps_anonymous_order_references(member, course, mailoutbox):
    api.grant_access("ana@example.com", course, reference="order-1")
    client = Client()
    client.post(url("sign_in_password"), {"email": "ana@example.com", "password": PASSWORD})
    response = client.post(url("delete_account"))
    assert response["Location"] == f"{PAGE}#wma-data-heading"
    page = client.get(PAGE).content.decode()
    assert 'id="wma-data-heading"' in page and 'id="id_delete_code"' in page
    code = code_from(mailoutbox[-1])
    response = client.post(url("delete_account_code"), {"code": code})
    assert response["Location"] == url("account_deleted")
    assert not get_user_model().objects.filter(pk=member.pk).exists()
    assert Grant.objects.count() == 0
    assert list(GrantReference.objects.values_list("reference", "grant")) == [("order-1", None)]
    assert mailoutbox[-1].subject.startswith("Your account on ")
    # A replayed purchase grants nothing again; a replayed confirmation deletes nothing.
    with pytest.raises(ValidationError) as error:
        api.grant_access("ana@example.com", course, reference="order-1")
    assert error.value.code == "forgotten"
    replay = client.post(url("delete_account_code"), {"code": code})
    assert replay.status_code == 303 and replay["Location"].startswith(url("sign_in"))


# --- the walkthrough's fixes -----------------------------------------------------------------


def test_passwords_follow_package_rules_without_site_validators(settings, signed_in):
    settings.AUTH_PASSWORD_VALIDATORS = []
    [info] = check_password_rules(None)
    assert (info.level, info.id) == (checks.INFO, "wagtail_member_access.I001")
    data = {"old_password": PASSWORD, "new_password1": "abc", "new_password2": "abc"}
    response = signed_in.post(url("change_password"), data)
    assert response.status_code == 400
    assert "This password is too short. It must contain at least 10 characters." in (
        response.content.decode()
    )


def test_rate_limited_page_sends_retry_after_and_a_real_back_link(client, settings, db):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "1/m"
    client.post(url("sign_in"), {"email": "a@example.com", "next": "/here/"})
    response = client.post(url("sign_in"), {"email": "b@example.com", "next": "/here/"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    html = response.content.decode()
    assert "history.back" not in html
    assert '<a href="/here/">Back</a>' in html


def test_visitor_pages_are_noindex_and_pass_self(client, settings, protected_page):
    settings.WAGTAIL_MEMBER_ACCESS_BASE_TEMPLATE = "testapp/self_base.html"
    response = client.get(protected_page.url)
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    html = response.content.decode()
    assert '<body class="template-simple-page">' in html
    assert "<span>Members lesson</span></nav>" in html
    assert 'href="/static/wagtail_member_access/member-access.css"' in html
    assert client.get(url("sign_in"))["X-Robots-Tag"] == "noindex, nofollow"


def test_sign_out_says_so(signed_in):
    response = signed_in.post(url("sign_out"))
    assert response["Location"] == url("sign_in")
    assert "You are signed out." in signed_in.get(url("sign_in")).content.decode()
    assert "You are signed out." not in signed_in.get(url("sign_in")).content.decode()


def test_forgot_password_keeps_next(client, member, mailoutbox):
    response = client.get(url("forgot_password") + "?next=/lesson/")
    assert '<input type="hidden" name="next" value="/lesson/">' in response.content.decode()
    client.post(url("forgot_password"), {"email": "ana@example.com", "next": "/lesson/"})
    code = code_from(mailoutbox[-1])
    new = "a brand new passphrase 42"
    response = client.post(
        url("forgot_password_code"), {"code": code, "new_password1": new, "new_password2": new}
    )
    assert (response.status_code, response["Location"]) == (303, "/lesson/")


def test_wrong_code_says_how_long_to_wait(client, protected_page, buyer, mailoutbox, settings):
    settings.WAGTAIL_MEMBER_ACCESS_THROTTLE_FACTOR = 2
    verify = reverse("wagtail_member_access:verify_code", args=[protected_page.pk])
    client.post(
        reverse("wagtail_member_access:request_code", args=[protected_page.pk]),
        {"email": "ana@example.com"},
    )
    code = code_from(mailoutbox[0])
    wrong = "000000" if code != "000000" else "111111"
    html = client.post(verify, {"code": wrong}).content.decode()
    assert "That code was not right. You can try again in 2 seconds." in html
    html = client.post(verify, {"code": code}).content.decode()
    assert "The last code was not right. You can try again in 2 seconds." in html
    assert "Too many" not in html


# --- every account action is rate-limited -----------------------------------------------------

NEW_PASSWORD = "a brand new passphrase 42"
#: Each action of the account page: its URL name and what it posts.
ACCOUNT_ACTIONS = {
    "change email": ("change_email_address", {"email": "new@example.com"}),
    "sign out everywhere": ("sign_out_everywhere", {}),
    "download data": ("download_data", {}),
    "delete": ("delete_account", {}),
    "change password": (
        "change_password",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
    "set password": (
        "change_password",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    ),
    "remove password": ("remove_password", {"password": PASSWORD}),
}


def _account_state(user):
    user.refresh_from_db()
    return {
        "email": email_of(user),
        "password": user.password,
        "sessions": sorted(MemberSession.objects.values_list("session_key", flat=True)),
        "challenges": EmailChallenge.objects.count(),
        "grants": sorted(Grant.objects.values_list("email", flat=True)),
    }


@pytest.mark.parametrize("action", list(ACCOUNT_ACTIONS))
def test_every_account_action_answers_429_over_the_limit_and_changes_nothing(
    settings, member, mailoutbox, action
):
    from django.utils import translation

    settings.WAGTAIL_MEMBER_ACCESS_RATE_ACCOUNT_PER_MEMBER = "1/h"
    if action == "set password":  # a member who signs in by email chooses a first password
        member.set_unusable_password()
        member.save()
    other = Client(HTTP_USER_AGENT="Phone")  # a second session "sign out everywhere" would end
    other.force_login(member)
    client = Client(HTTP_USER_AGENT="Laptop")
    client.force_login(member)
    assert client.post(url("download_data")).status_code == 200  # the one action allowed
    before, sent = _account_state(member), len(mailoutbox)
    name, data = ACCOUNT_ACTIONS[action]
    with translation.override("de"):
        response = client.post(url(name), data)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    html = response.content.decode()
    assert "<h1>Zu viele Anfragen</h1>" in html
    assert ">Zurück</a>" in html
    assert _account_state(member) == before
    assert len(mailoutbox) == sent
    assert other.get(PAGE).status_code == 200  # the other session still works


def test_sign_out_stands_beside_the_signed_in_address_not_under_delete(signed_in):
    """The German walkthrough found the main "Sign out" button under the red "Delete my
    account", inside "Your data"."""
    page = signed_in.get(PAGE).content.decode()
    beside = page[page.index('class="wma-signed-in"') : page.index('id="wma-email-heading"')]
    assert "Signed in as" in beside and ">Sign out</button>" in beside
    assert f'action="{url("sign_out")}"' not in page[page.index('id="wma-data-heading"') :]
