from django.db import models
from wagtail.models import Page


class SimplePage(Page):
    body = models.TextField(blank=True)
