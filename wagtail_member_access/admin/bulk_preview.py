"""The bulk email form's preview: what each member will receive, shown for the first
recipient (docs/member-emails.md#preview).

It is rendered by :func:`wagtail_member_access.emails.render_email`, the path every email takes:
the editors' version or the shipped default, in the recipient's language, in the site's
layout. The recipient's own values fill the placeholders the form knows (address, name, the
list, its pages, when the access ends); codes and links are the kind's example values, because
a preview must create nothing that could open a page. It is served like the email editor's
preview: a page of its own with ``Content-Security-Policy: sandbox``, shown in a sandboxed
frame (docs/security.md#email-escaping).

The form's send button shows the same preview first, with the number of emails, and sends only
when pressed again: :func:`confirmation` is the digest that second press carries, bound to the
kind, the list and the exact recipients that were previewed (docs/member-emails.md#confirm).
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import salted_hmac
from django.utils.http import urlencode
from django.views.decorators.clickjacking import xframe_options_sameorigin
from wagtail.permission_policies import ModelPermissionPolicy

from .. import emails, moments, sites
from ..email_html import RenderedEmail
from ..email_kinds import KINDS
from ..members import normalize_email
from ..models import AccessList, BulkEmailJob, Grant

__all__ = ["EMAIL_KIND", "confirmation", "preview", "preview_url", "render_preview"]

Kind = BulkEmailJob.Kind
_policy = ModelPermissionPolicy(BulkEmailJob)  # who may send bulk emails may preview them

#: The email each kind of bulk email sends (``emails.KINDS``).
EMAIL_KIND = {
    Kind.RESET: "password_reset",
    Kind.SIGN_IN_LINK: "sign_in_link",
    Kind.INVITE: "invitation",
    Kind.ACCESS_READY: "access_ready",
}


#: Each page's sign-in link in a preview: an example that opens nothing.
EXAMPLE_LINK = KINDS["unlock_link"].placeholders["link"].example


def _list_values(access_list: AccessList, grant: Grant | None, example_link: str) -> tuple:
    """The access email's list placeholders, and the site of the list's first page."""
    pages = [
        restriction.page.specific
        for restriction in access_list.restrictions.select_related("page").order_by("pk")
    ]
    values = {
        "list_name": access_list.name,
        "pages": [
            {"title": page.title, "url": page.get_full_url() or "", "link": example_link}
            for page in pages
        ],
        "expires": (
            moments.until_lazy(grant.expires_at, timezone.get_default_timezone())
            if grant is not None and grant.expires_at
            else ""
        ),
    }
    return values, (pages[0].get_site() if pages else None)


def render_preview(kind: str, email: str, access_list: AccessList | None = None) -> RenderedEmail:
    """The bulk email of ``kind`` as ``email`` would receive it (with example codes and
    links). Raises ``KeyError`` for an unknown kind."""
    email_kind = EMAIL_KIND[kind]
    context = KINDS[email_kind].sample_context()
    grant = None
    if access_list is not None:
        grant = Grant.objects.filter(access_list=access_list, email=email).first()
    site = None
    if email_kind == "access_ready" and access_list is not None:
        values, site = _list_values(access_list, grant, EXAMPLE_LINK)
        context |= values
        member = emails.find_member_quietly(email)
        if member is not None and member.has_usable_password():
            context |= {"set_password_link": "", "invite_days": ""}
    site = site or sites.default_site()
    context |= {"email": email, "site_name": sites.site_name(site)}
    if "name" in context:
        context["name"] = grant.name if grant is not None else ""
    language = emails.email_language(email)
    return emails.render_email(email_kind, context, language=language, site=site)


def preview_url(kind: str, email: str, access_list: AccessList | None) -> str:
    params = {"kind": kind, "email": email}
    if access_list is not None:
        params["access_list"] = access_list.pk
    url = reverse("wagtail_member_access_bulk_emails:preview")
    return f"{url}?{urlencode(params)}"


def confirmation(kind: str, access_list: AccessList | None, recipients: list[str]) -> str:
    """The digest the send button's second press carries: a keyed hash (``SECRET_KEY``) of
    the kind, the list's id and the recipients in order. Anything that changes between the
    preview and the press (the form, or the list's grants) gives another digest, so the
    press sends nothing and shows the preview again; a forged value matches nothing."""
    value = json.dumps([kind, access_list.pk if access_list is not None else None, recipients])
    return salted_hmac(
        "wagtail_member_access.bulk_email_confirmation", value, algorithm="sha256"
    ).hexdigest()


@xframe_options_sameorigin  # shown in a frame on the bulk email form
def preview(request):
    """The preview page (GET ``kind``, ``email``, optional ``access_list``): 404 for an
    unknown kind, a malformed address or a missing list; 403 without the permission to send
    bulk emails."""
    if not _policy.user_has_permission(request.user, "add"):
        raise PermissionDenied
    kind = request.GET.get("kind", "")
    list_id = request.GET.get("access_list", "")
    try:
        email = normalize_email(request.GET.get("email", ""))
    except ValidationError:
        raise Http404 from None
    if kind not in EMAIL_KIND or (list_id and not list_id.isdigit()):
        raise Http404
    access_list = AccessList.objects.filter(pk=list_id).first() if list_id else None
    if list_id and access_list is None:
        raise Http404
    rendered = render_preview(kind, email, access_list)
    response = TemplateResponse(
        request,
        "wagtail_member_access/admin/email_preview.html",
        {"recipient": email, **rendered.as_dict()},
    )
    # As the email editor's preview (models/email_templates.py): no scripts, no same-origin
    # access, no forms, no referrer.
    response["Content-Security-Policy"] = "sandbox"
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response
