from django.urls import path

from .views import links, sign_in, unlock, webhooks

app_name = "wagtail_member_access"

urlpatterns = [
    path("unlock/<int:page_id>/email/", unlock.request_code, name="request_code"),
    path("unlock/<int:page_id>/code/", unlock.verify_code, name="verify_code"),
    path("unlock/<int:page_id>/change-email/", unlock.change_email, name="change_email"),
    path("sign-in/", sign_in.sign_in, name="sign_in"),
    path("sign-in/code/", sign_in.sign_in_code, name="sign_in_code"),
    path("sign-in/change-email/", sign_in.sign_in_change, name="sign_in_change"),
    path("link/<str:token>/", links.link, name="link"),
    path("webhooks/purchase/", webhooks.purchase, name="purchase_webhook"),
    path("webhooks/stripe/", webhooks.stripe, name="stripe_webhook"),
]
