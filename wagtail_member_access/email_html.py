"""The HTML part of an email: the site's layout around the body, CSS inlined for mail clients.

The frame is a shipped template (``wagtail_member_access/emails/layout.html``, trusted, a
project may override it); what an editor sets per site (name, logo, colours, footer) reaches it
as plain strings and is escaped (docs/security.md#email-escaping). A body without HTML is
built from the text part, escaped, with its links made clickable.
"""

from __future__ import annotations

from dataclasses import dataclass

import css_inline
from django.template.loader import render_to_string
from django.utils.html import linebreaks, urlize
from django.utils.safestring import mark_safe

__all__ = ["DEFAULT_STYLE", "RenderedEmail", "frame", "text_to_html"]


@dataclass(frozen=True)
class RenderedEmail:
    """One email ready to send: a one-line subject, the text part and the HTML part."""

    subject: str
    text: str
    html: str

    def as_dict(self) -> dict:
        return {"subject": self.subject, "text": self.text, "html": self.html}


#: The look of the shipped layout when no layout is set for the site.
DEFAULT_STYLE = {
    "brand_name": "",
    "logo_url": "",
    "accent_colour": "#0b57d0",
    "text_colour": "#1d1d1f",
    "background_colour": "#f4f4f6",
    "footer": "",
}

_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def text_to_html(text: str) -> str:
    """The text part as HTML: every character escaped, paragraphs kept, links clickable."""
    return linebreaks(urlize(text.strip(), autoescape=True), autoescape=False)


def frame(body_html: str, *, subject: str, style: dict) -> str:
    """``body_html`` (already rendered and escaped) inside the layout, CSS inlined."""
    context = {**DEFAULT_STYLE, **{k: v for k, v in style.items() if v}}
    context["subject"] = subject
    context["body"] = mark_safe(body_html)  # noqa: S308 - rendered by the escaping engine
    html = render_to_string("wagtail_member_access/emails/layout.html", context)
    return _INLINER.inline(html)
