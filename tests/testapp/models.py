from django.db import models
from wagtail.api import APIField
from wagtail.models import Page
from wagtail.search import index


class SimplePage(Page):
    body = models.TextField(blank=True)

    # The body is searchable and in the API, as in most sites: protected bodies must stay out.
    search_fields = [*Page.search_fields, index.SearchField("body")]
    api_fields = [APIField("body")]


class DocumentPage(Page):
    """A page that links to a document (for the linked-documents warning)."""

    body = models.TextField(blank=True)
    attachment = models.ForeignKey(
        "wagtaildocs.Document", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
