import re
from datetime import timedelta
from smtplib import SMTPException

import pytest
from django.core.cache import caches
from django.utils import timezone

from tests.factories import AccessListFactory, default_home, make_collection, make_page
from wagtail_member_access import api, emails
from wagtail_member_access.signals import member_unlocked


def clear(cache) -> None:
    """Empty ``cache``. Django's ``RedisCache.clear()`` is FLUSHDB, which would also wipe
    another test run's keys on a shared Redis: only this run's keys (its ``KEY_PREFIX``) go."""
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache) and cache.key_prefix:
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters live in the cache; each test starts from zero, and leaves nothing
    # behind in a shared Redis.
    for cache in caches.all():
        clear(cache)
    yield
    for cache in caches.all():
        clear(cache)


@pytest.fixture
def home(db):
    """The default site's root page."""
    return default_home()


@pytest.fixture
def course(db):
    return AccessListFactory(name="Course A", slug="course-a")


@pytest.fixture
def protected_page(home, course):
    page = make_page(home, title="Members lesson", slug="lesson")
    api.protect(page, mode="code", access_lists=[course])
    return page


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded documents are written to a temporary folder (use it in a module with
    ``pytest.mark.usefixtures("media")``)."""
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def files(course):
    """The collection "Course files", its documents protected by a code for ``course``."""
    collection = make_collection("Course files")
    api.protect_collection(collection, mode="code", access_lists=[course])
    return collection


@pytest.fixture
def buyer(course):
    return api.grant_access("ana@example.com", course, name="Ana")


class Clock:
    """Moves ``timezone.now()`` for everything that reads it through django.utils.timezone."""

    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, **kwargs):
        self.now = self.now + timedelta(**kwargs)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def code_from(message) -> str:
    match = re.search(r"\b(\d{6,8})\b", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def unlocked():
    """What receivers of ``member_unlocked`` get: the sender and the keyword arguments."""
    received = []

    def receiver(sender, **kwargs):
        received.append((sender, kwargs))

    member_unlocked.connect(receiver)
    yield received
    member_unlocked.disconnect(receiver)


def pytest_collection_modifyitems(config, items):
    """The ``multiprocess`` tests start real servers against PostgreSQL and Redis: they run
    only when asked for by marker (``pytest -m multiprocess``, as ``.ci/run`` does)."""
    if "multiprocess" in (config.getoption("markexpr") or ""):
        return
    keep = [item for item in items if item.get_closest_marker("multiprocess") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


class MailServer:
    """Patches sending: refused while ``down`` (only to the addresses in ``only`` when it is
    set), sent (to the outbox) once it is back."""

    def __init__(self, monkeypatch):
        self.down = True
        self.only = None
        real_send = emails.EmailMultiAlternatives.send

        def send(message, *args, **kwargs):
            if self.down and (self.only is None or set(message.to) & self.only):
                raise SMTPException("connection refused")
            return real_send(message, *args, **kwargs)

        monkeypatch.setattr(emails.EmailMultiAlternatives, "send", send)

    def back(self):
        self.down = False


@pytest.fixture
def mail_down(monkeypatch):
    return MailServer(monkeypatch)
