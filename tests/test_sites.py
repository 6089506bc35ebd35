"""The site of an email or link (``sites.py``): the default site, its name, and absolute URLs
from the *configured* address, never the request's Host header
(docs/security.md#account-links)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from wagtail.models import Site

from wagtail_member_access import sites

pytestmark = pytest.mark.django_db


def test_default_site_and_its_name():
    site = sites.default_site()
    assert site == Site.objects.get(is_default_site=True)
    assert sites.site_name(site) == site.hostname  # no site_name set
    site.site_name = "Members' club"
    assert sites.site_name(site) == "Members' club"
    assert sites.site_name(None) == ""


def test_no_default_site_is_none():
    Site.objects.update(is_default_site=False)
    assert sites.default_site() is None


def test_absolute_urls_use_the_site_address():
    site = sites.default_site()
    Site.objects.filter(pk=site.pk).update(hostname="members.example.org", port=443)
    site.refresh_from_db()
    token = "t" * 43
    assert sites.link_url(site, token) == (
        "https://members.example.org" + reverse("wagtail_member_access:link", args=[token])
    )
    assert sites.invitation_url(site, token) == (
        "https://members.example.org" + reverse("wagtail_member_access:invitation", args=[token])
    )
    assert sites.reset_url(site, token) == (
        "https://members.example.org"
        + reverse("wagtail_member_access:password_reset_link", args=[token])
    )


def test_without_a_site_urls_use_wagtailadmin_base_url(settings):
    settings.WAGTAILADMIN_BASE_URL = "https://cms.example.org/"
    assert sites.absolute_url(None, "/x/") == "https://cms.example.org/x/"
    del settings.WAGTAILADMIN_BASE_URL
    assert sites.absolute_url(None, "/x/") == "/x/"
