from __future__ import annotations

from django.urls import path

from . import views

app_name = "demo_outbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:message_id>/html/", views.html_part, name="html"),
]
