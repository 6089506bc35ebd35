"""Every setting of wagtail-member-access, with its default, read in one place.

Settings are read lazily on each access, so ``override_settings`` (and pytest-django's
``settings`` fixture) work. No other module reads our settings from ``django.conf.settings``.
Each setting is ``WAGTAIL_MEMBER_ACCESS_<NAME>`` in the project's settings.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["app_settings", "split_rate"]

PREFIX = "WAGTAIL_MEMBER_ACCESS_"

_ZERO = timedelta(0)
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_RE = re.compile(r"(\d+)/(\d*)([smhd])")


def split_rate(name: str, rate) -> tuple[int, int]:
    """``(count, seconds)`` of a rate such as ``"10/15m"`` (django-ratelimit's syntax) for
    the setting ``name`` (without the prefix). Raises ``ImproperlyConfigured``, naming the
    setting, for anything else."""
    match = _RATE_RE.fullmatch(rate) if isinstance(rate, str) else None
    if not match:
        raise ImproperlyConfigured(f'{PREFIX}{name} must be a rate such as "10/15m", not {rate!r}.')
    count, multiple, unit = match.groups()
    return int(count), _PERIODS[unit] * int(multiple or 1)


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

    # Each reader validates the value: ``ImproperlyConfigured`` names the setting and the rule
    # (the system check ``check_settings`` reports every one that is wrong).

    def _whole_number(self, name: str, default, *, low: int, high: int | None = None, rule: str):
        value = self._get(name, default)
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < low
            or (high is not None and value > high)
        ):
            raise ImproperlyConfigured(f"{PREFIX}{name} must be {rule}.")
        return value

    def _duration(
        self, name: str, default, *, at_least=None, above=None, rule: str = ""
    ) -> timedelta:
        """A number of seconds or a ``timedelta``; ``at_least`` and ``above`` bound it."""
        value = _as_timedelta(name, self._get(name, default))
        if (at_least is not None and value < at_least) or (above is not None and value <= above):
            raise ImproperlyConfigured(f"{PREFIX}{name} {rule}.")
        return value

    def _switch(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise ImproperlyConfigured(f"{PREFIX}{name} must be True or False.")
        return value

    def _rate(self, name: str, default: str) -> str:
        value = self._get(name, default)
        split_rate(name, value)
        return value

    # --- one-time codes -------------------------------------------------------------------

    @property
    def CODE_LENGTH(self) -> int:
        """Digits in a one-time code, 6 to 8 (default 6)."""
        return self._whole_number("CODE_LENGTH", 6, low=6, high=8, rule="an integer from 6 to 8")

    @property
    def CODE_VALIDITY(self) -> timedelta:
        """How long a code can be used after it was sent (default 10 minutes)."""
        return self._duration("CODE_VALIDITY", timedelta(minutes=10))

    @property
    def CODE_MAX_ATTEMPTS(self) -> int:
        """Wrong tries allowed on one code; after that even the right code is refused."""
        return self._whole_number("CODE_MAX_ATTEMPTS", 5, low=1, rule="an integer of 1 or more")

    @property
    def THROTTLE_FACTOR(self) -> int:
        """Seconds of back-off after failures per email, doubled per failure (django-otp's
        ``ThrottlingMixin``): 1, 2, 4, 8 … A new code does not reset it. 0 disables it."""
        return self._whole_number("THROTTLE_FACTOR", 1, low=0, rule="an integer of 0 or more")

    @property
    def RESEND_COOLDOWN(self) -> timedelta:
        """Minimum time between two emails to one browser for one page (default 60 s)."""
        return self._duration("RESEND_COOLDOWN", 60)

    # --- magic links --------------------------------------------------------------------------

    @property
    def LINK_VALIDITY(self) -> timedelta:
        """How long a magic link can be used (default 30 minutes, as elopage's): long enough
        to switch to the mail app and back, short enough that an old email is no key."""
        return self._duration("LINK_VALIDITY", timedelta(minutes=30))

    @property
    def NOTIFY_LINK_VALIDITY(self) -> timedelta:
        """Validity of the link in the "your access is ready" email (default 24 hours): it
        is read when the buyer gets to it, not seconds after asking."""
        return self._duration("NOTIFY_LINK_VALIDITY", timedelta(hours=24))

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
    def RATE_ACCOUNT_PER_MEMBER(self) -> str:
        """Changes on a member's account page (new email, deletion, data download, signing
        out everywhere, removing the password), per member and per client IP."""
        return self._get("RATE_ACCOUNT_PER_MEMBER", "20/h")

    @property
    def RATE_VERIFY_PER_IP(self) -> str:
        """Code submissions accepted from one client IP."""
        return self._get("RATE_VERIFY_PER_IP", "30/10m")

    @property
    def RATELIMIT_CACHE(self) -> str:
        """The cache alias counting rate limits: django-ratelimit's own ``RATELIMIT_USE_CACHE``
        (default ``"default"``). It must be shared between processes in production."""
        return getattr(django_settings, "RATELIMIT_USE_CACHE", "default")

    @property
    def RATELIMIT_ENABLE(self) -> bool:
        """django-ratelimit's own switch ``RATELIMIT_ENABLE`` (default ``True``): our password
        counters follow it too, so one setting turns every limit off (in tests, say)."""
        return bool(getattr(django_settings, "RATELIMIT_ENABLE", True))

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

    # --- sending, retries and the worker (docs/deployment.md) -----------------------------

    @property
    def SEND_RETRIES(self) -> int:
        """How many times a code or link email that the mail server refused is tried again,
        with back-off, before it is recorded as failed for good (default 5)."""
        return self._whole_number("SEND_RETRIES", 5, low=0, high=20, rule="an integer from 0 to 20")

    @property
    def SEND_RETRY_DELAY(self) -> timedelta:
        """The wait before the first retry of a failed send, doubled for each further retry
        (default 30 seconds: 30 s, 1 min, 2 min, 4 min, 8 min)."""
        return self._duration("SEND_RETRY_DELAY", 30, above=_ZERO, rule="must be more than zero")

    @property
    def SEND_LEASE(self) -> timedelta:
        """How long one attempt to send a code or link email may take before it counts as
        lost (a worker killed mid-send) and ``manage.py member_access_retry`` sends it again
        (default 5 minutes). Keep it above the mail backend's ``EMAIL_TIMEOUT``."""
        return self._duration(
            "SEND_LEASE", timedelta(minutes=5), above=_ZERO, rule="must be more than zero"
        )

    @property
    def TASK_RESULTS_KEEP(self) -> timedelta:
        """How long django-tasks-db's rows of our finished tasks are kept before the clean-up
        deletes them (default 7 days, at least one hour)."""
        return self._duration(
            "TASK_RESULTS_KEEP",
            timedelta(days=7),
            at_least=timedelta(hours=1),
            rule="must be one hour or more",
        )

    @property
    def LAST_ACCESS_RESOLUTION(self) -> timedelta:
        """A grant's ``last_access_at`` is written at most this often (default 15 minutes),
        so that reading a protected page is not a database write on every request."""
        return self._duration("LAST_ACCESS_RESOLUTION", timedelta(minutes=15))

    @property
    def PROTECT_TRANSLATIONS(self) -> bool:
        """Translations of a protected page (same ``translation_key``) are protected as it is,
        with the pages below them (default True). See docs/protected-channels.md."""
        return self._switch("PROTECT_TRANSLATIONS", True)

    @property
    def AUTHENTICATION_BACKEND(self) -> str | None:
        """Backend a member is signed in with (default: the first of ``AUTHENTICATION_BACKENDS``
        that can load users). It must be listed in ``AUTHENTICATION_BACKENDS``."""
        return self._get("AUTHENTICATION_BACKEND", None)

    # --- CSV import and expiry (docs/import.md, docs/expiry.md) ------------------------------

    @property
    def IMPORT_MAX_ROWS(self) -> int:
        """Most data rows one CSV import reads (default 200,000); a larger file is refused
        before anything is written. Bounds an import's time and memory."""
        return self._whole_number("IMPORT_MAX_ROWS", 200_000, low=1, rule="a positive integer")

    @property
    def CLEANUP_AFTER(self) -> timedelta:
        """How long finished code and link requests, and lapsed per-address failure counters,
        are kept before ``manage.py member_access_cleanup`` deletes them (default 30 days,
        at least one day)."""
        return self._duration(
            "CLEANUP_AFTER",
            timedelta(days=30),
            at_least=timedelta(days=1),
            rule="must be one day or more",
        )

    @property
    def EXPIRY_REMINDER_DAYS(self) -> int | None:
        """Days before a grant expires that ``manage.py member_access_expire`` emails the
        member a reminder (default ``None``: no reminders)."""
        value = self._get("EXPIRY_REMINDER_DAYS", None)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ImproperlyConfigured(
                f"{PREFIX}EXPIRY_REMINDER_DAYS must be None (no reminders) or a whole number "
                "of days of 1 or more."
            )
        return value

    @property
    def LESSON_EMAILS(self) -> bool:
        """Email a member when a page that drips opens for them (the ``lesson_opened`` email,
        sent by ``manage.py member_access_expire`` and the ``record_expiries`` task; default
        ``False``: no such emails)."""
        value = self._get("LESSON_EMAILS", False)
        if not isinstance(value, bool):
            raise ImproperlyConfigured(f"{PREFIX}LESSON_EMAILS must be True or False.")
        return value

    @property
    def BULK_EMAIL_INTERVAL(self) -> timedelta:
        """Pause between two emails of a bulk send (default 0.2 seconds, 300 a minute), so
        that a mail provider's sending limits hold. 0 sends as fast as the server accepts."""
        return self._duration(
            "BULK_EMAIL_INTERVAL", 0.2, at_least=_ZERO, rule="must not be negative"
        )

    # --- purchase webhook (docs/webhooks.md) ----------------------------------------------------

    def _secrets(self, name: str, value) -> tuple[str, ...]:
        """One secret, or a list while rotating (each is accepted). ``None`` or ``""`` means
        none (so ``os.environ.get(..., "")`` works). Short secrets are refused: an HMAC key that
        can be guessed protects nothing. The message never contains the value."""
        if value is None or value == "":
            return ()
        values = (value,) if isinstance(value, str) else value
        if (
            not isinstance(values, list | tuple)
            or not values
            or not all(isinstance(v, str) and len(v) >= 16 for v in values)
        ):
            raise ImproperlyConfigured(
                f"{PREFIX}{name} must be a string of at least 16 characters (or a list of such "
                "strings while you rotate secrets); generate one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`.'
            )
        return tuple(values)

    @property
    def WEBHOOK_SECRET(self) -> tuple[str, ...]:
        """The purchase webhook's shared secret(s) for lists without their own (default
        ``None``: the webhook is off for them). Returned as a tuple of accepted secrets."""
        return self._secrets("WEBHOOK_SECRET", self._get("WEBHOOK_SECRET", None))

    @property
    def WEBHOOK_LIST_SECRETS(self) -> dict[str, tuple[str, ...]]:
        """Per-list secrets, ``{list slug: secret}`` (default ``{}``). A list's own secret
        replaces ``WEBHOOK_SECRET`` for it, so a shop holding one list's secret cannot grant
        another list. Kept in settings (the environment), not in the database, so neither a
        database dump nor an editor's screen shows them."""
        value = self._get("WEBHOOK_LIST_SECRETS", None) or {}
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ImproperlyConfigured(
                f"{PREFIX}WEBHOOK_LIST_SECRETS must be a dict of access-list slug to secret."
            )
        secrets = {}
        for slug, secret in value.items():
            secrets[slug] = self._secrets(f"WEBHOOK_LIST_SECRETS[{slug!r}]", secret)
        return {slug: s for slug, s in secrets.items() if s}

    @property
    def WEBHOOK_TOLERANCE(self) -> timedelta:
        """How far a webhook's signed timestamp may be from now, either way (default 5
        minutes): an older (replayed) or future-dated request is refused."""
        return self._duration("WEBHOOK_TOLERANCE", 300, above=_ZERO, rule="must be positive")

    @property
    def WEBHOOK_MAX_BODY_SIZE(self) -> int:
        """Largest webhook body accepted, in bytes (default 65536); larger ones get 413
        before anything is parsed."""
        return self._whole_number(
            "WEBHOOK_MAX_BODY_SIZE", 64 * 1024, low=1, rule="a positive number of bytes"
        )

    @property
    def RATE_WEBHOOK_PER_IP(self) -> str:
        """Refused, unauthenticated webhook calls accepted from one client IP (default
        ``"30/10m"``); after that the IP gets 429 until the window ends. Correctly signed
        calls are never counted, so a busy shop is never slowed down."""
        return self._get("RATE_WEBHOOK_PER_IP", "30/10m")

    @property
    def STRIPE_WEBHOOK_SECRET(self) -> tuple[str, ...]:
        """The signing secret (``whsec_…``) of the Stripe endpoint that sends
        ``checkout.session.completed`` (default ``None``: the Stripe adapter is off)."""
        return self._secrets("STRIPE_WEBHOOK_SECRET", self._get("STRIPE_WEBHOOK_SECRET", None))

    # --- member accounts (docs/member-accounts.md) ------------------------------------------

    @property
    def LOGIN_URL(self) -> str | None:
        """Where a signed-out visitor of a members-only page is sent (with ``?next=``). Default
        ``None``: Wagtail's ``WAGTAIL_FRONTEND_LOGIN_URL`` if the project set it, otherwise our
        own member sign-in page (``wagtail_member_access:sign_in``)."""
        return self._get("LOGIN_URL", None)

    @property
    def WAGTAIL_FRONTEND_LOGIN_URL(self) -> str | None:
        """Wagtail's own ``WAGTAIL_FRONTEND_LOGIN_URL`` (default ``None``): where signed-out
        visitors go when ``LOGIN_URL`` is not set."""
        return getattr(django_settings, "WAGTAIL_FRONTEND_LOGIN_URL", None) or None

    @property
    def WAGTAILDOCS_SERVE_METHOD(self) -> str | None:
        """Wagtail's own ``WAGTAILDOCS_SERVE_METHOD`` (default ``None``: Wagtail picks
        ``serve_view`` for local files, ``redirect`` for storages without a local path)."""
        return getattr(django_settings, "WAGTAILDOCS_SERVE_METHOD", None) or None

    @property
    def WAGTAIL_I18N_ENABLED(self) -> bool:
        """Wagtail's own ``WAGTAIL_I18N_ENABLED`` (default ``False``): pages have locales, so
        translations can follow their page's member access and emails its language."""
        return bool(getattr(django_settings, "WAGTAIL_I18N_ENABLED", False))

    @property
    def WAGTAILADMIN_BASE_URL(self) -> str:
        """Wagtail's own ``WAGTAILADMIN_BASE_URL`` (default ``""``): the address emailed links
        are built on when no Wagtail site is configured."""
        return getattr(django_settings, "WAGTAILADMIN_BASE_URL", "") or ""

    @property
    def INVITATION_VALIDITY(self) -> timedelta:
        """How long the set-your-password link of an invitation works (default 7 days)."""
        return self._duration("INVITATION_VALIDITY", timedelta(days=7))

    @property
    def INVITATION_INITIAL_PASSWORD(self) -> bool:
        """Put a generated initial password in invitations (default ``False``). It works for
        one sign-in, after which the member must choose their own password."""
        return self._switch("INVITATION_INITIAL_PASSWORD", False)

    @property
    def TERMS_URL(self) -> str:
        """The address of your terms (default ``""``: no terms step). When set, a member accepts
        them when setting their first password; the time is kept on their profile."""
        return self._get("TERMS_URL", "") or ""

    @property
    def RESET_LINK_VALIDITY(self) -> timedelta:
        """How long the link in a password-reset email works (default 24 hours). The code in
        the same email works for ``CODE_VALIDITY``, in the browser that asked."""
        return self._duration("RESET_LINK_VALIDITY", timedelta(hours=24))

    @property
    def RATE_PASSWORD_PER_ACCOUNT(self) -> str:
        """Failed password checks accepted for one account, whether named by its email or
        its username (default ``"10/15m"``; an identifier that names no account is counted
        under its text); then password sign-in for it pauses until the window ends. Windows
        alone do not cap a patient attacker: see ``PASSWORD_MAX_FAILURES``."""
        return self._rate("RATE_PASSWORD_PER_ACCOUNT", "10/15m")

    @property
    def PASSWORD_MAX_FAILURES(self) -> int:
        """Failed password checks in a row accepted for one account (default 100, the most
        NIST SP 800-63B §5.2.2 allows). Then its password sign-in stays paused, however long
        one waits, until the password is reset (or set from an invitation); a successful
        check starts the count again. Signing in with an emailed code or link still works."""
        return self._whole_number(
            "PASSWORD_MAX_FAILURES",
            100,
            low=1,
            high=100,
            rule="a whole number from 1 to 100 (NIST SP 800-63B allows at most 100 failed "
            "attempts in a row)",
        )

    @property
    def RATE_PASSWORD_PER_IP(self) -> str:
        """Failed password sign-ins accepted from one client IP (default ``"30/15m"``)."""
        return self._rate("RATE_PASSWORD_PER_IP", "30/15m")

    # --- admin --------------------------------------------------------------------------------

    @property
    def IMPORT_MAX_SIZE(self) -> int:
        """Largest CSV file the admin's import accepts, in bytes (default 20 MB: about 200,000
        rows). A larger upload is refused before it is read."""
        return self._whole_number(
            "IMPORT_MAX_SIZE", 20_000_000, low=1, rule="a positive number of bytes"
        )


app_settings = AppSettings()
