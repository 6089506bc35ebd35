"""Receiving a call (webhooks/endpoints.py, views/webhooks.py): media type, size and method,
which secret a list uses, the settings, the logs, the rate limit on refused calls, the URLs,
the recipes in docs/webhooks.md, and concurrent deliveries."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from wagtail.models import ModelLogEntry

from tests.factories import AccessListFactory
from tests.test_webhooks.support import (
    BAD_SIGNATURE,
    GRANT,
    LIST_SECRET,
    SECRET,
    STRIPE_URL,
    URL,
    ours,
    post,
    purchase,
)
from wagtail_member_access import webhooks
from wagtail_member_access.conf import app_settings
from wagtail_member_access.models import Grant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonp"]
)
def test_a_wrong_content_type_is_refused(course, content_type):
    response = post(purchase(), content_type=content_type)
    assert (response.status_code, response.json()) == (
        415,
        {
            "error": "unsupported_media_type",
            "detail": f"Send the body as application/json, not '{content_type}'.",
        },
    )
    assert Grant.objects.count() == 0


def test_json_with_a_charset_is_accepted(course):
    assert post(purchase(), content_type="application/json; charset=utf-8").status_code == 200


def padded(size: int) -> bytes:
    """A valid signed-able purchase body of exactly ``size`` bytes."""
    base = json.dumps(purchase(padding="")).encode()
    body = json.dumps(purchase(padding="x" * (size - len(base)))).encode()
    assert len(body) == size
    return body


def test_a_body_of_exactly_the_limit_is_accepted(course):
    assert post(body=padded(65536)).status_code == 200


def test_a_body_over_the_limit_is_refused_before_it_is_read(course):
    response = post(body=padded(65537))
    assert (response.status_code, response.json()) == (
        413,
        {"error": "body_too_large", "detail": "The body is larger than 65536 bytes."},
    )
    assert Grant.objects.count() == 0


def test_a_huge_body_is_refused(course):
    response = post(body=b"{" + b" " * 5_000_000 + b"}")
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")


@pytest.mark.parametrize("method", ["put", "patch", "delete", "head", "options"])
def test_other_methods_are_not_allowed(course, method):
    response = getattr(Client(), method)(URL)
    assert (response.status_code, response["Allow"]) == (405, "POST")


def test_get_is_not_allowed(course):
    response = Client().get(URL)
    assert (response.status_code, response["Allow"], response.json()) == (
        405,
        "POST",
        {"error": "method_not_allowed", "detail": "Send the webhook with POST."},
    )


# --- secrets ------------------------------------------------------------------------------------


def test_a_lists_own_secret_replaces_the_global_one(settings, course, course_b):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": LIST_SECRET}
    refused = post(purchase(reference="1"), secret=SECRET)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_signature")
    assert post(purchase(reference="2"), secret=LIST_SECRET).status_code == 200
    # Course B has no secret of its own: the global one, and only it.
    assert post(purchase(list="course-b", reference="3"), secret=SECRET).status_code == 200
    other = post(purchase(list="course-b", reference="4"), secret=LIST_SECRET)
    assert (other.status_code, other.json()["error"]) == (401, "invalid_signature")
    assert sorted(Grant.objects.values_list("access_list__slug", "reference")) == [
        ("course-a", "2"),
        ("course-b", "3"),
    ]


@pytest.mark.parametrize("spelling", [" course-a", "course-a ", "\tcourse-a\n"])
def test_padding_the_slug_does_not_sidestep_a_lists_own_secret(settings, course, spelling):
    # The list is looked up by the stripped slug, so the secret must be chosen by it too.
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": LIST_SECRET}
    refused = post(purchase(list=spelling), secret=SECRET)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_signature")
    assert not Grant.objects.exists()
    assert post(purchase(list=spelling), secret=LIST_SECRET).status_code == 200


def test_only_lists_with_a_secret_are_open_without_a_global_secret(settings, course, course_b):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = None
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": LIST_SECRET}
    assert post(purchase(), secret=LIST_SECRET).status_code == 200
    response = post(purchase(list="course-b"), secret=LIST_SECRET)
    assert (response.status_code, response.json()) == (
        404,
        {
            "error": "webhook_disabled",
            "detail": "The purchase webhook is not enabled for the list 'course-b': set "
            "WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET or WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS.",
        },
    )
    assert Grant.objects.count() == 1


@pytest.mark.parametrize("value", [None, ""])
def test_without_a_secret_the_webhook_is_off(settings, course, value):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = value
    response = post(purchase(), secret="anything-at-all-0123456789")
    assert (response.status_code, response.json()) == (
        404,
        {
            "error": "webhook_disabled",
            "detail": "The purchase webhook is off: set WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET to "
            "enable it.",
        },
    )
    assert Grant.objects.count() == 0


def test_an_unknown_list_is_only_revealed_to_a_signed_call(course):
    """Unsigned callers cannot probe which lists exist: the signature is checked first."""
    response = post(purchase(list="nope"), secret="guess-guess-guess-guess")
    assert response.json()["error"] == "invalid_signature"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEBHOOK_SECRET", "short"),
        ("WEBHOOK_SECRET", 1234567890123456789),
        ("WEBHOOK_SECRET", []),
        ("WEBHOOK_SECRET", [SECRET, "short"]),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
    ],
)
def test_weak_or_malformed_secrets_are_refused_without_showing_them(settings, name, value):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    with pytest.raises(ImproperlyConfigured) as error:
        getattr(app_settings, name)
    assert str(error.value) == (
        f"WAGTAIL_MEMBER_ACCESS_{name} must be a string of at least 16 characters (or a list of "
        "such strings while you rotate secrets); generate one with "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
    )


def test_a_weak_list_secret_is_refused(settings):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = {"course-a": "short"}
    with pytest.raises(ImproperlyConfigured, match=r"WEBHOOK_LIST_SECRETS\['course-a'\] must be"):
        app_settings.WEBHOOK_LIST_SECRETS
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_LIST_SECRETS = ["course-a"]
    with pytest.raises(ImproperlyConfigured, match="must be a dict of access-list slug to secret"):
        app_settings.WEBHOOK_LIST_SECRETS


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WEBHOOK_TOLERANCE", 0, "WEBHOOK_TOLERANCE must be positive."),
        ("WEBHOOK_TOLERANCE", "5m", "WEBHOOK_TOLERANCE must be a number of seconds"),
        ("WEBHOOK_MAX_BODY_SIZE", 0, "WEBHOOK_MAX_BODY_SIZE must be a positive number of bytes."),
        (
            "WEBHOOK_MAX_BODY_SIZE",
            "64k",
            "WEBHOOK_MAX_BODY_SIZE must be a positive number of bytes.",
        ),
    ],
)
def test_bad_webhook_settings_say_what_to_set(settings, name, value, message):
    setattr(settings, f"WAGTAIL_MEMBER_ACCESS_{name}", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        getattr(app_settings, name)


def test_webhook_setting_defaults():
    defaults = (
        app_settings.WEBHOOK_TOLERANCE,
        app_settings.WEBHOOK_MAX_BODY_SIZE,
        app_settings.RATE_WEBHOOK_PER_IP,
        app_settings.WEBHOOK_LIST_SECRETS,
    )
    assert defaults == (timedelta(minutes=5), 65536, "30/10m", {})


# --- logs ---------------------------------------------------------------------------------------


def test_refusals_are_logged_with_the_reason_and_a_masked_email_only(course, caplog):
    body = json.dumps(purchase(list="nope")).encode()
    signature = webhooks.sign(body, SECRET)
    bad = json.dumps(purchase(email="bob@example.com")).encode()
    bad_signature = webhooks.sign(bad, "not-the-secret-0123456789")
    with caplog.at_level(logging.DEBUG, logger="wagtail_member_access"):
        post(body=body, signature=signature)
        post(body=bad, signature=bad_signature)
    assert ours(caplog) == [
        (
            "WARNING",
            "Webhook purchase refused from 192.0.2.10: unknown_list (There is no access list "
            "'nope'.) for a**@example.com",
        ),
        (
            "WARNING",
            f"Webhook purchase refused from 192.0.2.10: invalid_signature ({BAD_SIGNATURE}) for "
            "b**@example.com",
        ),
    ]
    for secret_value in (
        SECRET,
        signature,
        signature.split("v1=")[1],
        bad_signature.split("v1=")[1],
    ):
        assert secret_value not in caplog.text
    assert "ana@example.com" not in caplog.text.lower()
    assert "bob@example.com" not in caplog.text


def test_a_forged_email_cannot_write_log_lines(course, caplog):
    with caplog.at_level(logging.WARNING, logger="wagtail_member_access"):
        post(purchase(email="x@example.com\nINFO fake line"), secret="not-the-secret-0123456789")
    assert ours(caplog) == [
        (
            "WARNING",
            "Webhook purchase refused from 192.0.2.10: invalid_signature "
            f"({BAD_SIGNATURE}) for ***",
        )
    ]
    assert "fake line" not in caplog.text


def test_a_grant_is_logged_without_the_email_or_signature(course, caplog):
    body = json.dumps(purchase()).encode()
    signature = webhooks.sign(body, SECRET)
    with caplog.at_level(logging.DEBUG, logger="wagtail_member_access"):
        post(body=body, signature=signature)
    assert ours(caplog) == [
        ("INFO", f"Access granted to a**@example.com on list {course.pk}."),
        ("INFO", "Webhook purchase: granted for reference 'order-1001' on list 'course-a'."),
    ]
    assert signature.split("v1=")[1] not in caplog.text
    assert SECRET not in caplog.text


# --- rate limit ---------------------------------------------------------------------------------


def test_refused_unsigned_calls_are_rate_limited_per_ip(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_WEBHOOK_PER_IP = "3/h"
    statuses = [post(purchase(), secret="wrong-secret-0123456789").status_code for _ in range(3)]
    statuses += [post(body=b"junk").status_code]
    # Now even a correctly signed call from that IP waits; another IP does not.
    statuses += [post(purchase()).status_code]
    assert statuses == [401, 401, 401, 429, 429]
    assert post(purchase()).json() == {
        "error": "rate_limited",
        "detail": "Too many refused webhook calls from this address; try again later.",
    }
    assert post(purchase(), ip="192.0.2.99").status_code == 200


def test_the_rate_limit_can_be_switched_off(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_WEBHOOK_PER_IP = None
    statuses = {post(purchase(), secret="wrong-secret-0123456789").status_code for _ in range(40)}
    assert statuses == {401}
    assert post(purchase()).status_code == 200


def test_signed_calls_never_count_towards_the_limit(settings, course):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_WEBHOOK_PER_IP = "2/h"
    statuses = [post(purchase(reference=str(i))).status_code for i in range(5)]
    # Refusals of a signed call (the secret's holder made a mistake) do not count either.
    statuses += [post(purchase(list="nope")).status_code for _ in range(3)]
    statuses += [post(purchase(reference="last")).status_code]
    assert statuses == [200] * 5 + [404] * 3 + [200]


def test_the_url_names():
    assert reverse("wagtail_member_access:purchase_webhook") == URL
    assert reverse("wagtail_member_access:stripe_webhook") == STRIPE_URL


# --- the recipes in docs/webhooks.md work as printed ------------------------------------------


def recipe(title: str) -> str:
    """The code block with ``title="…"`` in docs/webhooks.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    match = re.search(rf'```\w+ title="{re.escape(title)}"\n(.*?)\n```', text, re.DOTALL)
    assert match, title
    return match.group(1)


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("curl")), reason="no openssl")
@pytest.mark.django_db(transaction=True)
def test_the_shell_recipe_grants(live_server, secret):
    AccessListFactory(name="Course A", slug="course-a")
    result = subprocess.run(
        ["bash", "-c", recipe("send-purchase.sh")],
        env={"PATH": os.environ["PATH"], "SECRET": SECRET, "WEBHOOK_URL": live_server.url + URL},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(result.stdout)["status"] == "granted"
    grant = Grant.objects.get()
    assert (grant.email, grant.reference, grant.source) == (
        "ana@example.com",
        "order-1001",
        "purchase",
    )


@pytest.mark.django_db(transaction=True)
def test_the_python_recipe_grants_and_reports_refusals(live_server, secret):
    AccessListFactory(name="Course A", slug="course-a")
    namespace: dict = {}
    exec(recipe("send_purchase.py"), namespace)
    send_purchase = namespace["send_purchase"]
    status, answer = send_purchase(live_server.url + URL, SECRET, purchase())
    assert (status, answer["status"]) == (200, "granted")
    assert send_purchase(live_server.url + URL, SECRET, purchase(list="nope")) == (
        404,
        {"error": "unknown_list", "detail": "There is no access list 'nope'."},
    )
    assert Grant.objects.count() == 1


# --- concurrent deliveries (PostgreSQL) -------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(
    not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="needs PostgreSQL (DATABASE_URL)",
)
@pytest.mark.parametrize("same_email", [True, False])
def test_one_order_delivered_eight_times_at_once_grants_once(transactional_db, secret, same_email):
    from tests.test_concurrency import run_together

    AccessListFactory(name="Course A", slug="course-a")

    def deliver(i):
        email = "ana@example.com" if same_email else f"buyer{i}@example.com"
        response = post(purchase(email=email))
        return response.status_code, response.json().get("status") or response.json()["error"]

    results = run_together(8, deliver)
    if same_email:
        assert sorted(results) == [(200, "already_granted")] * 7 + [(200, "granted")]
    else:
        assert sorted(results) == [(200, "granted")] + [(409, "reference_conflict")] * 7
    assert Grant.objects.count() == 1
    assert ModelLogEntry.objects.filter(action=GRANT).count() == 1
