from django.urls import path

from .views import accounts, links, member_account, sign_in, unlock, webhooks
from .views.common import guard_cache

app_name = "wagtail_member_access"


def _unlock_paths(prefix: str, name_prefix: str = "") -> list:
    """The unlock form's three endpoints, the same for a page and a document."""
    return [
        path(f"{prefix}email/", unlock.request_code, name=f"{name_prefix}request_code"),
        path(f"{prefix}code/", unlock.verify_code, name=f"{name_prefix}verify_code"),
        path(f"{prefix}change-email/", unlock.change_email, name=f"{name_prefix}change_email"),
    ]


urlpatterns = [
    *_unlock_paths("unlock/<int:page_id>/"),
    # A document's endpoints carry its filename, like Wagtail's serve URL, and answer 404
    # when it is not the document's (docs/security.md#unlock-endpoints).
    *_unlock_paths("unlock/document/<int:document_id>/<str:document_filename>/", "document_"),
    path("sign-in/", sign_in.sign_in, name="sign_in"),
    path("sign-in/code/", sign_in.sign_in_code, name="sign_in_code"),
    path("sign-in/change-email/", sign_in.sign_in_change, name="sign_in_change"),
    path("sign-in/password/", sign_in.sign_in_password, name="sign_in_password"),
    path("sign-out/", accounts.sign_out, name="sign_out"),
    path("my-access/", member_account.my_access, name="my_access"),
    path("my-access/email/", member_account.change_email, name="change_email_address"),
    path("my-access/email/code/", member_account.change_email_code, name="change_email_code"),
    path("my-access/cancel/", member_account.change_email_cancel, name="account_cancel"),
    path(
        "my-access/sign-out-everywhere/",
        member_account.sign_out_everywhere,
        name="sign_out_everywhere",
    ),
    path("my-access/data/", member_account.download_data, name="download_data"),
    path("my-access/delete/", member_account.delete_account, name="delete_account"),
    path("my-access/delete/code/", member_account.delete_account_code, name="delete_account_code"),
    path("my-access/deleted/", member_account.account_deleted, name="account_deleted"),
    path("my-access/password/remove/", member_account.remove_password, name="remove_password"),
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
