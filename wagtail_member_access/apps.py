from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailMemberAccessConfig(AppConfig):
    name = "wagtail_member_access"
    label = "wagtail_member_access"
    verbose_name = _("Member access")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
