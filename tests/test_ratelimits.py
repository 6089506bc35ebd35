"""Rate limits: the limits on sending (docs/security.md#send-limits), their keys and counting
(#ratelimit-keys), one cache shared by every process (#shared-cache), the 429 page
(#limited-429) and the client IP address (#client-ip)."""

import multiprocessing
import os

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from tests.ratelimit_worker import hammer
from wagtail_member_access import ratelimits

pytestmark = pytest.mark.django_db


def ask(client, page, email, ip="10.0.0.1"):
    return client.post(
        reverse("wagtail_member_access:request_code", args=[page.pk]),
        {"email": email},
        REMOTE_ADDR=ip,
    )


def test_per_email_limit_counts_the_normalised_email(settings, protected_page, buyer, mailoutbox):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_EMAIL = "3/h"
    statuses = [
        ask(Client(), protected_page, email, ip=f"10.0.0.{i}").status_code
        for i, email in enumerate(
            ["ana@example.com", "ANA@example.com", " Ana@Example.COM", "ana@example.com"]
        )
    ]
    assert statuses == [303, 303, 303, 429]
    assert len(mailoutbox) == 3


def test_per_ip_limit(settings, protected_page):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "2/h"
    statuses = [ask(Client(), protected_page, f"p{i}@example.com").status_code for i in range(3)]
    assert statuses == [303, 303, 429]
    assert ask(Client(), protected_page, "other@example.com", ip="10.9.9.9").status_code == 303


def test_site_wide_limit(settings, protected_page):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_SITE = "3/h"
    statuses = [
        ask(Client(), protected_page, f"p{i}@example.com", ip=f"10.1.0.{i}").status_code
        for i in range(4)
    ]
    assert statuses == [303, 303, 303, 429]


def test_x_forwarded_for_is_not_trusted_by_default(settings, protected_page):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "2/h"
    for i in range(2):
        Client().post(
            reverse("wagtail_member_access:request_code", args=[protected_page.pk]),
            {"email": f"p{i}@example.com"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        )
    response = Client().post(
        reverse("wagtail_member_access:request_code", args=[protected_page.pk]),
        {"email": "p9@example.com"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="192.0.2.77",
    )
    assert response.status_code == 429


def test_verify_limit_per_ip(settings, protected_page, buyer):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_VERIFY_PER_IP = (
        "2/d"  # a day: a minute window could end between the requests
    )
    settings.WAGTAIL_MEMBER_ACCESS_THROTTLE_FACTOR = 0
    client = Client()
    ask(client, protected_page, "ana@example.com")
    url = reverse("wagtail_member_access:verify_code", args=[protected_page.pk])
    statuses = [
        client.post(url, {"code": "000000"}, REMOTE_ADDR="10.0.0.1").status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_limited_response_is_a_clear_translated_429(settings, protected_page):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "1/h"
    ask(Client(), protected_page, "a@example.com")
    response = ask(Client(), protected_page, "b@example.com")
    assert response.status_code == 429
    assert "You have made too many requests in a short time." in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    with translation.override("de"):
        response = Client().post(
            reverse("wagtail_member_access:request_code", args=[protected_page.pk]),
            {"email": "c@example.com"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_ACCEPT_LANGUAGE="de",
        )
    assert response.status_code == 429


def test_counting_uses_increment(monkeypatch, rf=None):
    calls = []

    def fake(request, **kwargs):
        calls.append(kwargs)
        return False

    monkeypatch.setattr(ratelimits, "is_ratelimited", fake)
    request = RequestFactory().post("/")
    ratelimits.send_limited(request, "ana@example.com")
    ratelimits.verify_limited(request)
    assert [c["increment"] for c in calls] == [True, True, True, True]
    assert calls[0]["key"](None, request) == "ana@example.com"
    assert calls[1]["key"] == "ip"


@pytest.mark.skipif("REDIS_URL" not in os.environ, reason="needs Redis (REDIS_URL), as in CI")
def test_limits_hold_across_worker_processes_sharing_redis():
    prefix = f"wma-multiproc-{os.getpid()}"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        allowed = pool.map(hammer, [(prefix,)] * 4)
    assert sum(allowed) == 7  # 40 attempts from 4 processes, 7 allowed in all
