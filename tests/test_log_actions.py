import pytest
from django.utils import translation
from wagtail.log_actions import registry
from wagtail.models import PageLogEntry

from wagtail_member_access import api

pytestmark = pytest.mark.django_db


def message(entry):
    return registry.get_formatter(entry).format_message(entry)


def test_protect_entry_shows_the_mode_label(protected_page):
    entry = PageLogEntry.objects.filter(
        page=protected_page, action="wagtail_member_access.protect"
    ).latest("timestamp")
    assert message(entry) == "Member access set to “One-time email code”"
    with translation.override("de"):
        assert "Einmal" in message(entry) or "Code" in message(entry)
        assert "“code”" not in message(entry)


def test_unlock_entries_show_readable_method_and_reason(protected_page):
    entry = PageLogEntry.objects.log_action(
        protected_page,
        "wagtail_member_access.unlock",
        data={"email": "a**@example.com", "method": "link"},
    )
    assert message(entry) == "Unlocked by a**@example.com with an emailed link"
    failed = PageLogEntry.objects.log_action(
        protected_page,
        "wagtail_member_access.unlock_failed",
        data={"email": "a**@example.com", "reason": "exhausted"},
    )
    assert message(failed) == "Failed unlock attempt (too many tries) for a**@example.com"


def test_entry_with_missing_data_falls_back_to_the_label(home):
    entry = PageLogEntry.objects.log_action(home, "wagtail_member_access.grant", data={})
    assert message(entry) == "Grant access"
    assert api  # the public API registers nothing else here


def test_a_grant_saved_again_reads_as_an_update(course, clock):
    from datetime import timedelta

    from wagtail.models import ModelLogEntry

    grant = api.grant_access("ana@example.com", course, expires_at=None)
    api.grant_access("ana@example.com", course, expires_at=clock.now + timedelta(days=30))
    first, second = ModelLogEntry.objects.for_instance(grant).order_by("pk")
    assert message(first) == "Access granted to ana@example.com on “Course A”"
    assert message(second).startswith("Access of ana@example.com on “Course A” updated: ends ")
    assert str(grant) == "ana@example.com on “Course A”"
    assert first.label == "ana@example.com on “Course A”"
