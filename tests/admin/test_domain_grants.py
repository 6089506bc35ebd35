"""Domain grants in the admin (the add form, the grants listing's seats column, the seats view
with "Free seat"), the CSV import and export, and the purchase webhook."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse, reverse_lazy
from wagtail.models import ModelLogEntry

from tests.test_webhooks.support import SECRET, post, purchase
from wagtail_member_access import api, log_actions, seats
from wagtail_member_access.imports import import_csv
from wagtail_member_access.models import Grant, Seat

pytestmark = pytest.mark.django_db

ADD = reverse_lazy("wagtail_member_access_grants:add")
GRANTS = reverse_lazy("wagtail_member_access_grants:index")


def seats_url(grant) -> str:
    return reverse("wagtail_member_access_grants:seats", args=(grant.pk,))


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.WAGTAIL_MEMBER_ACCESS_WEBHOOK_SECRET = SECRET


@pytest.fixture
def full_school(course):
    grant = api.grant_access("@school.example", course, seats=2)
    seats.take(grant.pk, "ana@school.example")
    seats.take(grant.pk, "ben@school.example")
    return grant


def test_editor_adds_a_domain_grant_with_seats(editor_client, course):
    data = {"access_list": course.pk, "email": "@School.Example", "name": "", "starts_at": ""}
    response = editor_client.post(ADD, data | {"expires_at": "", "note": "", "seats": "30"})
    assert response.status_code == 302
    grant = Grant.objects.get()
    assert (grant.email, grant.seats, grant.source) == ("@school.example", 30, "manual")


@pytest.mark.parametrize(
    ("email", "seats_value", "field", "error"),
    [
        ("@school", "3", "email", "Enter a domain such as @school.example (no address, no spaces)."),  # noqa: E501
        ("ana@example.com", "3", "seats", "Seats are for a domain (@school.example) only."),
        ("@school.example", "0", "seats", "Enter 1 seat or more, or leave it empty for no limit."),
    ],
)  # fmt: skip
def test_the_add_form_refuses_bad_domains_and_seats(
    editor_client, course, email, seats_value, field, error
):  # noqa: E501
    data = {"access_list": course.pk, "email": email, "name": "", "starts_at": ""}
    response = editor_client.post(ADD, data | {"expires_at": "", "note": "", "seats": seats_value})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert errors[field] == [error]
    assert not Grant.objects.exists()


def test_lowering_seats_below_the_seats_taken_is_a_form_error(editor_client, full_school):
    url = reverse("wagtail_member_access_grants:edit", args=(full_school.pk,))
    data = {"access_list": full_school.access_list_id, "email": full_school.email, "name": ""}
    data |= {"starts_at": "", "expires_at": "", "unlimited": "on", "note": "", "seats": "1"}
    response = editor_client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["seats"] == [
        "2 seats are taken: free seats before lowering the number to 1."
    ]
    assert Grant.objects.get().seats == 2


def test_the_listing_marks_domain_grants_and_their_seats(editor_client, course, full_school):
    api.grant_access("cem@example.com", course)
    response = editor_client.get(GRANTS, {"access_list": course.pk})
    html = response.content.decode()
    assert f'<a href="{seats_url(full_school)}">2 of 2 seats used</a>' in html
    assert html.count("seats used") == 1  # nothing for the address


def test_the_seats_view_shows_who_holds_them_and_frees_one(editor_client, editor, full_school):
    response = editor_client.get(seats_url(full_school))
    html = response.content.decode()
    assert "2 of 2 seats used" in html
    assert "ana@school.example" in html and "ben@school.example" in html
    ana = Seat.objects.get(email="ana@school.example")
    response = editor_client.post(seats_url(full_school), {"seat": ana.pk}, follow=True)
    assert "The seat of ana@school.example is free again." in response.content.decode()
    assert "1 of 2 seats used" in response.content.decode()
    assert list(Seat.objects.values_list("email", flat=True)) == ["ben@school.example"]
    entry = ModelLogEntry.objects.get(action=log_actions.SEAT_FREED)
    assert entry.user_id == editor.pk


def test_a_viewer_sees_seats_but_cannot_free_one(viewer_client, full_school):
    response = viewer_client.get(seats_url(full_school))
    assert response.status_code == 200 and "Free seat" not in response.content.decode()
    ana = Seat.objects.get(email="ana@school.example")
    # Wagtail answers a refused admin request with a redirect to the dashboard.
    response = viewer_client.post(seats_url(full_school), {"seat": ana.pk})
    assert response.status_code == 302 and response["Location"] == reverse("wagtailadmin_home")
    assert Seat.objects.count() == 2


def test_no_seats_view_for_an_address(editor_client, course):
    grant = api.grant_access("ana@example.com", course)
    assert editor_client.get(seats_url(grant)).status_code == 404


def test_export_and_import_round_trip_a_domain_grant(editor_client, course, full_school):
    response = editor_client.get(GRANTS, {"access_list": course.pk, "export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    heading, row = rows[0], rows[1]
    assert row[0] == "'@school.example"  # never a formula in a spreadsheet
    assert (row[heading.index("Seats")], row[heading.index("Seats used")]) == ("2", "2")
    # The exported file imports back unchanged.
    content = "\n".join(",".join(r) for r in rows).encode()
    result = import_csv(io.BytesIO(content), course)
    assert result.errors == [] and (result.new, result.updated, result.unchanged) == (0, 0, 1)


def test_import_a_domain_row_with_seats(course):
    content = b"email,name,seats\n@Other.example,Other school,30\nana@example.com,Ana,\n"
    result = import_csv(io.BytesIO(content), course)
    assert result.errors == [] and result.new == 2
    assert dict(Grant.objects.values_list("email", "seats")) == {
        "@other.example": 30,
        "ana@example.com": None,
    }


def test_import_refuses_bad_seat_rows_and_imports_nothing(course, full_school):
    content = (
        b"email,seats\n"
        b"@school.example,1\n"  # below the 2 seats taken
        b"ana@example.com,3\n"  # seats on an address
        b"@new.example,many\n"
        b"@bad,3\n"
    )
    result = import_csv(io.BytesIO(content), course)
    assert [(e.line, e.message) for e in result.errors] == [
        (2, "@school.example has 2 seats taken: free seats before lowering the number to 1."),
        (3, "Seats are for a domain such as @school.example, not for an address."),
        (
            4,
            "“many” in column “seats” is not a number of seats: give a whole number, 1 or "
            "more, “unlimited”, or leave it empty.",
        ),
        (5, "“@bad” is not a valid domain such as @school.example."),
    ]
    assert list(Grant.objects.values_list("email", "seats")) == [("@school.example", 2)]


def test_the_webhook_grants_a_domain_with_seats(course):
    response = post(purchase(email="@School.example", seats=30))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grant"]["email"] == "@school.example" and body["grant"]["seats"] == 30
    assert Grant.objects.get().seats == 30


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"email": "@school"}, "invalid_email"),
        ({"email": "@school.example", "seats": 0}, "invalid_seats"),
        ({"email": "@school.example", "seats": "30"}, "invalid_seats"),
        ({"email": "ana@example.com", "seats": 3}, "invalid_seats"),
    ],
)
def test_the_webhook_refuses_bad_domains_and_seats(course, payload, code):
    response = post(purchase(**payload), secret=SECRET)
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert not Grant.objects.exists()
