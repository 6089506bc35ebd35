"""A browser named in words from its User-Agent header (``user_agents.py``), with the headers
current browsers send."""

from __future__ import annotations

import pytest
from django.utils import translation

from wagtail_member_access.user_agents import browser_name, parse

WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
IOS = "AppleWebKit/605.1.15 (KHTML, like Gecko)"

HEADERS = [
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} Chrome/131.0.0.0 Safari/537.36",
        "Chrome on Windows",
    ),
    (
        f"Mozilla/5.0 (X11; Linux x86_64) {WEBKIT} Chrome/131.0.0.0 Safari/537.36",
        "Chrome on Linux",
    ),
    (
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {WEBKIT} Chrome/131.0.0.0 Safari/537.36",
        "Chrome on Mac",
    ),
    (
        f"Mozilla/5.0 (Linux; Android 10; K) {WEBKIT} Chrome/131.0.0.0 Mobile Safari/537.36",
        "Chrome on Android",
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {IOS} CriOS/131.0.6778.73 "
        "Mobile/15E148 Safari/604.1",
        "Chrome on iPhone",
    ),
    (
        f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {WEBKIT} Chrome/131.0.0.0 Safari/537.36",
        "Chrome on ChromeOS",
    ),
    (
        f"Mozilla/5.0 (X11; Linux x86_64) {WEBKIT} Chromium/131.0.0.0 Chrome/131.0.0.0 "
        "Safari/537.36",
        "Chromium on Linux",
    ),
    (
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {IOS} Version/18.1 Safari/605.1.15",
        "Safari on Mac",
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {IOS} Version/18.1 "
        "Mobile/15E148 Safari/604.1",
        "Safari on iPhone",
    ),
    (
        f"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) {IOS} Version/18.1 Mobile/15E148 "
        "Safari/604.1",
        "Safari on iPad",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox on Windows",
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox on Linux",
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
        "Firefox on Android",
    ),
    (
        f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) {IOS} FxiOS/133.0 "
        "Mobile/15E148 Safari/605.1.15",
        "Firefox on iPhone",
    ),
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} Chrome/131.0.0.0 Safari/537.36 "
        "Edg/131.0.0.0",
        "Edge on Windows",
    ),
    (
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {WEBKIT} Chrome/131.0.0.0 Safari/537.36 "
        "OPR/116.0.0.0",
        "Opera on Windows",
    ),
    (
        f"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) {WEBKIT} SamsungBrowser/27.0 "
        "Chrome/125.0.0.0 Mobile Safari/537.36",
        "Samsung Internet on Android",
    ),
    # Android's old stock browser names Safari but is not Safari.
    (
        "Mozilla/5.0 (Linux; U; Android 4.0.3; de-de; GT-I9100 Build/IML74K) "
        "AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
        "Unknown browser on Android",
    ),
    ("", "Unknown browser"),
    ("curl/8.5.0", "Unknown browser"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Unknown browser"),
    ("Firefox/133.0", "Firefox"),
]


@pytest.mark.parametrize(("header", "name"), HEADERS)
def test_browser_name(header, name):
    assert browser_name(header) == name


def test_parse_leaves_out_what_it_does_not_know():
    assert parse("curl/8.5.0") == ("", "")
    assert parse(None) == ("", "")
    assert parse("Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0") == (
        "Firefox",
        "Linux",
    )


def test_only_the_words_around_the_names_are_translated():
    with translation.override("de"):
        chrome = browser_name(HEADERS[0][0])
        unknown = browser_name("Mozilla/5.0 (X11; Linux x86_64)")
        assert browser_name("curl/8.5.0") == "Unbekannter Browser"
    assert chrome.startswith("Chrome ") and chrome.endswith(" Windows")
    assert unknown.startswith("Unbekannter Browser ") and unknown.endswith(" Linux")
