"""A browser named in words from its User-Agent header ("Firefox on Windows"), for the signed-in
browsers on "My access" (docs/member-accounts.md#sign-out-everywhere). For showing only:
nothing is decided on it, since any client can send any header."""

from __future__ import annotations

from django.utils.translation import gettext as _

__all__ = ["browser_name", "parse"]

# The first entry with a token in the header wins, so the order matters: Edge, Opera and
# Samsung Internet name Chrome too, Chromium's builds may, and every browser built on
# WebKit or Blink names Safari (hence Safari only on Apple's systems, below). On iOS,
# Chrome says "CriOS" and Firefox "FxiOS".
_BROWSERS = (
    ("Edge", ("Edg/", "EdgA/", "EdgiOS/", "Edge/")),
    ("Opera", ("OPR/", "OPiOS/", "OPT/", "Opera")),
    ("Samsung Internet", ("SamsungBrowser/",)),
    ("Firefox", ("Firefox/", "FxiOS/")),
    ("Chromium", ("Chromium/",)),
    ("Chrome", ("Chrome/", "CriOS/")),
    ("Internet Explorer", ("MSIE ", "Trident/")),
)

# iPhones and iPads say "like Mac OS X", Android says "Linux". An iPad that asks for desktop
# websites (Safari's default since iPadOS 13) sends a Mac's header: it is named a Mac.
_SYSTEMS = (
    ("iPad", ("iPad",)),
    ("iPhone", ("iPhone",)),
    ("iPod", ("iPod",)),
    ("Android", ("Android",)),
    ("ChromeOS", ("CrOS",)),
    ("Windows", ("Windows",)),
    ("Mac", ("Macintosh", "Mac OS X")),
    ("Linux", ("Linux",)),
)

_APPLE = frozenset({"iPad", "iPhone", "iPod", "Mac"})


def _first(user_agent: str, names) -> str:
    for name, tokens in names:
        if any(token in user_agent for token in tokens):
            return name
    return ""


def parse(user_agent: str) -> tuple[str, str]:
    """The browser and the system a User-Agent header names, e.g. ``("Chrome", "Android")``;
    ``""`` for either one not recognised (an empty header, curl, a bot, a rare browser)."""
    user_agent = user_agent or ""
    system = _first(user_agent, _SYSTEMS)
    browser = _first(user_agent, _BROWSERS)
    if not browser and system in _APPLE and "Safari/" in user_agent:
        browser = "Safari"
    return browser, system


def browser_name(user_agent: str) -> str:
    """The browser in words: "Chrome on Linux", "Safari on iPhone"; "Firefox" without a
    recognised system, "Unknown browser on Linux" without a recognised browser, and "Unknown
    browser" when neither is recognised. Never the header itself. Browsers' and systems' names
    are not translated, the words around them are."""
    browser, system = parse(user_agent)
    browser = browser or _("Unknown browser")
    if not system:
        return browser
    # Translators: a browser on an operating system or device, e.g. "Firefox on Windows",
    # "Safari on iPhone"; both names stay untranslated.
    return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
