from django.db import models
from wagtail.models import Page


class SimplePage(Page):
    body = models.TextField(blank=True)


class DocumentPage(Page):
    """A page that links to a document (for the linked-documents warning)."""

    body = models.TextField(blank=True)
    attachment = models.ForeignKey(
        "wagtaildocs.Document", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
