"""German wording of the admin (demo walkthrough): our "Site" label, read in another app's
catalogue as "Seite", has a message context and reads "Website"; unlimited access is
"unbefristet" everywhere, in the admin as on a member's My access."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from wagtail.users.models import UserProfile

from wagtail_member_access.admin.forms import AccessListForm
from wagtail_member_access.models import AccessList

pytestmark = pytest.mark.django_db


@pytest.fixture
def german_editor_client(editor_client, editor):
    profile = UserProfile.get_for_user(editor)
    profile.preferred_language = "de"
    profile.save()
    return editor_client


def test_the_access_lists_site_column_reads_website_in_german(german_editor_client, course):
    html = german_editor_client.get(reverse("wagtail_member_access_lists:index")).content
    html = html.decode()
    assert ">Website<" in " ".join(html.split()).replace("> ", ">").replace(" <", "<")
    assert ">Seite<" not in html


def test_a_wagtail_site_is_labelled_website_in_german(db):
    with translation.override("de"):
        assert AccessListForm()["site"].label == "Website"
        assert str(AccessList._meta.get_field("site").verbose_name) == "Website"


def test_unlimited_access_is_unbefristet_in_german():
    with translation.override("de"):
        assert gettext("unlimited") == "unbefristet"
        assert gettext("Unlimited") == "Unbefristet"
        entries = [{"list_name": "Yoga", "when": "", "pages": []}]
        html = render_to_string("wagtail_member_access/_access_entries.html", {"entries": entries})
    assert "(unbefristet)" in html
    assert "unbegrenzt" not in html


def test_the_grants_listing_add_button_is_short_in_german(german_editor_client, course):
    """Wagtail's "Add %(model_name)s" reads "Zugangsberechtigung hinzufügen" and squeezed the
    listing's title beside "CSV importieren"; the button says "Zugang hinzufügen"."""
    html = german_editor_client.get(reverse("wagtail_member_access_grants:index")).content
    html = " ".join(html.decode().split())
    assert "Zugang hinzufügen" in html and "CSV importieren" in html
    assert "Zugangsberechtigung hinzufügen" not in html
