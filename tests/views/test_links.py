"""Magic links and code-or-link pages (docs/security.md#link-token to #link-no-token-in-url)."""

import logging
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import code_from
from tests.factories import UserFactory, make_page
from tests.testapp.models import SimplePage
from wagtail_member_access import api, tokens
from wagtail_member_access.models import EmailChallenge

pytestmark = pytest.mark.django_db

LINK_RE = re.compile(r"(http://[^\s\"<>]+/access/link/([A-Za-z0-9_-]+)/)")


@pytest.fixture
def link_page(protected_page, course):
    api.protect(protected_page, mode="link", access_lists=[course])
    return protected_page


@pytest.fixture
def both_page(protected_page, course):
    api.protect(protected_page, mode="code_or_link", access_lists=[course])
    return protected_page


def ask(client, page, email="ana@example.com"):
    return client.post(
        reverse("wagtail_member_access:request_code", args=[page.pk]),
        {"email": email, "next": page.url},
    )


def link_from(message):
    match = LINK_RE.search(message.body)
    assert match, message.body
    return match.group(1), match.group(2)


def path_of(url):
    return "/" + url.split("/", 3)[3]


def confirm(client, path):
    """What a person does: open the link, press Continue."""
    html = client.get(path).content.decode()
    match = re.search(r'name="confirm" value="([^"]+)"', html)
    return client.post(path, {"confirm": match.group(1) if match else ""})


def test_link_mode_sends_a_link_and_no_code(client, link_page, buyer, mailoutbox):
    ask(client, link_page)
    message = mailoutbox[0]
    url, token = link_from(message)
    assert url.startswith("http://localhost/access/link/")  # from the Site's root_url
    assert len(token) == 43  # 256 bits
    assert not re.search(r"\b\d{6}\b", message.body)
    assert message.subject == "Your link to Members lesson"
    html = message.alternatives[0][0]
    assert f'href="{url}"' in html
    page = client.get(link_page.url).content.decode()
    assert 'name="code"' not in page
    assert "we have sent an email with a link to that address" in page


def test_only_the_hash_of_the_token_is_stored(client, link_page, buyer, mailoutbox):
    ask(client, link_page)
    _, token = link_from(mailoutbox[0])
    challenge = EmailChallenge.objects.get()
    assert challenge.link_hash == tokens.hash_link(token)
    assert token not in str(list(EmailChallenge.objects.values_list()))


def test_scanner_get_and_head_leave_the_link_usable(client, link_page, buyer, mailoutbox):
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    scanner = Client()
    for _ in range(3):
        assert scanner.head(path_of(url)).status_code == 200
        response = scanner.get(path_of(url))
        assert response.status_code == 200
        assert "Continue to Members lesson" in response.content.decode()
    assert "_auth_user_id" not in scanner.session
    assert EmailChallenge.objects.get().redeemed_at is None
    person = Client()
    person.get(path_of(url))
    response = confirm(person, path_of(url))
    assert response.status_code == 303
    assert response["Location"] == link_page.url  # no token in the landing URL
    assert "token" not in response["Location"] and "/access/link/" not in response["Location"]
    assert "Secret body" in person.get(link_page.url).content.decode()


def test_token_pages_send_no_referrer_and_are_never_cached(client, link_page, buyer, mailoutbox):
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    for response in (
        client.get(path_of(url)),
        client.head(path_of(url)),
        client.post(path_of(url)),
        client.get(path_of(url)),
    ):
        assert response["Referrer-Policy"] == "no-referrer"
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_confirm_page_loads_nothing_from_other_origins(client, link_page, buyer, mailoutbox):
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    html = client.get(path_of(url)).content.decode()
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_confirming_a_link_sends_member_unlocked_once(link_page, buyer, mailoutbox, unlocked):
    ask(Client(), link_page)
    url, _ = link_from(mailoutbox[0])
    person = Client()
    person.get(path_of(url))
    person.head(path_of(url))
    assert unlocked == []  # opening the link (a scanner, a preview) unlocks nothing
    response = confirm(person, path_of(url))
    assert response.status_code == 303
    [(sender, kwargs)] = unlocked
    assert sender is SimplePage
    assert set(kwargs) == {"signal", "request", "user", "page", "method"}
    assert kwargs["user"].email == "ana@example.com"
    assert kwargs["user"].pk == int(person.session["_auth_user_id"])
    assert isinstance(kwargs["page"], SimplePage) and kwargs["page"].pk == link_page.pk
    assert kwargs["method"] == "link"
    assert kwargs["request"].path == path_of(url)
    confirm(Client(), path_of(url))  # used already: 410, no second signal
    assert len(unlocked) == 1


