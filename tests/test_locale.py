"""The German catalogue: what visitors see in German, and that the shipped files are sound.

The first users write German (CONVENTIONS 7), so the unlock page, its errors, the 429 page and
the emails are checked end to end with German active. tests/settings.py has no
LocaleMiddleware, so the language is switched with ``translation.override`` around the client
calls (the test client runs the view in this thread). The catalogue checks need no gettext
tools: the .po is parsed here and compared with what Python's ``gettext`` reads from the .mo.
"""

from __future__ import annotations

import gettext
import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import django
import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.conftest import code_from
from wagtail_member_access import moments
from wagtail_member_access.emails import KINDS, render_email
from wagtail_member_access.forms import CodeForm, EmailForm

# Rendering looks up the editors' versions of each email in the database.
pytestmark = pytest.mark.django_db

PACKAGE = Path(__file__).resolve().parent.parent / "wagtail_member_access"
LOCALE = PACKAGE / "locale"
PO = LOCALE / "de" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "de" / "LC_MESSAGES" / "django.mo"

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


# --- a small .po reader --------------------------------------------------------------------


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], text[1:-1])


def read_po(path: Path) -> list[dict]:
    """Each entry as a dict: ``msgid``, ``msgid_plural``, ``msgctxt``, ``msgstr`` or
    ``msgstr[N]``, and ``flags`` (a set). Obsolete ``#~`` entries are left out, as msgfmt
    leaves them out of the .mo."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"flags": set()}
        field = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                field = None
            elif match := re.match(
                r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$', line
            ):
                field = match.group(1)
                entry[field] = _unquote(match.group(2))
            elif line.startswith('"') and field:
                entry[field] += _unquote(line)
        if "msgid" in entry:
            entries.append(entry)
    return entries


def _translations(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


def _catalog_from_po(entries: list[dict]) -> dict:
    """The catalogue as ``gettext.GNUTranslations._catalog`` holds it."""
    catalog = {}
    for entry in entries:
        if not entry["msgid"]:
            continue  # the header
        key = entry["msgid"]
        if "msgctxt" in entry:
            key = f"{entry['msgctxt']}\x04{key}"
        if "msgid_plural" in entry:
            for name, value in entry.items():
                if name.startswith("msgstr["):
                    catalog[(key, int(name[7:-1]))] = value
        else:
            catalog[key] = entry["msgstr"]
    return catalog


# --- the catalogue files -------------------------------------------------------------------


def test_po_header_declares_german_and_its_plural_rule():
    header = next(entry for entry in read_po(PO) if entry["msgid"] == "")
    assert "fuzzy" not in header["flags"]
    assert "Language: de\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header["msgstr"]
    assert "Content-Type: text/plain; charset=UTF-8\n" in header["msgstr"]


def test_every_entry_is_translated_and_none_is_fuzzy():
    entries = [entry for entry in read_po(PO) if entry["msgid"]]
    assert len(entries) > 90
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    assert [e["msgid"] for e in entries if not all(_translations(e))] == []


def test_translations_keep_every_placeholder():
    # A missing or misspelt %(name)s raises KeyError, or drops the value, at render time.
    mismatched = []
    for entry in read_po(PO):
        if not entry["msgid"]:
            continue
        expected = set(PLACEHOLDER.findall(entry["msgid"] + entry.get("msgid_plural", "")))
        for value in _translations(entry):
            if set(PLACEHOLDER.findall(value)) != expected:
                mismatched.append(entry["msgid"])
    assert mismatched == []


def test_mo_is_compiled_from_the_current_po():
    # Dependency-free "is the .mo up to date": what Python's gettext reads from the .mo must be
    # exactly the .po's entries (no missing, stale or changed one). Refresh with
    # `django-admin compilemessages -l de` from wagtail_member_access/.
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    from_mo = {key: value for key, value in compiled._catalog.items() if key != ""}
    assert from_mo == _catalog_from_po(read_po(PO))
    assert (compiled.plural(1), compiled.plural(2)) == (0, 1)  # the header's plural rule
    assert compiled._catalog[("(possible again in %(seconds)s second)", 1)] == (
        "(in %(seconds)s Sekunden wieder möglich)"
    )


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (xgettext)")
def test_catalogue_covers_every_string_in_the_source(tmp_path, monkeypatch):
    # makemessages on a copy of the package: any msgid it finds that the shipped .po lacks
    # means someone added a string without translating it.
    copy = tmp_path / "wagtail_member_access"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["de"], extensions=["html", "txt", "py"], verbosity=0)
    fresh = read_po(copy / "locale" / "de" / "LC_MESSAGES" / "django.po")
    shipped = {(e.get("msgctxt"), e["msgid"]) for e in read_po(PO)}
    assert sorted(e["msgid"] for e in fresh if (e.get("msgctxt"), e["msgid"]) not in shipped) == []


# --- what a German visitor sees ------------------------------------------------------------


def request_url(page):
    return reverse("wagtail_member_access:request_code", args=[page.pk])


def verify_url(page):
    return reverse("wagtail_member_access:verify_code", args=[page.pk])


@pytest.mark.django_db
def test_unlock_page_in_german(client, protected_page):
    with translation.override("de"):
        response = client.get(protected_page.url)
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="de">' in html
    assert '<h1 id="wma-heading">Members lesson</h1>' in html
    assert (
        "Diese Seite ist für Personen auf der zugehörigen Zugriffsliste. Geben Sie Ihre "
        "E-Mail-Adresse ein, dann senden wir Ihnen einen Code zum Freischalten." in html
    )
    assert ">E-Mail-Adresse</label>" in html
    assert '<button type="submit">Code anfordern</button>' in html
    assert "Send me a code" not in html


@pytest.mark.django_db
def test_invalid_email_error_in_german(client, protected_page):
    with translation.override("de"):
        response = client.post(request_url(protected_page), {"email": "not an address"})
    assert response.status_code == 200
    assert (
        '<p class="wma-error" id="wma-email-error">'
        "Bitte geben Sie eine gültige E-Mail-Adresse ein.</p>" in response.content.decode()
    )


@pytest.mark.django_db
def test_code_step_and_its_errors_in_german(client, protected_page, buyer, mailoutbox, clock):
    with translation.override("de"):
        client.post(request_url(protected_page), {"email": "ana@example.com"})
        # The challenge remembers the visitor's language, so the email is German too.
        assert len(mailoutbox) == 1
        assert mailoutbox[0].subject == f"Ihr Code für Members lesson: {code_from(mailoutbox[0])}"
        page = client.get(protected_page.url).content.decode()
        short = client.post(verify_url(protected_page), {"code": "12"}).content.decode()
        wrong_code = "000000" if code_from(mailoutbox[0]) != "000000" else "111111"
        wrong = client.post(verify_url(protected_page), {"code": wrong_code}).content.decode()

    assert (
        "Falls <strong>ana@example.com</strong> Zugang hat, haben wir an diese Adresse eine "
        "E-Mail mit einem Code gesendet. Der Code ist 10 Minuten lang gültig." in page
    )
    assert ">Code aus der E-Mail</label>" in page
    assert '<button type="submit">Weiter</button>' in page
    assert "Keine E-Mail erhalten? Bitte sehen Sie in Ihrem Spam-Ordner nach." in page
    assert ">Neuen Code senden</button>" in page
    assert '">(in 60 Sekunden wieder möglich)</span>' in page
    assert ">Andere E-Mail-Adresse verwenden</button>" in page
    assert (
        '<p class="wma-error" id="wma-code-error">'
        "Bitte geben Sie den 6-stelligen Code aus der E-Mail ein.</p>" in short
    )
    assert (
        '<p class="wma-error" role="alert" id="wma-error">'
        "Dieser Code stimmte nicht. Sie können es in 1 Sekunde erneut versuchen.</p>" in wrong
    )


def test_resend_wait_uses_the_singular_for_one_second():
    with translation.override("de"):
        assert (
            translation.ngettext(
                "(possible again in %(seconds)s second)",
                "(possible again in %(seconds)s seconds)",
                1,
            )
            % {"seconds": 1}
            == "(in 1 Sekunde wieder möglich)"
        )


def test_form_errors_in_german():
    with translation.override("de"):
        email_form = EmailForm({"email": "nope"})
        code_form = CodeForm({"code": "12a"})
        assert email_form.errors["email"] == ["Bitte geben Sie eine gültige E-Mail-Adresse ein."]
        assert code_form.errors["code"] == [
            "Bitte geben Sie den 6-stelligen Code aus der E-Mail ein."
        ]


@pytest.mark.django_db
def test_rate_limited_page_in_german(settings, protected_page):
    settings.WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "1/h"
    client = Client()
    with translation.override("de"):
        first = client.post(request_url(protected_page), {"email": "a@example.com"})
        second = client.post(request_url(protected_page), {"email": "b@example.com"})
    assert (first.status_code, second.status_code) == (303, 429)
    html = second.content.decode()
    assert "<title>Zu viele Anfragen</title>" in html
    assert "<h1>Zu viele Anfragen</h1>" in html
    assert re.search(
        r'<p role="alert">Sie haben in kurzer Zeit zu viele Anfragen gestellt\. Bitte versuchen '
        r"Sie es in \d+ (Minuten?|Sekunden?) erneut\.</p>",
        html,
    )
    assert ">Zurück</a>" in html


# --- emails --------------------------------------------------------------------------------

CODE_CONTEXT = {
    "code": "123456",
    "minutes": 10,
    "page_title": "Lektion 1",
    "page_url": "https://example.com/lektion-1/",
    "site_name": "Kursseite",
    "email": "ana@example.com",
}


def test_code_email_in_german():
    email = render_email("unlock_code", CODE_CONTEXT, language="de")
    assert email.subject == "Ihr Code für Lektion 1: 123456"
    assert email.text.startswith(
        "Hallo,\n\n"
        "Ihr Code zum Freischalten von „Lektion 1“ auf Kursseite lautet:\n\n"
        "    123456\n\n"
        "Geben Sie ihn auf der Seite ein, auf der Sie ihn angefordert haben. "
        "Er ist 10 Minuten lang gültig und funktioniert nur einmal.\n"
    )
    assert (
        "Wenn Sie diesen Code nicht angefordert haben, können Sie diese E-Mail einfach "
        "ignorieren: Ohne den Code kann niemand „Lektion 1“ öffnen." in email.text
    )
    assert '<html lang="de">' in email.html  # for screen readers and spam filters
    assert "<p>Hallo,</p>" in email.html
    assert "<p>Ihr Code zum Freischalten von „Lektion 1“ auf Kursseite lautet:</p>" in email.html
    assert "Hello" not in email.text + email.html


def test_code_email_language_does_not_leak():
    # render_email switches language only for the email it renders.
    with translation.override("en"):
        render_email("unlock_code", CODE_CONTEXT, language="de")
        english = render_email("unlock_code", CODE_CONTEXT)
    assert english.subject == "Your code for Lektion 1: 123456"


def test_access_ready_email_in_german():
    email = render_email(
        "access_ready",
        {
            "name": "Ana",
            "email": "ana@example.com",
            "list_name": "Kurs A",
            "pages": [{"title": "Lektion 1", "url": "https://example.com/lektion-1/"}],
            "site_name": "Kursseite",
            # Access "until 31 December 2026" ends when 1 January 2027 begins.
            "expires": moments.until_lazy(
                datetime(2027, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")), ZoneInfo("Europe/Berlin")
            ),
            "link_hours": 72,
        },
        language="de",
    )
    assert email.subject == "Ihr Zugang zu Kurs A ist bereit"
    assert email.text.startswith(
        "Hallo Ana,\n\n"
        "Sie haben jetzt Zugang zu Kurs A auf Kursseite. Ihr Zugang gilt bis zum Ende des "
        "31. Dezember 2026 (Europe/Berlin).\n"
    )
    assert (
        "Jeder Link meldet Sie innerhalb von 72 Stunden einmal an. Später öffnen Sie einfach die "
        "Seite und geben ana@example.com ein: Wir senden Ihnen dann einen Code oder einen Link "
        "per E-Mail. Ein Passwort brauchen Sie nicht." in email.text
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_email_kind_greets_in_german(kind):
    # Catches a template string that was added but not translated (or not marked).
    context = {name: f"<{name}>" for name in KINDS[kind]} | {"name": "", "pages": []}
    context = {key: value for key, value in context.items() if key in KINDS[kind]}
    german = render_email(kind, context, language="de")
    english = render_email(kind, context, language="en")
    assert german.subject != english.subject
    assert german.text.startswith("Hallo")
    for line in english.text.splitlines():
        # Every English sentence (not a bare placeholder value) changes in German.
        if len(line.split()) > 2:
            assert line not in german.text


# --- messages other apps translate too ---------------------------------------------------------

#: Our messages that Django's or an installed app's German catalogue also translates, a little
#: differently, where either reads well. A site usually lists this app after Wagtail and
#: Django's apps in INSTALLED_APPS, and Django then shows the earlier app's translation. A
#: message whose other German would mislead gets a message context instead (``pgettext``,
#: ``{% translate ... context ... %}``): "To" read "Nach" (a redirect's target), "Password
#: reset" "Passwort zurückgesetzt", the email kind "email" "E-Mail-Adresse".
SHARED_AND_FINE = {
    "Created",
    "Email",
    "Enter a valid email address.",
    "From",
    "Go back",
    "Import",
    "Never",
    "Password reset sent",
    "Save",
    "Status: ",
    "created at",
    "required",
    "session key",
    "slug",
}


def _german_catalogue(path: Path) -> dict:
    with path.open("rb") as file:
        return gettext.GNUTranslations(file)._catalog


def _other_catalogues():
    roots = [Path(django.__file__).parent / "conf"]
    roots += [
        Path(app.path) for app in apps.get_app_configs() if app.name != "wagtail_member_access"
    ]
    for root in roots:
        path = root / "locale" / "de" / "LC_MESSAGES" / "django.mo"
        if path.exists():
            yield root, _german_catalogue(path)


def test_no_message_reads_differently_in_another_apps_german():
    ours = _german_catalogue(MO)
    differing = {}
    for root, theirs in _other_catalogues():
        for key, text in ours.items():
            if key and key in theirs and theirs[key] != text:
                msgid = key if isinstance(key, str) else key[0]
                differing.setdefault(msgid, []).append(f"{root.name}: {theirs[key]!r}")
    assert {
        msgid: where for msgid, where in differing.items() if msgid not in SHARED_AND_FINE
    } == {}


def test_the_misleading_shared_messages_have_a_context():
    with translation.override("de"):
        assert translation.pgettext("email header", "To") == "An"
        assert translation.pgettext("kind of email", "Password reset") == "Passwort zurücksetzen"
        assert translation.pgettext("kind of email", "email") == "E-Mail"
        assert translation.pgettext("no access lists or groups", "None") == "Keine"
