"""The import writer (grants/bulk_import.py), through the CSV import that feeds it: new,
updated and unchanged grants, the expiry an empty cell keeps or gives, one transaction with
one audit-log entry, and no per-grant signals."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from wagtail.models import ModelLogEntry

from tests.factories import AccessListFactory, GrantFactory, UserFactory
from tests.test_imports import HEADER, grant_of, run, state, utc
from wagtail_member_access import grants, log_actions
from wagtail_member_access.imports import InvalidFile, import_csv
from wagtail_member_access.models import Grant
from wagtail_member_access.signals import access_granted

pytestmark = pytest.mark.django_db


# --- counts, updates, idempotency ---------------------------------------------------------------


def test_new_updated_unchanged_and_a_restored_revoked_grant(course, clock):
    GrantFactory(access_list=course, email="same@example.com", name="Same", source="manual")
    GrantFactory(access_list=course, email="renamed@example.com", name="Old")
    GrantFactory(access_list=course, email="revoked@example.com", name="Rev", revoked_at=clock.now)
    other_list = AccessListFactory()
    GrantFactory(access_list=other_list, email="new@example.com", name="Elsewhere")
    data = (
        "email,name\nsame@example.com,Same\nrenamed@example.com,New\n"
        "revoked@example.com,Rev\nnew@example.com,New\n"
    )
    result = run(data, course)
    assert (result.new, result.updated, result.unchanged) == (1, 2, 1)
    assert grant_of("renamed@example.com", course).name == "New"
    restored = grant_of("revoked@example.com", course)
    assert (restored.revoked_at, restored.source) == (None, "import")
    # Unchanged grants are not written: their source stays what it was.
    assert grant_of("same@example.com", course).source == "manual"
    assert grant_of("new@example.com", other_list).name == "Elsewhere"


def test_importing_the_same_file_again_changes_nothing(course, clock):
    course.default_days = 30
    course.save()
    data = HEADER + (
        "ana@example.com,Ana,2026-01-01,2026-12-31,x\n"
        "ben@example.com,Ben,,,\n"
        "cy@example.com,Cy,,unlimited,\n"
    )
    first = run(data, course)
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    before = state()
    clock.advance(days=10)
    again = run(data, course)
    assert (again.new, again.updated, again.unchanged, again.written) == (0, 0, 3, False)
    assert state() == before


def test_a_large_file_reads_the_list_once_and_is_idempotent(course):
    # Over 500 rows the existing grants are read with one scan of the list, not by email.
    data = "email,name\n" + "".join(f"m{i}@example.com,M{i}\n" for i in range(600))
    assert run(data, course, batch_size=100).new == 600
    again = run(data.replace("m5@example.com,M5", "m5@example.com,Five"), course)
    assert (again.new, again.updated, again.unchanged) == (0, 1, 599)
    assert Grant.objects.filter(access_list=course).count() == 600


# --- the expiry column ----------------------------------------------------------------------------


def test_empty_expiry_gives_new_grants_the_lists_default_period(course, clock):
    course.default_days = 30
    course.save()
    run(HEADER + "ana@example.com,,,,\nben@example.com,,2030-01-01,,\n", course)
    assert grant_of("ana@example.com", course).expires_at == clock.now + timedelta(days=30)
    # From the start, when the row has one.
    assert grant_of("ben@example.com", course).expires_at == utc(2030, 1, 31)


def test_without_an_expiry_column_new_grants_get_the_default_period(course, clock):
    course.default_days = 7
    course.save()
    run("email\nana@example.com\n", course)
    assert grant_of("ana@example.com", course).expires_at == clock.now + timedelta(days=7)


def test_empty_expiry_without_a_default_period_is_unlimited(course):
    run(HEADER + "ana@example.com,,,,\n", course)
    assert grant_of("ana@example.com", course).expires_at is None


def test_empty_expiry_keeps_an_existing_grants_expiry(course, clock):
    course.default_days = 30
    course.save()
    expires = clock.now + timedelta(days=3)
    GrantFactory(access_list=course, email="ana@example.com", name="Ana", expires_at=expires)
    GrantFactory(access_list=course, email="ben@example.com", name="Ben", expires_at=None)
    result = run(HEADER + "ana@example.com,Ana,,,\nben@example.com,Ben,,,\n", course)
    assert (result.updated, result.unchanged) == (0, 2)
    assert grant_of("ana@example.com", course).expires_at == expires
    assert grant_of("ben@example.com", course).expires_at is None


@pytest.mark.parametrize("cell", ["unlimited", "Unlimited", "UNBEGRENZT", "unbefristet"])
def test_unlimited_lifts_an_expiry(course, clock, cell):
    GrantFactory(access_list=course, email="ana@example.com", expires_at=clock.now)
    result = run(f"email,expires\nana@example.com,{cell}\n", course)
    assert result.updated == 1
    assert grant_of("ana@example.com", course).expires_at is None


def test_a_changed_expiry_is_reminded_and_recorded_afresh(course, clock):
    sent = clock.now - timedelta(days=1)
    for email in ("changed@example.com", "same@example.com", "renamed@example.com"):
        GrantFactory(
            access_list=course,
            email=email,
            name="A",
            expires_at=utc(2026, 1, 1),
            reminder_sent_at=sent,
            expiry_recorded_at=sent,
        )
    run(
        "email,name,expires\nchanged@example.com,A,2026-06-30\nsame@example.com,A,2025-12-31\n"
        "renamed@example.com,B,\n",
        course,
    )
    changed = grant_of("changed@example.com", course)
    assert (changed.reminder_sent_at, changed.expiry_recorded_at) == (None, None)
    for email in ("same@example.com", "renamed@example.com"):
        grant = grant_of(email, course)
        assert (grant.reminder_sent_at, grant.expiry_recorded_at) == (sent, sent)


def test_import_grants_refuses_such_a_row_without_a_conflicts_list(course):
    GrantFactory(access_list=course, email="ana@example.com", expires_at=utc(2026, 6, 1))
    before = state()
    with pytest.raises(ValidationError, match="The access must expire after it starts."):
        grants.import_grants(course, {"ana@example.com": (utc(2027, 1, 1),)}, fields=("starts_at",))
    assert state() == before


# --- dry run, all or nothing, audit log, signals -------------------------------------------------


def test_a_dry_run_counts_and_changes_nothing(course):
    GrantFactory(access_list=course, email="ana@example.com", name="Old")
    GrantFactory(access_list=course, email="ben@example.com", name="Ben")
    before = state()
    result = run(
        "email,name\nana@example.com,New\nben@example.com,Ben\ncy@example.com,Cy\n",
        course,
        dry_run=True,
    )
    assert (result.new, result.updated, result.unchanged, result.invalid) == (1, 1, 1, 0)
    assert result.dry_run and result.ok and not result.written
    assert state() == before


def test_an_integrity_error_mid_way_leaves_nothing(course):
    """The second batch fails in the database (a real unique violation): the first batch,
    the updates and the audit-log entry are rolled back with it."""
    GrantFactory(access_list=course, email="old@example.com", name="Old")
    before = state()
    inserts = []

    def duplicate_second_batch(execute, sql, params, many, context):
        if many and sql.startswith("INSERT"):
            params = list(params)
            inserts.append(len(params))
            if len(inserts) == 2:
                params.append(params[0])  # the same email twice: the database refuses
        return execute(sql, params, many, context)

    data = "email,name\nold@example.com,New\n" + "".join(f"m{i}@example.com,M\n" for i in range(5))
    with connection.execute_wrapper(duplicate_second_batch), pytest.raises(InvalidFile) as excinfo:
        run(data, course, batch_size=2)
    assert str(excinfo.value) == (
        "Another change added one of these addresses to the list during the import. Nothing "
        "was imported; import the file again."
    )
    assert isinstance(excinfo.value.__cause__, IntegrityError)
    assert inserts[0] == 2  # the first batch was written before the failure
    assert state() == before


def test_one_audit_log_entry_with_the_counts(course):
    admin = UserFactory(username="editor")
    GrantFactory(access_list=course, email="ana@example.com", name="Old")
    GrantFactory(access_list=course, email="ben@example.com", name="Ben")
    data = "email,name\nana@example.com,New\nben@example.com,Ben\ncy@example.com,Cy\n"
    stream = io.BytesIO(data.encode())
    stream.name = "/tmp/uploads/buyers.csv"
    import_csv(stream, course, added_by=admin)
    (entry,) = ModelLogEntry.objects.filter(action=log_actions.IMPORT)
    assert entry.user == admin
    assert entry.object_id == str(course.pk)
    assert entry.data == {
        "list": "Course A",
        "list_id": course.pk,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "file": "buyers.csv",
    }
    assert entry.message == "Imported 1 new, 1 updated grants into “Course A”"
    # No entry per grant.
    assert ModelLogEntry.objects.count() == 1


def test_no_audit_log_entry_when_nothing_changed_or_on_a_dry_run(course):
    run("email\nana@example.com\n", course, dry_run=True)
    run("email\nbad\n", course)
    assert not ModelLogEntry.objects.filter(action=log_actions.IMPORT).exists()
    run("email\nana@example.com\n", course)
    run("email\nana@example.com\n", course)
    assert ModelLogEntry.objects.filter(action=log_actions.IMPORT).count() == 1


def test_no_per_grant_signals(course, django_capture_on_commit_callbacks):
    """As documented in grants.import_grants: 100,000 signals would cost more than the
    import. Receivers learn of imports from the audit log entry."""
    received = []

    def receiver(**kwargs):
        received.append(kwargs)

    access_granted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run("email\nana@example.com\nben@example.com\n", course)
    finally:
        access_granted.disconnect(receiver)
    assert received == []
    assert Grant.objects.filter(access_list=course).count() == 2
