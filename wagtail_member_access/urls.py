from django.urls import path

from .views import accounts, links, sign_in, unlock, webhooks
from .views.common import guard_cache

app_name = "wagtail_member_access"

urlpatterns = [
    path("unlock/<int:page_id>/email/", unlock.request_code, name="request_code"),
    path("unlock/<int:page_id>/code/", unlock.verify_code, name="verify_code"),
    path("unlock/<int:page_id>/change-email/", unlock.change_email, name="change_email"),
    path("sign-in/", sign_in.sign_in, name="sign_in"),
    path("sign-in/code/", sign_in.sign_in_code, name="sign_in_code"),
    path("sign-in/change-email/", sign_in.sign_in_change, name="sign_in_change"),
    path("sign-in/password/", sign_in.sign_in_password, name="sign_in_password"),
    path("sign-out/", accounts.sign_out, name="sign_out"),
    path("my-access/", accounts.my_access, name="my_access"),
    path("password/forgot/", accounts.forgot_password, name="forgot_password"),
    path("password/forgot/code/", accounts.forgot_password_code, name="forgot_password_code"),
    path(
        "password/forgot/change-email/",
        accounts.forgot_password_change,
        name="forgot_password_change",
    ),
    path("password/reset/<str:token>/", accounts.password_reset_link, name="password_reset_link"),
    path("password/set/", accounts.set_password, name="set_password"),
    path("password/change/", accounts.change_password, name="change_password"),
    path("invitation/<str:token>/", accounts.invitation, name="invitation"),
    path("link/<str:token>/", links.link, name="link"),
    path("webhooks/purchase/", webhooks.purchase, name="purchase_webhook"),
    path("webhooks/stripe/", webhooks.stripe, name="stripe_webhook"),
]

# Every view answers 503 with Retry-After, not 500, when the shared rate-limit cache is
# unreachable (docs/security.md#cache-down).
for _pattern in urlpatterns:
    _pattern.callback = guard_cache(_pattern.callback)
