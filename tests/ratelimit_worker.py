"""Runs in a separate (spawned) process: nothing Django may be imported before setup()."""

import os


def hammer(args):
    """Count 10 requests for one email against the shared Redis cache; return how many passed."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from unittest import mock

    from django.test import RequestFactory, override_settings

    from wagtail_member_access import ratelimits

    (key_prefix,) = args
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": key_prefix,
        }
    }
    allowed = 0
    with (
        override_settings(
            CACHES=caches,
            WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_EMAIL="7/h",
            WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP="1000/h",
            WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_SITE="1000/h",
        ),
        mock.patch.object(ratelimits, "_site_key", lambda group, request: "1"),
    ):
        for _ in range(10):
            request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.1")
            if not ratelimits.send_limited(request, "shared@example.com"):
                allowed += 1
    return allowed
