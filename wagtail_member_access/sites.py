"""The site an email or a link is about, its name, and absolute URLs built from the site's
*configured* address (``Site.root_url``, else ``WAGTAILADMIN_BASE_URL``), never from a
request's ``Host`` header (docs/security.md#account-links)."""

from __future__ import annotations

from django.urls import reverse
from wagtail.models import Site

from .conf import app_settings

__all__ = [
    "absolute_url",
    "default_site",
    "invitation_url",
    "link_url",
    "reset_url",
    "site_name",
]


def default_site() -> Site | None:
    """The Wagtail site marked as default, or None when there is none."""
    return Site.objects.filter(is_default_site=True).first()


def site_name(site) -> str:
    """The name shown in emails and pages: ``site_name``, else the host name; ``""`` for no
    site."""
    return (site.site_name or site.hostname) if site else ""


def absolute_url(site, path: str) -> str:
    """``path`` on ``site``'s configured address; without a site, on
    ``WAGTAILADMIN_BASE_URL`` (a relative URL when that is not set either)."""
    if site is not None:
        return site.root_url.rstrip("/") + path
    return app_settings.WAGTAILADMIN_BASE_URL.rstrip("/") + path


def link_url(site, token: str) -> str:
    """The magic link (unlock or sign-in) for ``token``."""
    return absolute_url(site, reverse("wagtail_member_access:link", args=[token]))


def invitation_url(site, token: str) -> str:
    """The set-your-password link of an invitation."""
    return absolute_url(site, reverse("wagtail_member_access:invitation", args=[token]))


def reset_url(site, token: str) -> str:
    """The choose-a-new-password link of a password reset."""
    return absolute_url(site, reverse("wagtail_member_access:password_reset_link", args=[token]))
