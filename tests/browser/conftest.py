"""Fixtures for the browser tests: Debian's chromium driven by Playwright's sync API against
pytest-django's ``live_server``.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from tests.factories import UserFactory, ensure_default_home, make_page
from wagtail_member_access import api

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING = f"Debian's chromium is not installed at {CHROMIUM}: apt-get install chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module. Skips (or, with WMA_REQUIRE_BROWSER=1 as in CI, fails)
    when the browser is not installed, so a developer without it still runs the rest.

    Playwright's sync API runs its asyncio loop in the main thread, where Django then refuses
    ORM calls (``SynchronousOnlyOperation``): the tests' own fixtures, assertions and the
    transactional flush. DJANGO_ALLOW_ASYNC_UNSAFE lifts that check while the browser runs;
    it never fired elsewhere (the live server's threads have no event loop). Module scope
    stops the loop before other modules' tests run, so they see a plain main thread.
    """
    required = os.environ.get("WMA_REQUIRE_BROWSER") == "1"
    if not os.path.exists(CHROMIUM):
        if required:
            pytest.fail(MISSING, pytrace=False)
        pytest.skip(MISSING)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the package is in the "testing" extra
        reason = "The playwright package is not installed: pip install -e '.[testing]'"
        if required:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as env, sync_playwright() as playwright:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def site_root(transactional_db, live_server):
    """The default Site and its home page, pointed at the live server.

    ``live_server`` needs ``transactional_db``, which empties every table after each test,
    including the rows Wagtail's data migrations made (locale, root page, home, site): the
    first such test still sees them, later ones must build them again.
    """
    from wagtail.models import Site

    host, port = live_server.thread.host, live_server.thread.port
    home = ensure_default_home()
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"hostname": host, "port": port, "root_page": home, "site_name": "Test site"},
    )
    return home


class _Connections:
    """The connections a live server is still serving (a thread each, kept open between
    requests), so that a test's teardown can wait for them before the database is emptied:
    each closes the shared database connection when it ends."""

    def __init__(self, httpd):
        self.count = 0
        self.changed = threading.Condition()
        serve = httpd.process_request_thread

        def process_request_thread(request, client_address):
            with self.changed:
                self.count += 1
            try:
                serve(request, client_address)
            finally:
                with self.changed:
                    self.count -= 1
                    self.changed.notify_all()

        httpd.process_request_thread = process_request_thread

    def wait_closed(self, timeout: float = 10.0) -> None:
        """Until every connection has ended (the browser contexts are closed, so they end at
        once), or ``timeout`` seconds."""
        with self.changed:
            self.changed.wait_for(lambda: self.count == 0, timeout)


#: The live servers whose connections a test's teardown waits for (``new_context``).
_WATCHED: list[_Connections] = []


def watch_requests(server) -> _Connections:
    """Count the connections ``server`` (pytest-django's ``live_server`` or a ``LiveServer``
    of a test's own) is serving, so that ``new_context``'s teardown waits for them."""
    httpd = server.thread.httpd
    if not hasattr(httpd, "wma_connections"):
        httpd.wma_connections = _Connections(httpd)
    if httpd.wma_connections not in _WATCHED:
        _WATCHED.append(httpd.wma_connections)
    return httpd.wma_connections


def unwatch_requests(server) -> None:
    """Before ``server`` stops: its connections are no longer waited for."""
    connections = getattr(server.thread.httpd, "wma_connections", None)
    if connections in _WATCHED:
        _WATCHED.remove(connections)


@pytest.fixture
def new_context(browser, transactional_db, live_server, request):
    """Factory for a fresh browser context (own cookies), closed after the test.

    ``/favicon.ico`` is answered by the browser itself: the live server shares one in-memory
    SQLite connection between its threads, and a favicon request racing a form post through
    Wagtail's serve view is a source of flakiness that has nothing to do with the flow.

    The contexts close, and the live servers end their connections, before the database is
    emptied: depending on ``transactional_db`` puts its flush after this teardown. An
    editor's page left open keeps asking (Wagtail's editing-session ping), and a request
    answered during the flush made it fail ("couldn't be flushed") and left the test's rows
    to the next test; a connection ending after a server stopped closed the shared database
    connection from the wrong thread.
    """
    watch_requests(live_server)
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    for server in list(_WATCHED):
        server.wait_closed()


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "step")`` saves tests/browser/artifacts/<test>-<n>-<step>.png when
    WMA_SCREENSHOTS=1, and does nothing otherwise."""
    enabled = os.environ.get("WMA_SCREENSHOTS") == "1"
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    counter = iter(range(1, 100))

    def take(page, step: str) -> None:
        if not enabled:
            return
        ARTIFACTS.mkdir(exist_ok=True)
        ignore = ARTIFACTS / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Screenshots of the browser tests (WMA_SCREENSHOTS=1).\n*\n")
        page.screenshot(
            path=str(ARTIFACTS / f"{prefix}-{next(counter):02d}-{step}.png"), full_page=True
        )

    return take


def sign_in_to_admin(page, base_url: str, username: str, password: str) -> None:
    """Sign in on Wagtail's admin login page and wait for the dashboard's Member access menu."""
    from playwright.sync_api import expect

    page.goto(base_url + reverse("wagtailadmin_login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Member access")).to_be_visible()


def page_for_ana(site_root, list_name: str, mode: str, *, title, slug, body, reference=None):
    """A page under ``site_root`` protected with ``mode`` by a new access list ``list_name``,
    on which ana@example.com has a grant."""
    access_list = api.create_access_list(list_name)
    page = make_page(site_root, title=title, slug=slug, body=body)
    api.protect(page, mode=mode, access_lists=[access_list])
    api.grant_access("ana@example.com", access_list, name="Ana", reference=reference)
    return page


def admin_user(group_name: str, codenames, **fields):
    """A user (``UserFactory(**fields)``) in a new group ``group_name`` that may use Wagtail's
    admin with the permissions ``codenames``."""
    group = Group.objects.create(name=group_name)
    group.permissions.set(Permission.objects.filter(codename__in=["access_admin", *codenames]))
    user = UserFactory(**fields)
    user.groups.add(group)
    return user
