"""The email editor in the admin: the placeholders shown, the preview (sandboxed), "Send a
test to me" and "Reset to default" (the snippet's delete view)."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from django.test import RequestFactory
from django.urls import reverse
from wagtail.models import Site
from wagtail.users.models import UserProfile

from tests.factories import UserFactory
from wagtail_member_access import api
from wagtail_member_access.models import EmailLayout, EmailTemplate

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


def test_preview_frame_speaks_the_editors_admin_language(client, home):
    """The email in its language; "Subject" and the headings in the editor's (Wagtail builds
    the preview's request anew, without the admin's language)."""
    editor = UserFactory(username="redakteurin", is_superuser=True, is_staff=True)
    profile = UserProfile.get_for_user(editor)
    profile.preferred_language = "de"
    profile.save()
    client.force_login(editor)
    template = api.set_email_template(
        "unlock_code", subject="Your code: {{ code }}", text="{{ code }}", html="", language="en"
    )
    data = {"kind": "unlock_code", "site": "", "language": "en"}
    data |= {"subject": "Your code: {{ code }}", "text": "{{ code }}", "html": ""}
    preview = url("preview_on_edit", template.pk)
    assert client.post(preview, data).json() == {"is_valid": True, "is_available": True}
    page = client.get(preview).content.decode()
    assert "<strong>Betreff:</strong> <span data-email-subject>Your code: 048213</span>" in page
    assert "Subject:" not in page


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


# --- the layout in the preview ------------------------------------------------------------


def layout_url(name, *args):
    reverse("wagtailadmin_home")
    return reverse(EmailLayout.snippet_viewset.get_url_name(name), args=args)


def srcdoc(page: str) -> str:
    """The HTML part as the preview's sandboxed frame shows it."""
    soup = BeautifulSoup(page, "html.parser")
    return soup.select_one("iframe[data-email-html]")["srcdoc"]


def test_layout_preview_through_the_admin_shows_its_look_unsaved(admin_client):
    data = {
        "site": "",
        "from_email": "School <school@example.com>",
        "reply_to": "",
        "brand_name": "Yoga & Co <Studio>",
        "logo_url": "",
        "accent_colour": "#aa0000",
        "text_colour": "#112233",
        "background_colour": "#fafafa",
        "footer": "Yoga & Co GmbH\nMain street 1, Berlin",
    }
    preview = layout_url("preview_on_add")
    assert admin_client.post(preview, data).json() == {"is_valid": True, "is_available": True}
    response = admin_client.get(preview)
    assert response["Content-Security-Policy"] == "sandbox"
    html = srcdoc(response.content.decode())
    assert '<p class="brand" style="' in html and ">Yoga &amp; Co &lt;Studio&gt;</p>" in html
    assert "background: #fafafa" in html and "color: #112233" in html
    assert "Yoga &amp; Co GmbH\nMain street 1, Berlin</div>" in html
    assert "This is how your emails look. Your code: 048213" in html
    assert "<style" not in html  # inlined, as sent
    assert not EmailLayout.objects.exists()  # a preview saves nothing


def test_layout_preview_with_a_logo(admin_client):
    layout = EmailLayout.objects.create(brand_name="Studio", logo_url="https://cdn.example/l.png")
    response = layout.serve_preview(RequestFactory().get("/"), "")
    response.render()
    html = srcdoc(response.content.decode())
    assert '<img src="https://cdn.example/l.png" alt="Studio"' in html


def test_a_sites_version_previews_in_that_sites_layout_and_name(admin_client, home):
    site = Site.objects.create(hostname="yoga.example", site_name="Yoga Studio", root_page=home)
    EmailLayout.objects.create(accent_colour="#00aa00")  # every site
    EmailLayout.objects.create(site=site, accent_colour="#aa0000", footer="Yoga legal line")
    template = api.set_email_template(
        "unlock_link",
        subject="Link for {{ page_title }}",
        text="Open {{ page_title }} on {{ site_name }}: {{ link }}",
        html='<p><a class="button" href="{{ link }}">Open</a> ({{ site_name }})</p>',
        site=site,
    )
    response = template.serve_preview(RequestFactory().get("/"), "")
    response.render()
    page = response.content.decode()
    assert "Open Lesson 1 on Yoga Studio: https://example.com/access/link/abc123/" in page
    html = srcdoc(page)
    assert re.search(r'<a class="button" href="[^"]+" style="[^"]*background: #aa0000', html)
    assert "(Yoga Studio)</p>" in html and ">Yoga Studio</p>" in html  # brand: the site name
    assert "Yoga legal line</div>" in html


def test_the_editors_line_breaks_are_stored_as_lf(admin_client):
    data = {
        "kind": "unlock_code",
        "site": "",
        "language": "",
        "subject": "Code {{ code }}",
        "text": "Hello\r\n\r\n{{ code }}\r\n",
        "html": "<p>\r\n{{ code }}</p>",
    }
    assert admin_client.post(url("add"), data).status_code == 302
    template = EmailTemplate.objects.get()
    assert (template.text, template.html) == ("Hello\n\n{{ code }}", "<p>\n{{ code }}</p>")


# --- the test send: permission first, the user model's email field ---------------------------


def test_send_test_without_permission_is_refused_even_for_a_missing_version(client, mailoutbox):
    from django.contrib.auth.models import Permission

    editor = UserFactory(username="nobody", email="n@example.com")
    editor.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(editor)
    response = client.post(url("send_test", 999999))
    # Wagtail's admin answers PermissionDenied with a redirect home (not a 404 that would tell
    # a missing version from an existing one).
    assert response.status_code == 302 and response["Location"] == reverse("wagtailadmin_home")
    assert mailoutbox == []


def test_send_test_goes_to_the_user_models_email_field(
    admin_client, german_code, mailoutbox, monkeypatch
):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="boss")
    user.first_name = "inbox@example.com"
    user.save()
    monkeypatch.setattr(get_user_model(), "EMAIL_FIELD", "first_name")
    admin_client.post(url("send_test", german_code.pk))
    assert [m.to for m in mailoutbox] == [["inbox@example.com"]]


# --- the layout's From: one mailbox --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Bank <a@b.com>, victim@evil.com",
        "Bank <a@b.com> victim@evil.com",
        "<a@b.com>;x@example.com",
        "Bank",
        "Bank <not-an-address>",
    ],
)
def test_layout_from_must_be_exactly_one_mailbox(value):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        EmailLayout(from_email=value).full_clean()
    assert info.value.message_dict == {
        "from_email": ['Enter one sender address, like "Example School <school@example.com>".']
    }


@pytest.mark.parametrize("value", ['"Bank, Inc." <a@example.com>', "a@example.com", ""])
def test_layout_from_accepts_one_mailbox(value):
    EmailLayout(from_email=value).full_clean()
