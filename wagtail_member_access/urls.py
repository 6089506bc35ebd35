from django.urls import path

from .views import unlock

app_name = "wagtail_member_access"

urlpatterns = [
    path("unlock/<int:page_id>/email/", unlock.request_code, name="request_code"),
    path("unlock/<int:page_id>/code/", unlock.verify_code, name="verify_code"),
    path("unlock/<int:page_id>/change-email/", unlock.change_email, name="change_email"),
]
