"""The package in real processes, over HTTP: gunicorn with 4 workers and django-tasks-db's
``db_worker`` against PostgreSQL and Redis, and an SMTP server (aiosmtpd), all on 127.0.0.1
on free ports (docs/deployment.md, docs/security.md#atomic-limits, #mail-retries).

Marker ``multiprocess``: left out of a plain ``make test`` (see tests/conftest.py), run by
``.ci/run`` with ``pytest -m multiprocess``. Needs PostgreSQL (``WMA_MP_DATABASE_URL``, a
server URL; the test creates and drops its own database) and Redis (``WMA_MP_REDIS_URL``);
fails, rather than skips, when they are missing. Prints its figures.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email import policy
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from tests.integration.conftest import CollectingHandler, SMTPServer, free_port

pytestmark = pytest.mark.multiprocess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVER_URL = os.environ.get("WMA_MP_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("WMA_MP_REDIS_URL", "redis://127.0.0.1:6379/14")
TIMEOUT = 40  # seconds any one wait may take


class StallingHandler(CollectingHandler):
    """Keeps every message; while ``stalled`` it holds each DATA command open (a mail server
    that hangs), so a worker can be killed in the middle of sending."""

    stalled = False
    in_data = 0

    async def handle_DATA(self, server, session, envelope):
        self.in_data += 1
        while self.stalled:
            await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


class Mailbox(SMTPServer):
    def __init__(self, port):
        super().__init__(port)
        self.handler = StallingHandler()

    def to(self, address: str) -> list:
        with self.handler.lock:
            return [m for m in self.handler.messages if address in m.rcpt_tos]

    def code_for(self, address: str, index: int = -1) -> str:
        message = email.message_from_bytes(self.to(address)[index].content, policy=policy.default)
        return re.search(r"(\d{6})\s*$", message["Subject"]).group(1)


def wait_for(predicate, what: str, timeout: float = TIMEOUT, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Site:
    """The processes and how to talk to them."""

    def __init__(self, env, base_url, page_id, path, mailbox):
        self.env = env
        self.base_url = base_url
        self.page_id = page_id
        self.path = path
        self.mailbox = mailbox
        self.worker = None
        self.processes: list[subprocess.Popen] = []

    def url(self, path: str) -> str:
        return self.base_url + path

    def start_worker(self):
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "django", "db_worker", "--interval", "0.2",
             "--no-startup-delay", "--no-reload"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(self.worker)

    def kill_worker(self):
        os.kill(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def manage(self, *args) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def browser(self) -> requests.Session:
        """A new browser with a CSRF cookie and the page's form token (``.token``)."""
        session = requests.Session()
        response = session.get(self.url(self.path), timeout=10)
        assert response.status_code == 200, response.status_code
        session.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)[1]
        self.csrf_cookie = session.cookies["csrftoken"]
        return session

    def ask(self, session, address, client_ip="10.9.9.9"):
        """Ask for a code; ``session`` None: a browser without a session (a new one each)."""
        if session is None:
            session = requests.Session()
            session.cookies.set("csrftoken", self.csrf_cookie)
            session.token = self.csrf_cookie
        return session.post(
            self.url(f"/access/unlock/{self.page_id}/email/"),
            data={"email": address, "next": self.path, "csrfmiddlewaretoken": session.token},
            headers={"X-Client-IP": client_ip, "Referer": self.base_url},
            allow_redirects=False,
            timeout=20,
        )

    def guess(self, session, code, client_ip="10.9.9.9"):
        return session.post(
            self.url(f"/access/unlock/{self.page_id}/code/"),
            data={"code": code, "next": self.path, "csrfmiddlewaretoken": session.token},
            headers={"X-Client-IP": client_ip, "Referer": self.base_url},
            allow_redirects=False,
            timeout=20,
        )


def _reachable():
    try:
        psycopg.connect(SERVER_URL, connect_timeout=3, autocommit=True).close()
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        pytest.fail(f"The multiprocess test needs PostgreSQL and Redis: {exc}")


