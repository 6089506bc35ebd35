from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailMemberAccessConfig(AppConfig):
    name = "wagtail_member_access"
    label = "wagtail_member_access"
    verbose_name = _("Member access")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            compat,
            mirror,
        )
        from .flows.password_sign_in import clear_password_failures_on_login
        from .flows.sessions import forget_session, record_session

        user_logged_in.connect(
            clear_password_failures_on_login,
            dispatch_uid="wagtail_member_access.clear_password_failures_on_login",
        )
        user_logged_in.connect(record_session, dispatch_uid="wagtail_member_access.record_session")
        user_logged_out.connect(forget_session, dispatch_uid="wagtail_member_access.forget_session")
        # Member-protected pages are private for Wagtail too (docs/protected-channels.md).
        compat.install()
        mirror.connect()
        self.install_privacy_status()
        self.install_document_overrides()

    def install_privacy_status(self):
        # Wagtail's status panel, explorer padlock and page listing filters name the member
        # access (docs/editor-guide.md#privacy-status).
        from .admin import privacy_status

        privacy_status.install()

    def install_document_overrides(self):
        # Documents: Wagtail's API and collection privacy dialog meet our mirror rows
        # (docs/security.md#documents).
        from . import compat_documents
        from .admin.collection_access import header_buttons

        compat_documents.install(header_buttons)
        compat_documents.connect_signals(self)
