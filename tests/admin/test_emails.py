"""The email editor in the admin: the placeholders shown, the preview (sandboxed), "Send a
test to me" and "Reset to default" (the snippet's delete view)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from tests.factories import UserFactory
from wagtail_member_access import api
from wagtail_member_access.models import EmailTemplate

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, home):
    user = UserFactory(username="boss", email="boss@example.com", is_superuser=True, is_staff=True)
    client.force_login(user)
    return client


def url(name, *args):
    reverse("wagtailadmin_home")  # loads the admin's URLs, which register the viewsets
    return reverse(EmailTemplate.snippet_viewset.get_url_name(name), args=args)


@pytest.fixture
def german_code():
    return api.set_email_template(
        "unlock_code",
        subject="Ihr Code: {{ code }}",
        text="Hallo {{ email }},\n\nIhr Code: {{ code }}",
        html="<p>Code: <b>{{ code }}</b> für {{ page_title }}</p>",
        language="de",
    )


def test_new_version_starts_from_the_shipped_default_with_placeholders(admin_client):
    response = admin_client.get(url("add") + "?kind=unlock_code&language=de")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ihr Code für {{ page_title }}: {{ code }}"' in page
    assert "<code>{{ code }}</code> <strong>(required)</strong>" in page
    assert "<td>The one-time code</td><td>048213</td>" in page
    assert '<details open data-placeholders="unlock_code">' in page


def test_saving_a_refused_template_shows_the_message(admin_client):
    response = admin_client.post(
        url("add"),
        {
            "kind": "unlock_code",
            "site": "",
            "language": "de",
            "subject": "x {{ code }}",
            "text": "{% load static %}{{ code }}",
            "html": "",
        },
    )
    assert response.status_code == 200
    assert "The tag {% load %} is not allowed in emails." in response.content.decode()
    assert not EmailTemplate.objects.exists()


def test_preview_is_sandboxed_and_shows_text_and_html(german_code):
    response = german_code.serve_preview(RequestFactory().get("/"), "")
    response.render()
    page = response.content.decode()
    assert response["Content-Security-Policy"] == "sandbox"
    assert "<span data-email-subject>Ihr Code: 048213</span>" in page
    assert "<pre data-email-text>Hallo ana@example.com,\n\nIhr Code: 048213</pre>" in page
    assert "&lt;p&gt;Code: &lt;b&gt;048213&lt;/b&gt; für Lesson 1&lt;/p&gt;" in page  # srcdoc
    assert "<iframe sandbox" in page


def test_preview_through_the_admin(admin_client, german_code):
    data = {
        "kind": "unlock_code",
        "site": "",
        "language": "de",
        "subject": "Neu {{ code }}",
        "text": "{{ code }}",
        "html": "",
    }
    preview = url("preview_on_edit", german_code.pk)
    assert admin_client.post(preview, data).json() == {"is_valid": True, "is_available": True}
    response = admin_client.get(preview)
    assert response["Content-Security-Policy"] == "sandbox"
    assert "<span data-email-subject>Neu 048213</span>" in response.content.decode()


def test_send_a_test_to_me(admin_client, german_code, mailoutbox):
    edit = url("edit", german_code.pk)
    assert "Send a test to me" in admin_client.get(edit).content.decode()
    response = admin_client.post(url("send_test", german_code.pk))
    assert response.status_code == 302 and response["Location"] == edit
    assert [m.to for m in mailoutbox] == [["boss@example.com"]]
    assert mailoutbox[0].subject == "Ihr Code: 048213"
    assert mailoutbox[0].body == "Hallo ana@example.com,\n\nIhr Code: 048213"


def test_send_test_needs_the_change_permission(client, german_code, mailoutbox):
    client.force_login(UserFactory(username="nobody", email="n@example.com"))
    response = client.post(url("send_test", german_code.pk))
    assert response.status_code in (302, 403)
    assert mailoutbox == []


def test_reset_to_default(admin_client, german_code):
    page = admin_client.get(url("delete", german_code.pk)).content.decode()
    assert "Reset to default" in page
    admin_client.post(url("delete", german_code.pk))
    assert not EmailTemplate.objects.exists()


def test_history_lists_the_saves_and_revert_restores(admin_client, german_code):
    api.set_email_template(
        "unlock_code", subject="Zweiter {{ code }}", text="{{ code }}", language="de"
    )
    first = german_code.revisions.order_by("created_at", "pk").first()
    assert admin_client.get(url("history", german_code.pk)).status_code == 200
    revert = url("revisions_revert", german_code.pk, first.pk)
    page = admin_client.get(revert).content.decode()
    assert 'value="Ihr Code: {{ code }}"' in page
