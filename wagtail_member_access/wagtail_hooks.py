"""Registration only: each hook delegates to the module that does the work."""

from django.contrib.auth.models import Permission
from django.templatetags.static import static
from django.utils.html import format_html
from wagtail import hooks

from . import compat, log_actions
from .admin import bulk_actions as admin_bulk_actions
from .views.unlock import document_gate, gate


# Outermost (Wagtail's own check has order 0): it runs inside ours, with the rows we read.
@hooks.register("on_serve_page", order=-1)
def check_member_access(callback):
    return gate(callback)


@hooks.register("register_log_actions")
def register_log_actions(actions):
    log_actions.register(actions)


@hooks.register("register_admin_viewset")
def register_member_access_admin():
    from .admin.viewsets import member_access_group

    return member_access_group()


for _bulk_action in admin_bulk_actions.ACTIONS:
    hooks.register("register_bulk_action", _bulk_action)


@hooks.register("register_user_listing_buttons")
def member_email_buttons(user, request_user):
    from .admin.members import user_listing_buttons

    return user_listing_buttons(user, request_user)


@hooks.register("register_admin_viewset")
def register_page_access_admin():
    from .admin.page_access import PageAccessViewSet

    return PageAccessViewSet()


@hooks.register("register_page_header_buttons")
def page_access_header_button(page, user, view_name=None, next_url=None):
    from .admin.page_access import header_button

    return header_button(page, user, view_name, next_url)


@hooks.register("register_page_listing_more_buttons")
def page_access_listing_button(page, user, next_url=None):
    from .admin.page_access import listing_button

    return listing_button(page, user, next_url)


# --- documents (docs/security.md#documents) ----------------------------------------------------


@hooks.register("before_serve_document", order=-1)  # before Wagtail's own privacy check
def check_document_member_access(document, request):
    return document_gate(document, request)


@hooks.register("register_admin_viewset")
def register_collection_access_admin():
    from .admin.collection_access import CollectionAccessViewSet

    return CollectionAccessViewSet()


@hooks.register("register_admin_urls")
def email_delivery_report_urls():
    from .admin import deliveries

    return deliveries.urlpatterns


@hooks.register("register_reports_menu_item")
def email_delivery_report_menu_item():
    from .admin import deliveries

    return deliveries.menu_item()


# --- the one privacy dialog and who may change member access (docs/editor-guide.md) -------------


@hooks.register("register_admin_viewset")  # after Wagtail's default page viewset (order=-1)
def register_privacy_dialog():
    if not compat.privacy_view_replaceable():  # Wagtail 7.4: Wagtail's own dialog stays
        return []
    from .admin.privacy_dialog import MemberAccessPageViewSet

    return MemberAccessPageViewSet()


@hooks.register("register_permissions")
def member_access_permission():
    return Permission.objects.filter(
        content_type__app_label="wagtail_member_access", codename="change_member_access"
    )


@hooks.register("insert_global_admin_js")
def privacy_dialog_js():
    return format_html(
        '<script src="{}"></script>', static("wagtail_member_access/admin/privacy-dialog.js")
    )
