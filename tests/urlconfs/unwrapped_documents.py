"""A document URL captured before the package's override: Wagtail's own serve view."""

from django.urls import re_path
from wagtail.documents.views import serve

urlpatterns = [
    re_path(r"^documents/(\d+)/(.*)$", serve.serve.__wrapped__, name="wagtaildocs_serve"),
]