@pytest.fixture(scope="module")
def site():
    _reachable()
    name = f"wma_multiprocess_{os.getpid()}"
    admin = psycopg.connect(SERVER_URL, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    mailbox = Mailbox(free_port())
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.multiprocess.settings",
        PYTHONPATH=str(ROOT),
        WMA_MP_DATABASE_URL=SERVER_URL.rsplit("/", 1)[0] + "/" + name,
        WMA_MP_REDIS_URL=REDIS_URL,
        WMA_MP_KEY_PREFIX=f"wma-mp-{uuid.uuid4().hex[:8]}",
        WMA_MP_SMTP_PORT=str(mailbox.port),
    )
    processes = []
    try:
        mailbox.start()
        yield _start(env, mailbox, processes)
    finally:
        # Everything the test started stops, and its database and keys go, however it ended.
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        mailbox.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{env['WMA_MP_KEY_PREFIX']}:*"))
        if keys:
            client.delete(*keys)


def _start(env, mailbox, processes) -> Site:
    """Seed the database, start gunicorn and a worker (recorded in ``processes``)."""
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.multiprocess.seed"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    processes.append(
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "tests.multiprocess.wsgi:application",
                "--workers",
                "4",
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "30",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )  # fmt: skip
    )
    running = Site(env, f"http://127.0.0.1:{port}", seed["page_id"], seed["path"], mailbox)
    running.processes = processes
    running.start_worker()
    wait_for(lambda: _answers(running), "gunicorn to answer", timeout=90, every=0.5)
    return running


def _answers(site) -> bool:
    try:
        return requests.get(site.url(site.path), timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or a worker still booting
        return False


def in_parallel(count: int, work) -> list:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count)))


