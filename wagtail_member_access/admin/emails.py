"""The email editor under "Member access": every email per site and language, with history,
compare and revert (revisions), a live preview in a sandboxed frame, "Send a test to me" and
"Reset to default" (docs/editing-emails.md#editing)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from wagtail.admin.panels import FieldPanel, FieldRowPanel, Panel
from wagtail.admin.widgets.button import HeaderButton
from wagtail.snippets.views import snippets

from .. import emails
from ..email_kinds import KINDS
from ..email_templates import default_source, reset_template
from ..models import EmailLayout, EmailTemplate

__all__ = ["EmailLayoutViewSet", "EmailTemplateViewSet", "send_test"]


class PlaceholderPanel(Panel):
    """The placeholders of each email: name, description, example, required or not."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "wagtail_member_access/admin/email_placeholders.html"

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            current = self.form["kind"].value() if self.form is not None else ""
            context["kinds"] = [
                {
                    "name": name,
                    "label": kind.label,
                    "open": name == current,
                    "placeholders": [
                        {
                            "name": p,
                            "description": info.description,
                            "example": info.example,
                            "required": p in kind.required,
                        }
                        for p, info in kind.placeholders.items()
                    ],
                }
                for name, kind in KINDS.items()
            ]
            return context


class CreateView(snippets.CreateView):
    """Starts from the shipped default of ``?kind=`` in ``?language=``."""

    def get_initial(self):
        initial = super().get_initial()
        kind = self.request.GET.get("kind", "")
        if kind in KINDS:
            language = self.request.GET.get("language", "")
            initial.update(default_source(kind, language or None), kind=kind, language=language)
        return initial


class EditView(snippets.EditView):
    @property
    def header_more_buttons(self):
        buttons = list(super().header_more_buttons)
        url = reverse(self.model.snippet_viewset.get_url_name("send_test"), args=[self.object.pk])
        buttons.append(
            HeaderButton(
                _("Send a test to me"),
                url=url,
                icon_name="mail",
                attrs={
                    "data-controller": "w-action",
                    "data-action": "w-action#post",
                    "data-w-action-url-value": url,
                },
                priority=50,
            )
        )
        return buttons


class ResetView(snippets.DeleteView):
    """Deleting an editors' version is "Reset to default": what applies then is the shipped
    default (or a version for every site or language)."""

    page_title = gettext_lazy("Reset to default")

    def get_success_message(self):
        return _("“%(object)s” reset to the default.") % {"object": self.object}

    def delete_action(self):
        reset_template(self.object, user=self.request.user)


@require_POST
def send_test(request, pk):
    """Send the saved version, with the kind's example values, to the editor's own address."""
    # The permission first: without it, an existing and a missing version look alike (403).
    if not request.user.has_perm("wagtail_member_access.change_emailtemplate"):
        raise PermissionDenied
    template = get_object_or_404(EmailTemplate, pk=pk)
    edit_url = reverse(EmailTemplate.snippet_viewset.get_url_name("edit"), args=[pk])
    # A custom user model may keep the address in another field (EMAIL_FIELD).
    address = getattr(request.user, request.user.get_email_field_name(), "") or ""
    if not address:
        messages.error(request, _("Your account has no email address to send the test to."))
        return redirect(edit_url)
    delivery = emails.deliver(
        template.kind,
        address,
        KINDS[template.kind].sample_context(),
        site=template.site,
        template=template,
    )
    if delivery:
        messages.success(request, _("Test sent to %(email)s.") % {"email": address})
    else:
        messages.error(
            request, _("The test could not be sent: %(error)s") % {"error": delivery.error}
        )
    return redirect(edit_url)


class EmailTemplateViewSet(snippets.SnippetViewSet):
    model = EmailTemplate
    icon = "mail"
    menu_label = gettext_lazy("Email templates")
    menu_order = 400
    url_prefix = "member-access/email-templates"
    add_view_class = CreateView
    edit_view_class = EditView
    delete_view_class = ResetView
    list_display = ["__str__", "subject", "updated_at"]
    list_filter = ["kind", "site", "language"]
    copy_view_enabled = False
    panels = [
        FieldRowPanel([FieldPanel("kind"), FieldPanel("site"), FieldPanel("language")]),
        FieldPanel("subject"),
        FieldPanel("text"),
        FieldPanel("html"),
        PlaceholderPanel(heading=gettext_lazy("Placeholders")),
    ]

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("send-test/<int:pk>/", send_test, name="send_test"),
        ]


class EmailLayoutViewSet(snippets.SnippetViewSet):
    model = EmailLayout
    icon = "doc-full"
    menu_label = gettext_lazy("Email layout")
    menu_order = 410
    url_prefix = "member-access/email-layouts"
    list_display = ["__str__", "from_email", "reply_to"]
    copy_view_enabled = False
    panels = [
        FieldPanel("site"),
        FieldRowPanel([FieldPanel("from_email"), FieldPanel("reply_to")]),
        FieldRowPanel([FieldPanel("brand_name"), FieldPanel("logo_url")]),
        FieldRowPanel(
            [
                FieldPanel("accent_colour"),
                FieldPanel("text_colour"),
                FieldPanel("background_colour"),
            ]
        ),
        FieldPanel("footer"),
    ]
