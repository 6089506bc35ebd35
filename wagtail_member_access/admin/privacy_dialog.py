"""One privacy dialog: Wagtail's "Change privacy" with member access in it.

Wagtail 8's dialog is a class-based view that a page viewset names
(``PageViewSet.set_privacy_view_class``). :class:`PrivacyDialogView` extends it: one radio
list offers "Public", Wagtail's own choices the site allows (``WAGTAIL_PRIVATE_PAGE_OPTIONS``)
and the four member-access modes, with the access lists (searchable, and a new one created
inline), the groups of members-only pages, and what a visitor will see. Choosing one kind
removes the other from the page, so the dialog never leaves two contradicting restrictions:

- a member-access mode goes through :func:`api.protect` (audit log entry, mirror row) and
  deletes Wagtail's own row on the page;
- "Public" or one of Wagtail's own choices goes through :func:`api.unprotect` and then
  Wagtail's own save.

Changing member access needs the permission ``wagtail_member_access.change_member_access``
(:func:`page_access.may_change_member_access`); without it our modes are shown read-only and
a page that has member access cannot be changed here at all
(docs/editor-guide.md#the-privacy-dialog).

The package registers :class:`MemberAccessPageViewSet` for every page type; a project that
registers page viewsets of its own adds :class:`PrivacyDialogMixin` to them. Wagtail 7.4's
dialog is a function view with no such hook: there the package keeps Wagtail's own dialog
(docs/editor-guide.md#wagtail-74).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms.pages import PageViewRestrictionForm
from wagtail.admin.modal_workflow import render_modal_workflow
from wagtail.admin.views.page_privacy import SetPrivacyView
from wagtail.admin.viewsets.pages import PageViewSet
from wagtail.models import PageViewRestriction

from .. import access, api
from ..models import PageAccessRestriction
from .access_form import NONE, initial_values
from .page_access import (
    MODE_HELP,
    PageAccessForm,
    list_permission_policy,
    may_change_member_access,
    page_access_url,
)
from .privacy_status import status_html

__all__ = [
    "MemberAccessPageViewSet",
    "PrivacyDialogMixin",
    "PrivacyDialogView",
]

Mode = PageAccessRestriction.Mode
OURS = frozenset(Mode.values)

#: A short line under each of Wagtail's own choices.
WAGTAIL_HELP = {
    NONE: _("Anyone can view the page."),
    PageViewRestriction.LOGIN: _("Visitors sign in with their account (Wagtail's privacy)."),
    PageViewRestriction.PASSWORD: _("Visitors type in one shared password (Wagtail's privacy)."),
    PageViewRestriction.GROUPS: _("Only signed-in users in the chosen groups (Wagtail's privacy)."),
}


class ChoiceRadios(forms.RadioSelect):
    """Radios of which some may be shown but not chosen (``disabled_values``)."""

    disabled_values: frozenset = frozenset()

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value in self.disabled_values:
            option["attrs"]["disabled"] = True
        return option


class PrivacyForm(PageViewRestrictionForm):
    """Wagtail's privacy form with the member-access modes added to its radios. Wagtail's
    fields validate and save as in Wagtail; the member-access values are validated by
    :class:`DialogAccessForm` beside it."""

    def __init__(self, *args, read_only_ours: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["restriction_type"]
        field.label = _("Who may view this page")
        field.choices = [*field.choices, *Mode.choices]
        field.widget = ChoiceRadios(choices=field.choices)
        if read_only_ours:
            field.widget.disabled_values = OURS

    def clean_restriction_type(self):
        value = self.cleaned_data["restriction_type"]
        if value in OURS and self.fields["restriction_type"].widget.disabled_values:
            raise ValidationError(
                _(
                    "You may not set member access: that needs the permission “Can change "
                    "member access of pages”."
                ),
                code="permission",
            )
        return value

    def _post_clean(self):
        # A member-access mode is not a value of Wagtail's model: nothing of Wagtail's to check.
        if self.cleaned_data.get("restriction_type") in OURS:
            return
        super()._post_clean()


class DialogAccessForm(PageAccessForm):
    """The member-access values of the dialog (prefixed ``member-``): the "Member access"
    view's form, plus the name of an access list to create while saving."""

    new_list = forms.CharField(
        label=_("Or create a new access list"),
        max_length=255,
        required=False,
        help_text=_("Created when you save, for every site; add people to it on its grants page."),
    )

    def __init__(self, *args, may_add_lists: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["access_lists"].help_text = _(
            "Addresses with an active grant on any of the ticked lists may view the page."
        )
        if not may_add_lists:
            del self.fields["new_list"]

    def names_lists(self, data) -> bool:
        return bool(data["access_lists"]) or bool(data.get("new_list", "").strip())


def _options(form, help_texts) -> list[tuple]:
    """``(radio, help, is ours, starts the member-access group)`` for each choice."""
    options, seen_ours = [], False
    for radio in form["restriction_type"]:
        ours = radio.data["value"] in OURS
        options.append((radio, help_texts.get(radio.data["value"]), ours, ours and not seen_ours))
        seen_ours = seen_ours or ours
    return options


class PrivacyDialogView(SetPrivacyView):
    """Wagtail's "Change privacy" dialog with member access in it (see the module's doc).
    ``dispatch`` runs inside the package's override that hides our rows from
    ``get_view_restrictions()``, so ``self.restriction`` is Wagtail's own row only."""

    form_class = PrivacyForm
    template_name = "wagtail_member_access/admin/privacy_dialog.html"

    @cached_property
    def state(self) -> access.PathRestrictions:
        return access.path_restrictions(self.page)

    @cached_property
    def may_change(self) -> bool:
        return may_change_member_access(self.request.user, self.page)

    @cached_property
    def locked(self) -> bool:
        """The page has member access of its own that this user may not change: the whole
        dialog is read-only (choosing anything else would leave both)."""
        return self.state.own is not None and not self.may_change

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["read_only_ours"] = not self.may_change
        return kwargs

    def get_initial(self):
        own = self.state.own
        if own is not None:
            return {"restriction_type": own.mode}
        return super().get_initial()

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        if self.state.inherited and not self.restriction_on_ancestor:
            field = form.fields["restriction_type"]
            field.choices = [
                (
                    NONE,
                    _("No restriction of its own (the member access of the pages above applies)"),
                ),
                *field.choices[1:],
            ]
        if self.locked:
            for field in form.fields.values():
                field.disabled = True
        return form

    @cached_property
    def member_form(self) -> DialogAccessForm:
        own = self.state.own
        initial = initial_values(own.rule if own is not None else None)
        if own is not None and own.rule.opens_after:
            initial["opens_after"] = own.rule.opens_after.days
        data = None
        if self.request.method == "POST":
            # The one radio list chooses the mode of both forms.
            data = self.request.POST.copy()
            chosen = data.get("restriction_type")
            data["member-mode"] = chosen if chosen in OURS else NONE
        form = DialogAccessForm(
            data,
            prefix="member",
            page=self.page,
            inherited=bool(self.state.inherited),
            initial=initial,
            may_add_lists=self.may_change
            and list_permission_policy.user_has_permission(self.request.user, "add"),
        )
        if not self.may_change:
            for field in form.fields.values():
                field.disabled = True
        return form

    def post(self, request, *args, **kwargs):
        if self.locked:
            raise PermissionDenied
        form = self.get_form()
        if form.is_valid() and self.member_form.is_valid():
            return self.form_valid(form)
        return self.form_invalid(form)

    def form_valid(self, form):
        chosen = form.cleaned_data["restriction_type"]
        try:
            with transaction.atomic():
                if chosen in OURS:
                    self.protect(chosen)
                else:
                    if self.may_change and self.state.own is not None:
                        api.unprotect(self.page, user=self.request.user)
                    super().form_valid(form)
        except ValidationError as error:
            # The form checks what the API checks; this is for a list moved to another site
            # between the two.
            for message in error.messages:
                form.add_error(None, message)
            return self.form_invalid(form)
        return render_modal_workflow(
            self.request,
            None,
            None,
            None,
            json_data={
                "step": "set_privacy_done",
                "is_public": chosen == NONE,
                # The status side panel's "Who may view", as saved: privacy-dialog.js puts it
                # in place of the stale one (docs/editor-guide.md#privacy-status).
                "wma_status_html": status_html(self.page, self.request),
            },
        )

    def protect(self, mode: str) -> None:
        """Member access ``mode`` with the chosen lists (and the new one) and groups; Wagtail's
        own row on the page, if any, is removed."""
        data = self.member_form.cleaned_data
        lists = list(data["access_lists"])
        if data.get("new_list", "").strip():
            lists.append(api.create_access_list(data["new_list"]))
        api.protect(
            self.page,
            mode=mode,
            access_lists=lists,
            groups=data["groups"],
            user=self.request.user,
            opens_after=self.opens_after(),
        )
        if self.restriction is not None:
            self.restriction.delete(user=self.request.user)

    def opens_after(self):
        """The drip delay to save: the dialog's "Opens after (days)"; a post without that
        field (a project's own dialog template) keeps the page's delay
        (docs/editor-guide.md#the-privacy-dialog)."""
        if self.member_form.add_prefix("opens_after") in self.request.POST:
            return self.member_form.opens_after_value()
        own = self.state.own
        return own.rule.opens_after if own is not None else None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        member_form = self.member_form
        help_texts = {**MODE_HELP, **WAGTAIL_HELP}  # "Public" is more than no member access
        if self.state.inherited:
            help_texts[NONE] = _("Only the privacy and member access of the pages above apply.")
        context.update(
            member_form=member_form,
            options=_options(form, help_texts),
            own=self.state.own,
            inherited=self.state.inherited,
            wagtail_row=self.restriction if self.state.own is not None else None,
            may_change=self.may_change,
            locked=self.locked,
            details_url=page_access_url(self.page),
            no_lists=not member_form.fields["access_lists"].queryset.exists(),
        )
        return context

    def render_to_response(self, context, **response_kwargs):
        # Wagtail shows "no privacy options" when the site allows none of its own; member
        # access is still offered.
        return render_modal_workflow(
            self.request,
            self.template_name,
            None,
            template_vars=context,
            json_data={"step": "set_privacy"},
            **response_kwargs,
        )


class PrivacyDialogMixin:
    """For a project's own page viewsets: ``class BlogPageViewSet(PrivacyDialogMixin,
    PageViewSet)`` gives their pages the dialog with member access
    (docs/editor-guide.md#your-own-page-viewsets)."""

    set_privacy_view_class = PrivacyDialogView


class MemberAccessPageViewSet(PrivacyDialogMixin, PageViewSet):
    """Wagtail's default page viewset with the dialog; registered after Wagtail's own
    (``order=-1``), so it replaces it for every page type without a viewset of its own."""