def report(name: str, **figures) -> None:
    print(f"\nMULTIPROCESS {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_send_limits_exact_under_40_parallel_requests(site):
    site.browser()  # the CSRF cookie
    started = time.monotonic()
    # One address from 40 clients (a new browser each): RATE_SEND_PER_EMAIL is 5/h.
    per_email = in_parallel(40, lambda i: site.ask(None, "m0@example.com", f"10.1.0.{i}"))
    # 40 addresses from one client: RATE_SEND_PER_IP is 20/h.
    per_ip = in_parallel(40, lambda i: site.ask(None, f"p{i}@example.com", "10.2.0.1"))
    took = time.monotonic() - started
    email_codes = sorted(r.status_code for r in per_email)
    ip_codes = sorted(r.status_code for r in per_ip)
    report(
        "limits",
        per_email_allowed=email_codes.count(303),
        per_email_429=email_codes.count(429),
        per_ip_allowed=ip_codes.count(303),
        per_ip_429=ip_codes.count(429),
        seconds=round(took, 2),
    )
    assert email_codes == [303] * 5 + [429] * 35
    assert ip_codes == [303] * 20 + [429] * 20


def test_one_browser_five_parallel_sends_send_one_email(site):
    browser = site.browser()
    # The browser's session exists before the parallel posts (an address with no access).
    assert site.ask(browser, "nobody@example.com", "10.3.0.1").status_code == 303
    assert "sessionid" in browser.cookies
    responses = in_parallel(5, lambda i: site.ask(browser, "ana@example.com", "10.3.0.1"))
    assert [r.status_code for r in responses] == [303] * 5
    wait_for(lambda: site.mailbox.to("ana@example.com"), "ana's email")
    time.sleep(2)  # anything else the worker would send arrives by now
    report("cooldown", parallel_posts=5, emails=len(site.mailbox.to("ana@example.com")))
    assert len(site.mailbox.to("ana@example.com")) == 1


def test_one_code_redeemed_once_under_20_parallel_posts(site):
    browser = site.browser()
    assert site.ask(browser, "ben@example.com", "10.4.0.1").status_code == 303
    wait_for(lambda: site.mailbox.to("ben@example.com"), "ben's email")
    code = site.mailbox.code_for("ben@example.com")
    responses = in_parallel(20, lambda i: site.guess(browser, code, "10.4.0.1"))
    statuses = [r.status_code for r in responses]
    report("redeem", posts=20, redeemed=statuses.count(303), refused=statuses.count(200))
    assert statuses.count(303) == 1
    assert statuses.count(200) == 19


def test_email_requested_while_smtp_is_down_arrives_after_it_comes_back(site):
    site.mailbox.stop()
    browser = site.browser()
    assert site.ask(browser, "cleo@example.com", "10.5.0.1").status_code == 303

    def not_sent_yet():
        text = browser.get(site.url(site.path), timeout=10).text
        return text if "We could not send emails just now" in text else None

    page = wait_for(not_sent_yet, "the page to say the email is not sent yet")
    assert "we have sent it" not in page
    down_at = time.monotonic()
    time.sleep(1.5)  # at least one more failed attempt
    site.mailbox.start()
    wait_for(lambda: site.mailbox.to("cleo@example.com"), "cleo's email after SMTP is back")
    report("smtp-down", arrived_after_restart_s=round(time.monotonic() - down_at - 1.5, 2))
    code = site.mailbox.code_for("cleo@example.com")
    assert site.guess(browser, code, "10.5.0.1").status_code == 303
    assert "SECRET-LESSON-BODY" in browser.get(site.url(site.path), timeout=10).text


def test_worker_killed_mid_send_does_not_lose_the_email(site):
    site.mailbox.handler.stalled = True
    before = site.mailbox.handler.in_data
    browser = site.browser()
    try:
        assert site.ask(browser, "dora@example.com", "10.6.0.1").status_code == 303
        wait_for(lambda: site.mailbox.handler.in_data > before, "the worker to be mid-send")
        site.kill_worker()
    finally:
        site.mailbox.handler.stalled = False
    killed_at = time.monotonic()
    site.start_worker()
    # The periodic job (cron or the worker's scheduler): after SEND_LEASE (6 s) it enqueues
    # the lost send again and marks the killed worker's task row failed.
    outputs = []

    def retried():
        outputs.append(site.manage("member_access_retry"))
        return site.mailbox.to("dora@example.com") or (time.sleep(1) and False)

    wait_for(retried, "dora's email after the worker was killed")
    report(
        "worker-killed",
        arrived_after_kill_s=round(time.monotonic() - killed_at, 2),
        emails=len(site.mailbox.to("dora@example.com")),
        retry_runs=len(outputs),
    )
    assert len(site.mailbox.to("dora@example.com")) == 1

    # The killed worker's task row is marked failed once it too is older than the lease: that
    # run may come a second after the one that enqueued the email again (both use the lease,
    # measured from two moments a little apart), so keep running the job until it does.
    def stale_row_marked():
        if any("stale task rows marked failed: 1" in out for out in outputs):
            return True
        outputs.append(site.manage("member_access_retry"))
        return False

    wait_for(stale_row_marked, "the killed worker's task row to be marked failed", every=1)
    assert len(site.mailbox.to("dora@example.com")) == 1  # and still sent only once
    code = site.mailbox.code_for("dora@example.com")
    assert site.guess(browser, code, "10.6.0.1").status_code == 303


def test_sign_out_on_one_worker_is_honoured_by_all(site):
    browser = site.browser()
    assert site.ask(browser, "emil@example.com", "10.7.0.1").status_code == 303
    wait_for(lambda: site.mailbox.to("emil@example.com"), "emil's email")
    assert (
        site.guess(browser, site.mailbox.code_for("emil@example.com"), "10.7.0.1").status_code
        == 303
    )
    opened = in_parallel(20, lambda i: browser.get(site.url(site.path), timeout=10))
    assert all("SECRET-LESSON-BODY" in r.text for r in opened)
    old_cookies = browser.cookies.copy()
    response = browser.post(
        site.url("/access/sign-out/"),
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},  # rotated at sign-in
        headers={"Referer": site.base_url},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code in (302, 303)
    replay = requests.Session()
    replay.cookies = old_cookies
    after = in_parallel(20, lambda i: replay.get(site.url(site.path), timeout=10))
    report("sign-out", requests_after=20, opened=sum("SECRET-LESSON-BODY" in r.text for r in after))
    assert not any("SECRET-LESSON-BODY" in r.text for r in after)
