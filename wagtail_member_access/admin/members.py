"""Emails an editor sends to members from the admin (as Shopify's "Reset password" on a
customer, and the bulk reset Shopify lacks).

* **One member**: buttons in Wagtail's user listing ("Send password reset", "Send sign-in
  link", "Send invitation") lead to a confirm page whose POST sends the email at once through
  :mod:`wagtail_member_access.flows` and says whether it went out.
* **Many members**: "Bulk emails" in the Member access menu. "New bulk email" takes the kind
  of email and either an access list (every member with an active grant on it) or a list of
  addresses (the grants listing's "Email selected members" fills it in); the sending runs in
  the background (:mod:`wagtail_member_access.bulk`, throttled) and the job's page shows
  sent and failed counts, and why each failure failed.

Who may do either: users with the "Can add bulk email" permission (``add_bulkemailjob``),
which a site admin grants to a group in Settings → Groups. Staff accounts never get member
emails (the flows refuse them).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.generic import View
from wagtail.admin import messages
from wagtail.admin.admin_url_finder import ModelAdminURLFinder
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn, UserColumn
from wagtail.admin.views.generic import CreateView, IndexView, InspectView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import Button
from wagtail.permission_policies import ModelPermissionPolicy

from .. import bulk, tasks
from ..flows import email_proof, invitation, password_reset
from ..members import is_privileged, normalize_email
from ..models import AccessList, BulkEmailJob, Grant
from . import bulk_preview

__all__ = ["BulkEmailViewSet", "may_email_members", "user_listing_buttons"]

Kind = BulkEmailJob.Kind
bulk_permission_policy = ModelPermissionPolicy(BulkEmailJob)

#: The single-member emails: kind → (button label, the flow that sends it).
SINGLE = {
    Kind.RESET: (_("Send password reset"), password_reset.send_password_reset),
    Kind.SIGN_IN_LINK: (_("Send sign-in link"), email_proof.send_sign_in_link),
    Kind.INVITE: (_("Send invitation"), invitation.send_invitation),
}


def may_email_members(user) -> bool:
    return bulk_permission_policy.user_has_permission(user, "add")


def _email_of(user) -> str:
    return getattr(user, user.get_email_field_name(), "") or ""


# --- one member --------------------------------------------------------------------------------


def user_listing_buttons(user, request_user) -> list:
    """The ``register_user_listing_buttons`` hook: member emails for member accounts."""
    if not may_email_members(request_user) or is_privileged(user) or not _email_of(user):
        return []
    return [
        Button(
            label,
            reverse("wagtail_member_access_bulk_emails:send_one", args=[user.pk, kind]),
            icon_name="mail",
            priority=50 + n,
        )
        for n, (kind, (label, _function)) in enumerate(SINGLE.items())
    ]


class SendOneView(WagtailAdminTemplateMixin, View):
    """Confirm, then send one member a reset, sign-in link or invitation (synchronously, so
    the editor learns at once whether it went out)."""

    template_name = "wagtail_member_access/admin/send_one.html"
    header_icon = "mail"

    def dispatch(self, request, pk, kind):
        if not may_email_members(request.user):
            raise PermissionDenied
        if kind not in SINGLE:
            raise PermissionDenied
        self.kind = kind
        self.member = get_object_or_404(get_user_model(), pk=pk)
        if is_privileged(self.member):
            # Staff get no member emails; and an editor who may send member emails need not
            # learn the addresses of staff accounts from this page.
            raise Http404
        return super().dispatch(request, pk, kind)

    def get_page_title(self):
        return SINGLE[self.kind][0]

    def get_page_subtitle(self):
        return _email_of(self.member)

    def get(self, request, pk, kind):
        return TemplateResponse(
            request,
            self.template_name,
            self.get_context_data(
                member=self.member,
                email=_email_of(self.member),
                back_url=reverse("wagtailusers_users:index"),
                explanation=EXPLANATIONS[self.kind],
            ),
        )

    def post(self, request, pk, kind):
        email = _email_of(self.member)
        send = SINGLE[self.kind][1]
        try:
            sent = bool(email) and send(email, by=request.user)
        except ValidationError:
            sent = False
        if sent:
            messages.success(request, _("The email was sent to %(email)s.") % {"email": email})
        else:
            messages.error(
                request,
                _(
                    "No email was sent to %(email)s: inactive accounts get no member emails, "
                    "and the mail server may have failed (see the server log)."
                )
                % {"email": email or "—"},
            )
        return HttpResponseRedirect(reverse("wagtailusers_users:index"))


EXPLANATIONS = {
    Kind.RESET: _(
        "The member gets an email with a link to choose a new password. Their current "
        "password keeps working until they do."
    ),
    Kind.SIGN_IN_LINK: _("The member gets an email with a single-use link that signs them in."),
    Kind.INVITE: _(
        "The member gets an invitation with a single-use link to set their own password."
    ),
}


# --- many members ------------------------------------------------------------------------------


class BulkEmailForm(forms.Form):
    kind = forms.ChoiceField(label=_("Email"), choices=Kind.choices)
    access_list = forms.ModelChoiceField(
        label=_("Access list"),
        queryset=AccessList.objects.all(),
        required=False,
        help_text=_(
            "Every member with an active grant on this list, unless you give addresses below. "
            "Required for access emails."
        ),
    )
    emails = forms.CharField(
        label=_("Addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("One email address per line. Leave empty to email the whole list."),
    )

    def clean(self):
        data = super().clean()
        lines = [line.strip() for line in (data.get("emails") or "").splitlines()]
        addresses, bad = [], []
        for line in filter(None, lines):
            try:
                addresses.append(normalize_email(line))
            except ValidationError:
                bad.append(line)
        if bad:
            self.add_error(
                "emails",
                _("Not valid email addresses: %(emails)s") % {"emails": ", ".join(bad[:10])},
            )
        access_list = data.get("access_list")
        if data.get("kind") == Kind.ACCESS_READY and access_list is None:
            self.add_error("access_list", _("Choose the access list whose email to send."))
        if not addresses and access_list is not None:
            addresses = bulk.recipients_of_list(access_list)
            if not addresses:
                self.add_error("access_list", _("This list has no active grants."))
        elif not addresses and not bad:
            self.add_error("emails", _("Choose an access list or give addresses."))
        data["recipients"] = list(dict.fromkeys(addresses))
        return data


class BulkEmailCreateView(CreateView):
    """ "New bulk email": the form; the send button's first press shows what the first
    recipient will receive and how many emails go out, its second press (carrying the
    :func:`.bulk_preview.confirmation` of exactly that) starts the job after the response is
    sent. "Preview" shows the preview alone (:mod:`.bulk_preview`)."""

    page_title = _("New bulk email")
    template_name = "wagtail_member_access/admin/bulk_email_create.html"
    submit_button_label = _("Send emails")
    submit_button_active_label = _("Sending…")

    def get_form_class(self):
        return BulkEmailForm

    def get_form_kwargs(self):
        kwargs = {"prefix": self.get_prefix()} if hasattr(self, "get_prefix") else {}
        if self.request.method == "POST":
            kwargs |= {"data": self.request.POST}
        else:
            kwargs["initial"] = self._initial()
        return kwargs

    def _initial(self) -> dict:
        params = self.request.GET
        initial = {}
        if params.get("kind") in Kind.values:
            initial["kind"] = params["kind"]
        if params.get("list", "").isdigit():
            initial["access_list"] = params["list"]
        grant_ids = [pk for pk in params.getlist("grant") if pk.isdigit()]
        emails = list(Grant.objects.filter(pk__in=grant_ids).values_list("email", flat=True))
        emails += params.getlist("email")
        if emails:
            initial["emails"] = "\n".join(dict.fromkeys(emails))
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        if "preview" in self.request.POST:
            return self._preview(form)
        expected = bulk_preview.confirmation(
            data["kind"], data.get("access_list"), data["recipients"]
        )
        confirmed = self.request.POST.get("confirmation", "")
        if not constant_time_compare(confirmed, expected):
            # A first press, or one confirming something else (the form was changed, the
            # list's grants changed since, or the value is forged): show what would go out.
            return self._preview(form, confirmation=expected, stale=bool(confirmed))
        response = HttpResponseRedirect("")
        job = bulk.start(
            data["kind"],
            data["recipients"],
            access_list=data.get("access_list"),
            by=self.request.user,
        )
        # After the response: the editor does not wait for the throttled sending.
        tasks.enqueue_after_response(response, tasks.send_bulk_email, job.pk)
        messages.success(
            self.request,
            ngettext(
                "Sending %(count)s email in the background.",
                "Sending %(count)s emails in the background.",
                job.total,
            )
            % {"count": job.total},
        )
        response["Location"] = reverse("wagtail_member_access_bulk_emails:inspect", args=[job.pk])
        return response

    def _preview(self, form, *, confirmation: str = "", stale: bool = False):
        """The form with the preview of the first recipient's email; with ``confirmation``,
        also the number of emails and a send button that sends them."""
        data = form.cleaned_data
        recipients, count = data["recipients"], len(data["recipients"])
        context = self.get_context_data(form=form)
        context["preview"] = {
            "url": bulk_preview.preview_url(data["kind"], recipients[0], data.get("access_list")),
            "recipient": recipients[0],
            "total": count,
        }
        if confirmation:
            context["confirm"] = {
                "value": confirmation,
                "count": count,
                # Named when its members are the recipients (no addresses were given).
                "list": None if data["emails"].strip() else data.get("access_list"),
                "stale": stale,
            }
            context["submit_button_label"] = ngettext(
                "Send %(count)s email", "Send %(count)s emails", count
            ) % {"count": count}
        return self.render_to_response(context)


class StatusColumn(Column):
    def get_value(self, instance):
        if instance.finished_at:
            return _("Finished")
        if instance.started_at:
            return _("Sending")
        return _("Queued")


class BulkEmailIndexView(IndexView):
    def get_edit_url(self, instance):
        return reverse("wagtail_member_access_bulk_emails:inspect", args=[instance.pk])

    @property
    def columns(self):
        return [
            TitleColumn(
                "kind",
                label=_("Email"),
                accessor="get_kind_display",
                get_url=self.get_edit_url,
            ),
            Column("access_list", label=_("Access list")),
            Column("total", label=_("Recipients")),
            Column("sent", label=_("Sent")),
            Column("failed", label=_("Failed")),
            StatusColumn("status", label=_("Status")),
            UserColumn("created_by", label=_("By")),
            DateColumn("created_at", label=_("Created")),
        ]

    def get_list_more_buttons(self, instance):
        return []


class BulkEmailInspectView(InspectView):
    template_name = "wagtail_member_access/admin/bulk_email_inspect.html"

    def get_fields(self):
        return ["kind", "access_list", "total", "sent", "failed", "created_by", "created_at"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["errors"] = self.object.errors
        context["status"] = StatusColumn("status").get_value(self.object)
        return context

    def get_edit_url(self):
        return None

    def get_delete_url(self):
        return None


class BulkEmailURLFinder(ModelAdminURLFinder):
    edit_url_name = "wagtail_member_access_bulk_emails:inspect"
    permission_policy = bulk_permission_policy


class BulkEmailViewSet(ModelViewSet):
    model = BulkEmailJob
    name = "wagtail_member_access_bulk_emails"
    url_prefix = "member-access/emails"
    icon = "mail"
    menu_label = _("Bulk emails")
    menu_order = 300
    index_view_class = BulkEmailIndexView
    add_view_class = BulkEmailCreateView
    inspect_view_class = BulkEmailInspectView
    inspect_view_enabled = True
    url_finder_class = BulkEmailURLFinder
    copy_view_enabled = False
    list_per_page = 50
    add_to_reference_index = False
    form_fields = ["kind"]  # the create view uses BulkEmailForm

    def get_urlpatterns(self):
        # Jobs are records of what was sent: they are created and inspected, never edited.
        keep = {"index", "index_results", "add", "inspect", "history", "history_results"}
        return [
            *(pattern for pattern in super().get_urlpatterns() if pattern.name in keep),
            path("member/<int:pk>/<str:kind>/", SendOneView.as_view(), name="send_one"),
            path("preview/", bulk_preview.preview, name="preview"),
        ]
