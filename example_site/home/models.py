"""The example site's two page types: a home page and a plain content page (title + body).
Member access is not part of the models: any page can be protected in its "Member access"
settings or with ``wagtail_member_access.api.protect``."""

from __future__ import annotations

from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page


class HomePage(Page):
    body = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("body")]
    subpage_types = ["home.ContentPage"]
    max_count = 1


class ContentPage(Page):
    body = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("body")]
    parent_page_types = ["home.HomePage", "home.ContentPage"]
    subpage_types = ["home.ContentPage"]
