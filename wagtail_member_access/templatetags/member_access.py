"""Template tags for a site's own listings (a blog index, a home page's latest posts)::

    {% load member_access %}
    {% visible_pages page.get_children.live.specific as pages %}
    {% for child in pages %}…{% endfor %}

Wagtail leaves privacy to the site in its own queries: without this, a listing shows the
titles and intros of protected pages (docs/protected-channels.md#site-listings).
"""

from __future__ import annotations

import swapper
from django import template
from django.db.models import QuerySet

from .. import api

__all__ = ["visible_pages"]

register = template.Library()


@register.simple_tag(takes_context=True)
def visible_pages(context, pages):
    """``pages`` (a queryset or a list of pages) without those the current request may not
    see, by member access and Wagtail's privacy alike (:func:`api.visible_pages`). A list
    keeps its order. No request in the context: nothing is visible."""
    request = context.get("request")
    if request is None:
        return pages.none() if isinstance(pages, QuerySet) else []
    if isinstance(pages, QuerySet):
        return api.visible_pages(request, pages)
    pages = list(pages)
    Page = swapper.load_model("wagtailcore", "Page")
    ids = {page.pk for page in pages}
    allowed = set(
        api.visible_pages(request, Page.objects.filter(pk__in=ids)).values_list("pk", flat=True)
    )
    return [page for page in pages if page.pk in allowed]
