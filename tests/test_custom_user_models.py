"""The member-account tests again, with custom user models: one whose
USERNAME_FIELD is the email and that has no username, and one with a required short
username and the email in a field of another name.

A user model cannot be swapped inside one test process (``AUTH_USER_MODEL`` is fixed once the
apps are loaded), so each runs the account tests in a subprocess with its own settings module
(``pytest --ds=…``), on the same database engine and cache as this run (``DATABASE_URL``,
``REDIS_URL`` are inherited). ``make test`` therefore covers all three user models.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_TESTS = ["tests/test_flows/", "tests/views/test_members.py"]


@pytest.mark.parametrize(
    "settings_module", ["tests.settings_email_user", "tests.settings_username_user"]
)
def test_account_tests_pass_with_a_custom_user_model(settings_module):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--ds={settings_module}",
            *ACCOUNT_TESTS,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, summary
