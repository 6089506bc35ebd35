"""Our entries in Wagtail's audit log (page history and the site history report)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.log_actions import LogFormatter

from . import email_kinds, moments
from .models import BulkEmailJob, EmailChallenge, EmailSend, PageAccessRestriction

__all__ = [
    "ACCOUNT_DELETED",
    "BULK_EMAIL",
    "DRIP",
    "EMAIL_RESET",
    "EMAIL_CHANGED",
    "EMAIL_MOVED",
    "EXPIRE",
    "EXTEND",
    "GRANT",
    "IMPORT",
    "INVITE",
    "PASSWORD_CHANGED",
    "PROTECT",
    "REMIND",
    "RESET_SENT",
    "REVOKE",
    "SEAT_FREED",
    "SEAT_TAKEN",
    "SEND_FAILED",
    "SEND_GAVE_UP",
    "SESSIONS_ENDED",
    "UNLOCK",
    "UNLOCK_FAILED",
    "UNPROTECT",
    "register",
]

PROTECT = "wagtail_member_access.protect"
UNPROTECT = "wagtail_member_access.unprotect"
GRANT = "wagtail_member_access.grant"
REVOKE = "wagtail_member_access.revoke"
IMPORT = "wagtail_member_access.import"
EXTEND = "wagtail_member_access.extend"
EXPIRE = "wagtail_member_access.expire"
REMIND = "wagtail_member_access.remind"
INVITE = "wagtail_member_access.invite"
RESET_SENT = "wagtail_member_access.reset_sent"
PASSWORD_CHANGED = "wagtail_member_access.password_changed"
BULK_EMAIL = "wagtail_member_access.bulk_email"
UNLOCK = "wagtail_member_access.unlock"
UNLOCK_FAILED = "wagtail_member_access.unlock_failed"
SEND_FAILED = "wagtail_member_access.send_failed"
EMAIL_RESET = "wagtail_member_access.email_reset"
EMAIL_MOVED = "wagtail_member_access.email_moved"
EMAIL_CHANGED = "wagtail_member_access.email_changed"
ACCOUNT_DELETED = "wagtail_member_access.account_deleted"
SESSIONS_ENDED = "wagtail_member_access.sessions_ended"
SEND_GAVE_UP = "wagtail_member_access.send_gave_up"
DRIP = "wagtail_member_access.drip"
SEAT_TAKEN = "wagtail_member_access.seat_taken"
SEAT_FREED = "wagtail_member_access.seat_freed"


#: Stored values shown in the editor's language (entries store the raw value).
_DISPLAY = {
    # The mode's and the bulk kind's own labels; "sign_in" is the bulk kind's value in
    # entries written before it was renamed "sign_in_link".
    "mode": dict(PageAccessRestriction.Mode.choices),
    "method": {"code": _("code"), "link": _("link")},
    # A challenge's purpose, or the kind of an EmailSend (given up sends, sends.attempt).
    "purpose": dict(EmailChallenge.Purpose.choices) | dict(EmailSend.Kind.choices),
    "kind": dict(BulkEmailJob.Kind.choices) | {"sign_in": BulkEmailJob.Kind.SIGN_IN_LINK.label},
    "email_kind": {name: kind.label for name, kind in email_kinds.KINDS.items()},
    "reason": {
        "wrong": _("wrong code"),
        "expired": _("expired"),
        "exhausted": _("too many tries"),
        "used": _("already used"),
        "replaced": _("replaced code"),
        "throttled": _("throttled"),
        "missing": _("no request"),
        "no_access": _("no access"),
    },
}


def _display_moment(value) -> str:
    """When access now ends, by the end-of-day rule of ``moments.until`` ("until the end of
    31 March 2027 (UTC)", docs/expiry.md#shown) in the editor's time zone; None: no end."""
    if not value:
        return _("with no end")
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moments.until(moment)


class _Formatter(LogFormatter):
    def format_message(self, log_entry):
        data = dict(log_entry.data or {})
        for key, labels in _DISPLAY.items():
            if key in data:
                data[key] = labels.get(data[key], data[key])
        if "expires_at" in data:
            data["expires_at"] = _display_moment(data["expires_at"])
        message = self.message
        if "days" in data and data["days"] is None and getattr(self, "off_message", None):
            message = self.off_message  # drip turned off
        if data.get("created") is False and getattr(self, "update_message", None):
            message = self.update_message  # an existing grant saved again (edit, renewal)
        try:
            return message % data
        except (KeyError, TypeError, ValueError):
            return self.label


#: Each action: its name, its label in the audit log's filter, and its message.
_ACTIONS = [
    (PROTECT, _("Set member access"), _("Member access set to “%(mode)s”")),
    (UNPROTECT, _("Remove member access"), _("Member access removed")),
    (
        DRIP,
        _("Change when pages open"),
        _("Pages open %(days)s days after a member's access starts"),
    ),
    (GRANT, _("Grant access"), _("Access granted to %(email)s on “%(list)s”")),
    (REVOKE, _("Revoke access"), _("Access revoked for %(email)s on “%(list)s”")),
    (
        IMPORT,
        _("Import grants"),
        _("Imported %(created)s new, %(updated)s updated grants into “%(list)s”"),
    ),
    (
        EXTEND,
        _("Change access period"),
        _("Access of %(email)s on “%(list)s” now lasts %(expires_at)s"),
    ),
    (EXPIRE, _("Access expired"), _("Access of %(email)s on “%(list)s” expired")),
    (
        REMIND,
        _("Expiry reminder sent"),
        _("Expiry reminder sent to %(email)s for “%(list)s”"),
    ),
    (INVITE, _("Invite member"), _("Invitation sent to %(email)s")),
    (RESET_SENT, _("Password reset sent"), _("Password reset email sent to %(email)s")),
    (PASSWORD_CHANGED, _("Password changed"), _("Password of %(email)s changed")),
    (
        BULK_EMAIL,
        _("Bulk email"),
        _("%(kind)s emails: %(sent)s sent, %(failed)s failed of %(total)s"),
    ),
    (UNLOCK, _("Member unlock"), _("Unlocked by %(email)s with an emailed %(method)s")),
    (UNLOCK_FAILED, _("Failed unlock"), _("Failed unlock attempt (%(reason)s) for %(email)s")),
    (
        EMAIL_RESET,
        _("Email reset to default"),
        _("%(email_kind)s email reset to the default"),
    ),
    (
        EMAIL_MOVED,
        _("Email address changed"),
        _("Access on “%(list)s” moved from %(old_email)s to %(email)s"),
    ),
    (EMAIL_CHANGED, _("Email address changed"), _("Email address changed to %(email)s")),
    (
        ACCOUNT_DELETED,
        _("Member account deleted"),
        _("A member deleted their account (%(grants)s grants)"),
    ),
    (SESSIONS_ENDED, _("Signed out everywhere"), _("%(email)s signed out everywhere")),
    (
        SEND_FAILED,
        _("Email not sent"),
        _("%(email_kind)s email to %(email)s could not be sent (%(error)s)"),
    ),
    (
        SEAT_TAKEN,
        _("Seat taken"),
        _("%(email)s took a seat of %(domain)s on “%(list)s”"),
    ),
    (
        SEAT_FREED,
        _("Seat freed"),
        _("Seat of %(email)s freed on %(domain)s for “%(list)s”"),
    ),
    (
        SEND_GAVE_UP,
        _("Email failed for good"),
        _("%(purpose)s email to %(email)s not sent after %(attempts)s attempts: gave up"),
    ),
]


def register(actions) -> None:
    """Called by the ``register_log_actions`` hook."""
    for action, label, message in _ACTIONS:
        attrs = {"label": label, "message": message}
        if action == GRANT:
            attrs["update_message"] = _(
                "Access of %(email)s on “%(list)s” updated: lasts %(expires_at)s"
            )
        if action == DRIP:
            attrs["off_message"] = _("Pages open as soon as a member's access starts")
        formatter = type("Formatter", (_Formatter,), attrs)
        actions.register_action(action)(formatter)
