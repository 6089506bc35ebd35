"""Editors' versions of the emails: the locked-down syntax (every refused construct with its
exact message), storage through ``api.set_email_template`` / ``reset_email_template`` with
revisions and audit log, the fallback order per site and language, escaping, one-line
subjects, the member's language and the layout's headers."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from wagtail.models import Locale, ModelLogEntry, Site

from tests.factories import UserFactory, make_page
from wagtail_member_access import api, emails, log_actions
from wagtail_member_access.email_kinds import KINDS
from wagtail_member_access.email_templates import default_source
from wagtail_member_access.models import EmailLayout, EmailTemplate, MemberProfile

pytestmark = pytest.mark.django_db

TEXT = "Code {{ code }} for {{ page_title }}."


def code_context(**changes):
    return KINDS["unlock_code"].sample_context() | changes


def set_code(text=TEXT, subject="Code: {{ code }}", **kwargs):
    return api.set_email_template("unlock_code", subject=subject, text=text, **kwargs)


@pytest.fixture
def other_site(home):
    return Site.objects.create(hostname="other.example", port=80, root_page=home)


# --- refused on save, each with its message ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{% load static %}{{ code }}", "The tag {% load %} is not allowed in emails."),
        ('{% include "x.html" %}{{ code }}', "The tag {% include %} is not allowed in emails."),
        ('{% extends "x.html" %}{{ code }}', "The tag {% extends %} is not allowed in emails."),
        (
            "{% autoescape off %}{{ code }}{% endautoescape %}",
            "The tag {% autoescape %} is not allowed in emails.",
        ),
        ("{% debug %}{{ code }}", "The tag {% debug %} is not allowed in emails."),
        ("{{ code|safe }}", "The filter |safe is not allowed in emails."),
        (
            "{{ code }}{% now 'Y' %}",
            "Unknown tag {% now %}. Allowed tags: if, for, comment.",
        ),
        (
            "{{ code|escapejs }}",
            "Unknown filter |escapejs. Allowed filters: capfirst, default, lower, title, "
            "truncatechars, upper.",
        ),
        (
            "{{ code }} {{ user.password }}",
            "Unknown placeholder {{ user }}. This email can use: code, minutes, page_title, "
            "page_url, site_name, email.",
        ),
        (
            "{{ code }}{{ name|default:secret }}",
            "Unknown placeholder {{ name }}. This email can use: code, minutes, page_title, "
            "page_url, site_name, email.",
        ),
        ("{{ code.upper }}", "The placeholder {{ code }} has no parts: write {{ code }}."),
        ("Hello {{ email }}", "The placeholder {{ code }} is required in this email."),
        (
            "{% if code %}{{ code }}",
            "Template syntax error: Unclosed tag on line 1: 'if'. Looking for one of: elif, "
            "else, endif.",
        ),
    ],
)
def test_refused_in_the_text_with_its_message(text, message):
    with pytest.raises(ValidationError) as info:
        set_code(text=text)
    assert info.value.message_dict == {"text": [message]}
    assert not EmailTemplate.objects.exists()


def test_a_subject_of_two_lines_is_refused():
    with pytest.raises(ValidationError) as info:
        set_code(subject="Code\nBcc: x@example.com")
    assert info.value.message_dict == {"subject": ["The subject must be one line."]}


def test_the_html_part_is_checked_too():
    with pytest.raises(ValidationError) as info:
        set_code(html="<p>{{ code|safe }}</p>")
    assert info.value.message_dict == {"html": ["The filter |safe is not allowed in emails."]}


def test_unknown_kind_and_language_are_refused():
    with pytest.raises(ValidationError) as info:
        api.set_email_template("newsletter", subject="x", text="y")
    assert info.value.messages[0].startswith("Unknown email newsletter. Known emails: unlock_code")
    with pytest.raises(ValidationError) as info:
        set_code(language="fr")
    assert info.value.message_dict == {"language": ["Value 'fr' is not a valid choice."]}


def test_refusals_are_translated():
    from django.utils import translation

    with translation.override("de"), pytest.raises(ValidationError) as info:
        set_code(text="{{ code|safe }}")
    assert info.value.message_dict == {"text": ["Der Filter |safe ist in E-Mails nicht erlaubt."]}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("language", ["en", "de"])
def test_every_shipped_default_passes_the_editor_checks(kind, language):
    source = default_source(kind, language)
    template = api.set_email_template(kind, language=language, **source)
    assert template.pk
    assert "{% load" not in source["text"] and "translate" not in source["text"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_required_placeholders_per_kind(kind):
    required = {
        "unlock_code": ("code",),
        "unlock_link": ("link",),
        "unlock_code_or_link": ("code", "link"),
        "sign_in": ("code", "link"),
        "access_ready": (),
        "invitation": ("link",),
        "password_reset": ("link",),
        "password_changed": ("reset_url",),
        "sign_in_link": ("link",),
        "expiry_reminder": ("expires",),
        "lesson_opened": ("page_url",),
        "email_change_code": ("code",),
        "email_changed": ("new_email",),
        "account_delete_code": ("code",),
        "account_deleted": (),
        "password_removed": (),
        "signed_out_everywhere": (),
    }
    assert KINDS[kind].required == required[kind]
    assert set(KINDS[kind].placeholders) == set(emails.KINDS[kind])
    for placeholder in KINDS[kind].placeholders.values():
        assert str(placeholder.description)


# --- rendering --------------------------------------------------------------------------------


def test_an_edited_email_is_sent_in_the_site_layout(mailoutbox, home):
    set_code(text="Your code: {{ code }}\n\nSee https://example.com/help/")
    emails.send_email("unlock_code", "ana@example.com", code_context(code="123456"))
    message = mailoutbox[0]
    assert message.subject == "Code: 123456"
    assert message.body == "Your code: 123456\n\nSee https://example.com/help/"
    html = message.alternatives[0][0]
    assert "<p>Your code: 123456</p>" in html
    assert '<p>See <a href="https://example.com/help/">https://example.com/help/</a></p>' in html
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"


def test_values_are_escaped_in_html_and_kept_in_text(mailoutbox):
    set_code(html="<p>{{ page_title }}: {{ code }}</p>")
    title = '<img src=x onerror="alert(1)"> & co'
    emails.send_email("unlock_code", "ana@example.com", code_context(page_title=title))
    message = mailoutbox[0]
    assert f"for {title}." in message.body
    html = message.alternatives[0][0]
    # Escaped by the engine; the CSS inliner re-serialises the text (quotes need no escaping
    # outside attributes), so no tag can appear.
    assert '<p>&lt;img src=x onerror="alert(1)"&gt; &amp; co: 048213</p>' in html
    assert "<img src=x" not in html


def test_a_value_with_a_newline_cannot_break_the_subject(mailoutbox):
    set_code(subject="{{ page_title }} {{ code }}")
    emails.send_email("unlock_code", "ana@example.com", code_context(page_title="A\nBcc: x@y.z"))
    assert mailoutbox[0].subject == "A Bcc: x@y.z 048213"


def test_fallback_order_per_site_and_language(home, other_site):
    default = Site.objects.get(is_default_site=True)

    def subject(site, language):
        return emails.render_email(
            "unlock_code", code_context(), site=site, language=language
        ).subject

    assert subject(default, "de-at") == "Ihr Code für Lesson 1: 048213"  # shipped, base language
    set_code(subject="all/all {{ code }}")
    assert subject(default, "de-at") == "all/all 048213"
    set_code(subject="site/all {{ code }}", site=default)
    assert subject(default, "de-at") == "site/all 048213"
    assert subject(other_site, "de-at") == "all/all 048213"
    set_code(subject="all/de {{ code }}", language="de")
    assert subject(default, "de-at") == "all/de 048213"
    set_code(subject="site/de {{ code }}", site=default, language="de")
    assert subject(default, "de-at") == "site/de 048213"
    assert subject(other_site, "de-at") == "all/de 048213"
    assert subject(default, "en") == "site/all 048213"


def test_reset_goes_back_to_the_shipped_default_and_is_logged(home):
    editor = UserFactory(username="ed")
    template = set_code(language="de", user=editor)
    assert api.reset_email_template("unlock_code", language="de", user=editor) is True
    assert api.reset_email_template("unlock_code", language="de") is False
    assert not EmailTemplate.objects.exists()
    rendered = emails.render_email("unlock_code", code_context(), language="de")
    assert rendered.subject == "Ihr Code für Lesson 1: 048213"
    actions = list(
        ModelLogEntry.objects.filter(object_id=str(template.pk))
        .order_by("timestamp", "pk")
        .values_list("action", "user__username")
    )
    assert actions == [("wagtail.create", "ed"), (log_actions.EMAIL_RESET, "ed")]


def test_every_save_keeps_a_revision_to_compare_and_revert_to():
    set_code(subject="First {{ code }}")
    template = set_code(subject="Second {{ code }}")
    revisions = list(template.revisions.order_by("created_at", "pk"))
    assert [r.as_object().subject for r in revisions] == ["First {{ code }}", "Second {{ code }}"]
    assert EmailTemplate.objects.count() == 1


# --- language and sender --------------------------------------------------------------------


def test_the_members_stored_language_wins(mailoutbox, home):
    member = UserFactory(username="m", email="ana@example.com")
    MemberProfile.objects.create(user=member, language="de")
    emails.deliver("unlock_code", "ana@example.com", code_context(), language="en")
    assert mailoutbox[0].subject == "Ihr Code für Lesson 1: 048213"


def test_the_request_language_without_a_stored_one(mailoutbox, home):
    emails.deliver("unlock_code", "new@example.com", code_context(), language="de-DE")
    assert mailoutbox[0].subject == "Ihr Code für Lesson 1: 048213"
    emails.deliver("unlock_code", "new@example.com", code_context(), language="fr")
    assert mailoutbox[1].subject == "Your code for Lesson 1: 048213"


@pytest.fixture
def i18n(settings):
    settings.WAGTAIL_I18N_ENABLED = True
    settings.WAGTAIL_CONTENT_LANGUAGES = [("en", "English"), ("de", "Deutsch")]


def test_the_pages_locale_sets_the_language_with_wagtail_i18n(
    client, i18n, home, course, buyer, mailoutbox
):
    # A German tree beside the English one (Wagtail i18n): a visitor whose request is in
    # English asks for a code on the German lesson and gets the German email.
    german_home = home.copy_for_translation(Locale.objects.create(language_code="de"))
    german = make_page(german_home, title="Lektion 1", slug="lektion-1", locale=german_home.locale)
    english = make_page(home, title="Lesson 1", slug="lesson-1")
    for page in (german, english):
        api.protect(page, mode="code", access_lists=[course])
    assert (german.locale.language_code, english.locale.language_code) == ("de", "en")
    with translation.override("en"):
        client.post(
            reverse("wagtail_member_access:request_code", args=[german.pk]), {"email": buyer.email}
        )
        client.post(
            reverse("wagtail_member_access:request_code", args=[english.pk]), {"email": buyer.email}
        )
    assert [m.subject[: m.subject.index(":")] for m in mailoutbox] == [
        "Ihr Code für Lektion 1",
        "Your code for Lesson 1",
    ]


def test_the_members_stored_language_wins_over_the_pages_locale(i18n, home, mailoutbox):
    german_home = home.copy_for_translation(Locale.objects.create(language_code="de"))
    member = UserFactory(username="m", email="ana@example.com")
    MemberProfile.objects.create(user=member, language="en")
    assert emails.email_language("ana@example.com", page=german_home, language="de") == "en"
    assert emails.email_language("new@example.com", page=german_home, language="en") == "de"


def test_without_wagtail_i18n_the_pages_locale_is_not_used(settings, home):
    settings.WAGTAIL_I18N_ENABLED = False
    settings.WAGTAIL_CONTENT_LANGUAGES = [("en", "English"), ("de", "Deutsch")]
    german_home = home.copy_for_translation(Locale.objects.create(language_code="de"))
    assert emails.email_language("new@example.com", page=german_home, language="en") == "en"


def test_sign_in_stores_the_language(client, protected_page, buyer, mailoutbox):
    from django.urls import reverse
    from django.utils import translation

    from tests.conftest import code_from

    with translation.override("de"):
        client.post(
            reverse("wagtail_member_access:request_code", args=[protected_page.pk]),
            {"email": buyer.email},
        )
        response = client.post(
            reverse("wagtail_member_access:verify_code", args=[protected_page.pk]),
            {"code": code_from(mailoutbox[0])},
        )
    assert response.status_code == 303
    assert MemberProfile.objects.get(user__email=buyer.email).language == "de"


def test_the_site_layout_sets_sender_reply_to_and_look(mailoutbox, home):
    EmailLayout.objects.create(
        from_email="School <school@example.com>",
        reply_to="help@example.com",
        accent_colour="#aa0000",
        footer="Example School, Main St 1\n<b>Legal</b>",
    )
    emails.send_email("unlock_link", "ana@example.com", KINDS["unlock_link"].sample_context())
    message = mailoutbox[0]
    assert message.from_email == "School <school@example.com>"
    assert message.reply_to == ["help@example.com"]
    html = message.alternatives[0][0]
    assert "background: #aa0000" in html  # inlined on the button
    assert "Example School, Main St 1\n&lt;b&gt;Legal&lt;/b&gt;" in html
    assert "<style" not in html