def test_confirm_needs_the_value_from_the_confirm_page(link_page, buyer, mailoutbox):
    """Login CSRF: another site can make a browser POST a link (its own account's, say) but
    cannot know the confirm value the link's page put in this browser's session."""
    ask(Client(), link_page)
    url, _ = link_from(mailoutbox[0])
    victim = Client(enforce_csrf_checks=True)
    response = victim.post(path_of(url), HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert "Please use the button on the link" in response.content.decode()
    victim.get(path_of(url))
    assert victim.post(path_of(url), {"confirm": "guess"}).status_code == 403
    assert EmailChallenge.objects.get().redeemed_at is None


def test_confirm_works_with_origin_null_as_browsers_send_under_no_referrer(
    link_page, buyer, mailoutbox
):
    ask(Client(), link_page)
    url, _ = link_from(mailoutbox[0])
    person = Client(enforce_csrf_checks=True)
    html = person.get(path_of(url)).content.decode()
    confirm = re.search(r'name="confirm" value="([^"]+)"', html).group(1)
    response = person.post(path_of(url), {"confirm": confirm}, HTTP_ORIGIN="null")
    assert response.status_code == 303


def test_second_redemption_fails_with_a_friendly_page(client, link_page, buyer, mailoutbox):
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    assert confirm(client, path_of(url)).status_code == 303
    again = confirm(Client(), path_of(url))
    assert again.status_code == 410
    html = again.content.decode()
    assert "This link has already been used" in html
    assert f'href="{link_page.url}"' in html and "Ask for a new link" in html


def test_link_expires_at_30_minutes(client, link_page, buyer, mailoutbox, clock):
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    clock.advance(minutes=29, seconds=59)
    assert "Continue to" in client.get(path_of(url)).content.decode()
    clock.advance(seconds=1)
    response = client.get(path_of(url))
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert confirm(client, path_of(url)).status_code == 410
    assert "_auth_user_id" not in client.session


def test_link_validity_is_a_setting(settings, client, link_page, buyer, mailoutbox, clock):
    settings.WAGTAIL_MEMBER_ACCESS_LINK_VALIDITY = timedelta(minutes=5)
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    assert "valid for 5 minutes" in mailoutbox[0].body
    clock.advance(minutes=5)
    assert client.get(path_of(url)).status_code == 410


@pytest.mark.parametrize("token", ["x", "a" * 43, "a" * 44, "%00" * 10, "a" * 42 + "!", "<script>"])
def test_malformed_or_unknown_token_gets_a_friendly_page(client, token):
    response = client.get(f"/access/link/{token}/")
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()
    assert client.post(f"/access/link/{token}/").status_code == 404


def test_revoked_grant_gets_a_clear_page_and_no_sign_in(
    client, link_page, buyer, course, mailoutbox
):
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    api.revoke_access("ana@example.com", course)
    response = confirm(client, path_of(url))
    assert response.status_code == 403
    assert "No access with this link" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_link_works_in_another_browser_which_gets_the_access(link_page, buyer, mailoutbox):
    first, second = Client(), Client()
    ask(first, link_page)
    url, _ = link_from(mailoutbox[0])
    confirm(second, path_of(url))
    assert "Secret body" in second.get(link_page.url).content.decode()
    assert "Secret body" not in first.get(link_page.url).content.decode()


def test_code_or_link_sends_both_in_one_email(client, both_page, buyer, mailoutbox):
    ask(client, both_page)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    code = code_from(message)
    url, _ = link_from(message)
    assert code in message.subject
    assert "Code and link work once: using one ends the other." in message.body
    page = client.get(both_page.url).content.decode()
    assert 'name="code"' in page and "a code and a link" in page
    assert url


def test_code_or_link_using_the_code_ends_the_link(client, both_page, buyer, mailoutbox):
    ask(client, both_page)
    code, (url, _) = code_from(mailoutbox[0]), link_from(mailoutbox[0])
    client.post(reverse("wagtail_member_access:verify_code", args=[both_page.pk]), {"code": code})
    assert "Secret body" in client.get(both_page.url).content.decode()
    assert confirm(Client(), path_of(url)).status_code == 410


def test_code_or_link_using_the_link_ends_the_code(both_page, buyer, mailoutbox):
    """Cross-device: the link opened in another browser works there; the first browser's
    code then stops working (one use of one email). Until the link is *confirmed* (a scanner
    or a preview only opens it), the first browser can still use the code."""
    first, other = Client(), Client()
    ask(first, both_page)
    code, (url, _) = code_from(mailoutbox[0]), link_from(mailoutbox[0])
    other.get(path_of(url))  # opened only: the code still works
    assert EmailChallenge.objects.get().redeemed_at is None
    confirm(other, path_of(url))
    response = first.post(
        reverse("wagtail_member_access:verify_code", args=[both_page.pk]), {"code": code}
    )
    assert "already been used" in response.content.decode()
    assert "Secret body" in other.get(both_page.url).content.decode()


def test_code_still_works_in_first_browser_after_link_only_opened(both_page, buyer, mailoutbox):
    first = Client()
    ask(first, both_page)
    code, (url, _) = code_from(mailoutbox[0]), link_from(mailoutbox[0])
    Client().get(path_of(url))
    Client().head(path_of(url))
    response = first.post(
        reverse("wagtail_member_access:verify_code", args=[both_page.pk]), {"code": code}
    )
    assert response.status_code == 303


def test_link_mode_same_neutral_response_for_unlisted(link_page, buyer, mailoutbox):
    listed, unlisted = Client(), Client()
    a = ask(listed, link_page, "ana@example.com")
    b = ask(unlisted, link_page, "nobody@example.com")
    assert (a.status_code, a["Location"]) == (b.status_code, b["Location"])
    assert [m.to for m in mailoutbox] == [["ana@example.com"]]


def test_staff_never_signed_in_by_link(client, link_page, course, mailoutbox):
    api.grant_access("boss@example.com", course)
    ask(client, link_page, "boss@example.com")
    url, _ = link_from(mailoutbox[0])
    UserFactory(username="boss", email="boss@example.com", is_staff=True)
    response = confirm(client, path_of(url))
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_link_rate_limited_per_ip(settings, client, link_page, buyer, mailoutbox):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_LINK_PER_IP = (
        "2/d"  # a day: a minute window could end between the requests
    )
    ask(client, link_page)
    url, _ = link_from(mailoutbox[0])
    statuses = [client.get(path_of(url)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_tokens_and_links_never_reach_the_logs(client, link_page, buyer, mailoutbox, caplog):
    caplog.set_level(logging.DEBUG)
    ask(client, link_page)
    url, token = link_from(mailoutbox[0])
    client.get(path_of(url))
    confirm(client, path_of(url))
    confirm(Client(), path_of(url))  # 410: Django would log the path of a 4xx
    client.get("/access/link/" + "b" * 43 + "/")  # 404 likewise
    for record in caplog.records:
        text = record.getMessage() + str(record.args)
        assert token not in text and "b" * 43 not in text
        assert "ana@example.com" not in text
    assert any("a**@example.com" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_get_405_without_the_token_in_the_log(
    client, link_page, buyer, mailoutbox, caplog, method
):
    # Django's require_http_methods would log "Method Not Allowed (PUT): <path with token>".
    caplog.set_level(logging.DEBUG)
    ask(client, link_page)
    url, token = link_from(mailoutbox[0])
    response = getattr(Client(), method)(path_of(url))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"
    assert response["Referrer-Policy"] == "no-referrer"
    assert all(token not in r.getMessage() + str(r.args) for r in caplog.records)
    assert confirm(Client(), path_of(url)).status_code == 303  # still usable


def test_invitation_and_reset_links_also_answer_405_without_the_token_in_the_log(
    client, home, mailoutbox, caplog
):
    from wagtail_member_access.flows import invitation

    caplog.set_level(logging.DEBUG)
    invitation.send_invitation("mia@example.com")
    match = re.search(r"/access/invitation/([A-Za-z0-9_-]{43})/", mailoutbox[0].body)
    path, token = match.group(0), match.group(1)
    for method in ("post", "put", "patch", "delete", "options"):
        # With CSRF checks on, as in a browser: the middleware must not log the path either.
        response = getattr(Client(enforce_csrf_checks=True), method)(path)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"
        assert response["Referrer-Policy"] == "no-referrer"
    reset = "/access/password/reset/" + "c" * 43 + "/"
    assert Client(enforce_csrf_checks=True).post(reset).status_code == 405
    text = " ".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert token not in text and "c" * 43 not in text


def test_the_confirm_page_mentions_the_code_only_when_the_email_has_one(
    client, link_page, course, buyer, mailoutbox
):
    ask(client, link_page)
    html = Client().get(path_of(link_from(mailoutbox[-1])[0])).content.decode()
    assert "The link works once." in html
    assert "type the code" not in html
    api.protect(link_page, mode="code_or_link", access_lists=[course])
    ask(Client(), link_page)
    html = Client().get(path_of(link_from(mailoutbox[-1])[0])).content.decode()
    assert "you can also type the code from the same email there" in html


@pytest.fixture
def library(course, home):
    """A members-only page that the list ``course`` opens."""
    page = make_page(home, title="Members' library", slug="library", body="Library body")
    api.protect(page, mode="members", access_lists=[course])
    return page


def test_access_ready_email_signs_in_to_a_members_only_page_too(
    course, library, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("new@example.com", course, notify=True)
    url, _ = link_from(mailoutbox[0])
    assert f"- Members' library: {url}" in mailoutbox[0].body
    client = Client()
    assert "Continue signing in" in client.get(path_of(url)).content.decode()
    response = confirm(client, path_of(url))
    assert response["Location"] == library.url
    assert "Library body" in client.get(library.url).content.decode()


def test_access_ready_email_gives_staff_no_sign_in_link(
    course, library, mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(username="boss", email="boss@example.com", is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("boss@example.com", course, notify=True)
    assert "/access/link/" not in mailoutbox[0].body
    assert "- Members' library: http://localhost/library/" in mailoutbox[0].body


def test_access_ready_email_carries_a_magic_link_to_each_page(
    course, protected_page, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("new@example.com", course, name="Neu", notify=True)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.subject == "Your access to Course A is ready"
    url, _ = link_from(message)
    assert "Each link signs you in once within 24 hours." in message.body
    client = Client()
    assert "Continue to Members lesson" in client.get(path_of(url)).content.decode()
    response = confirm(client, path_of(url))
    assert response["Location"] == protected_page.url
    assert "Secret body" in client.get(protected_page.url).content.decode()


def test_access_ready_link_lasts_24_hours(
    course, protected_page, mailoutbox, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api.grant_access("new@example.com", course, notify=True)
    url, _ = link_from(mailoutbox[0])
    clock.advance(hours=23, minutes=59)
    assert Client().get(path_of(url)).status_code == 200
    clock.advance(minutes=1)
    assert Client().get(path_of(url)).status_code == 410
