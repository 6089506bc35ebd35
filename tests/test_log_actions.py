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
    assert message(second).startswith("Access of ana@example.com on “Course A” updated: lasts ")
    assert str(grant) == "ana@example.com on “Course A”"
    assert first.label == "ana@example.com on “Course A”"


def test_an_expiry_at_midnight_reads_as_the_end_of_the_day_before(course, settings):
    """The audit log follows the one display rule (docs/expiry.md#shown): an expiry typed as
    31 March is stored as 1 April 00:00 and reads as the end of 31 March, zone named."""
    from datetime import datetime

    from django.utils import timezone
    from wagtail.models import ModelLogEntry

    settings.TIME_ZONE = "Europe/Berlin"
    berlin = timezone.get_default_timezone()
    api.grant_access("ana@example.com", course, expires_at=None)
    grant = api.grant_access(
        "ana@example.com", course, expires_at=datetime(2027, 4, 1, tzinfo=berlin)
    )
    entry = ModelLogEntry.objects.for_instance(grant).order_by("pk").last()
    assert message(entry) == (
        "Access of ana@example.com on “Course A” updated: "
        "lasts until the end of 31 March 2027 (Europe/Berlin)"
    )
    assert "April" not in message(entry)
    with translation.override("de"):
        assert message(entry) == (
            "Zugang von ana@example.com zu „Course A“ geändert: "
            "gilt bis zum Ende des 31. März 2027 (Europe/Berlin)"
        )
