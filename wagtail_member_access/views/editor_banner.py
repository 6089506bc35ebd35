"""The banner an editor sees on a member-protected page they may edit.

Editors who may edit a page may view it without unlocking it (``access.decide``: the decision
says ``by_editor``). So that they do not mistake the page for a public one, the served HTML
gets a small banner after its ``<body>`` tag saying how the page is protected, with a link to
its "Member access" view (docs/editor-guide.md#editors-see-the-page). Only those responses get
it, and they are private and never cached (``responses.private``), so the banner reaches
nobody else. Preview in the admin does not pass through the serve hook: it always shows the
page as it is. The banner is for the editor, so it speaks their admin language (Wagtail's
preferred language in their account settings) as the admin and Wagtail's userbar do, whatever
language the page itself is served in.
"""

from __future__ import annotations

import re

from django.template.loader import render_to_string
from django.utils import translation
from wagtail.users.models import UserProfile

from .. import access

__all__ = ["with_banner"]

TEMPLATE = "wagtail_member_access/editor_banner.html"
_BODY = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)


def _insert(request, page, response):
    content_type = response.get("Content-Type", "")
    if response.streaming or not content_type.startswith("text/html"):
        return response
    match = _BODY.search(response.content)
    if match is None:
        return response
    restrictions = access.path_restrictions(page).on_path
    # Only an editor gets here (``access.decide`` said ``by_editor``): signed in.
    with translation.override(UserProfile.get_for_user(request.user).get_preferred_language()):
        banner = render_to_string(
            TEMPLATE, {"page": page, "restrictions": restrictions}, request=request
        ).encode(response.charset)
    end = match.end()
    response.content = response.content[:end] + banner + response.content[end:]
    return response


def with_banner(request, page, response):
    """``response`` (the served page) with the banner in it, once rendered."""
    if hasattr(response, "add_post_render_callback") and not response.is_rendered:
        response.add_post_render_callback(lambda rendered: _insert(request, page, rendered))
        return response
    return _insert(request, page, response)
