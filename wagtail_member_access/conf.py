"""Every setting of wagtail-member-access, with its default, read in one place.

Settings are read lazily on each access, so ``override_settings`` (and pytest-django's
``settings`` fixture) work. No other module reads our settings from ``django.conf.settings``.
Each setting is ``WAGTAIL_MEMBER_ACCESS_<NAME>`` in the project's settings.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["app_settings"]

PREFIX = "WAGTAIL_MEMBER_ACCESS_"


def _as_timedelta(name: str, value) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise ImproperlyConfigured(
        f"{PREFIX}{name} must be a number of seconds or a datetime.timedelta, not {value!r}."
    )


class AppSettings:
    """Typed, documented access to our settings. See docs/settings.md."""

    def _get(self, name: str, default):
        return getattr(django_settings, PREFIX + name, default)

    # --- one-time codes -------------------------------------------------------------------

    @property
    def CODE_LENGTH(self) -> int:
        """Digits in a one-time code, 6 to 8 (default 6)."""
        value = self._get("CODE_LENGTH", 6)
        if not isinstance(value, int) or not 6 <= value <= 8:
            raise ImproperlyConfigured(f"{PREFIX}CODE_LENGTH must be an integer from 6 to 8.")
        return value

    @property
    def CODE_VALIDITY(self) -> timedelta:
        """How long a code can be used after it was sent (default 10 minutes)."""
        return _as_timedelta("CODE_VALIDITY", self._get("CODE_VALIDITY", timedelta(minutes=10)))

    @property
    def CODE_MAX_ATTEMPTS(self) -> int:
        """Wrong tries allowed on one code; after that even the right code is refused."""
        return int(self._get("CODE_MAX_ATTEMPTS", 5))

    @property
    def THROTTLE_FACTOR(self) -> int:
        """Seconds of back-off after failures per email, doubled per failure (django-otp's
        ``ThrottlingMixin``): 1, 2, 4, 8 … A new code does not reset it. 0 disables it."""
        return int(self._get("THROTTLE_FACTOR", 1))

    @property
    def RESEND_COOLDOWN(self) -> timedelta:
        """Minimum time between two emails to one browser for one page (default 60 s)."""
        return _as_timedelta("RESEND_COOLDOWN", self._get("RESEND_COOLDOWN", 60))

    # --- magic links --------------------------------------------------------------------------

    @property
    def LINK_VALIDITY(self) -> timedelta:
        """How long a magic link can be used (default 30 minutes, as elopage's): long enough
        to switch to the mail app and back, short enough that an old email is no key."""
        return _as_timedelta("LINK_VALIDITY", self._get("LINK_VALIDITY", timedelta(minutes=30)))

    @property
    def NOTIFY_LINK_VALIDITY(self) -> timedelta:
        """Validity of the link in the "your access is ready" email (default 24 hours): it
        is read when the buyer gets to it, not seconds after asking."""
        return _as_timedelta(
            "NOTIFY_LINK_VALIDITY", self._get("NOTIFY_LINK_VALIDITY", timedelta(hours=24))
        )

    @property
    def RATE_LINK_PER_IP(self) -> str:
        """Magic-link openings and confirmations accepted from one client IP."""
        return self._get("RATE_LINK_PER_IP", "60/10m")

    @property
    def SIGN_IN_REDIRECT_URL(self) -> str:
        """Where a member lands after signing in from the sign-in page without a ``next``."""
        return self._get("SIGN_IN_REDIRECT_URL", "/")

    # --- rate limits (django-ratelimit rate strings, e.g. "5/h", "30/10m") ---------------

    @property
    def RATE_SEND_PER_EMAIL(self) -> str:
        """Emails that may be requested for one address."""
        return self._get("RATE_SEND_PER_EMAIL", "5/h")

    @property
    def RATE_SEND_PER_IP(self) -> str:
        """Emails that may be requested from one client IP."""
        return self._get("RATE_SEND_PER_IP", "20/h")

    @property
    def RATE_SEND_PER_SITE(self) -> str:
        """Emails that may be requested on one Wagtail site in all (stops email bombing)."""
        return self._get("RATE_SEND_PER_SITE", "500/h")

    @property
    def RATE_VERIFY_PER_IP(self) -> str:
        """Code submissions accepted from one client IP."""
        return self._get("RATE_VERIFY_PER_IP", "30/10m")

    @property
    def RATELIMIT_CACHE(self) -> str:
        """The cache alias counting rate limits: django-ratelimit's own ``RATELIMIT_USE_CACHE``
        (default ``"default"``). It must be shared between processes in production."""
        return getattr(django_settings, "RATELIMIT_USE_CACHE", "default")

    # --- templates and email ----------------------------------------------------------------

    @property
    def BASE_TEMPLATE(self) -> str:
        """The template our visitor pages extend; set it to your site's ``base.html``. It must
        define a ``content`` block (and may define ``title``)."""
        return self._get("BASE_TEMPLATE", "wagtail_member_access/base.html")

    @property
    def FROM_EMAIL(self) -> str | None:
        """Sender of our emails (default: ``DEFAULT_FROM_EMAIL``)."""
        return self._get("FROM_EMAIL", None) or django_settings.DEFAULT_FROM_EMAIL

    @property
    def TASK_BACKEND(self) -> str:
        """The django-tasks backend alias that sends our emails (default ``"default"``)."""
        return self._get("TASK_BACKEND", "default")

    @property
    def LAST_ACCESS_RESOLUTION(self) -> timedelta:
        """A grant's ``last_access_at`` is written at most this often (default 15 minutes),
        so that reading a protected page is not a database write on every request."""
        return _as_timedelta(
            "LAST_ACCESS_RESOLUTION", self._get("LAST_ACCESS_RESOLUTION", timedelta(minutes=15))
        )

    @property
    def AUTHENTICATION_BACKEND(self) -> str | None:
        """Backend a member is signed in with (default: the first of ``AUTHENTICATION_BACKENDS``
        that can load users). It must be listed in ``AUTHENTICATION_BACKENDS``."""
        return self._get("AUTHENTICATION_BACKEND", None)


app_settings = AppSettings()
