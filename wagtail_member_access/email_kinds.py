"""Every kind of email the package sends, and the placeholders its templates may use.

One entry per kind: its label, each placeholder with a description and an example value (the
preview and the test send use the examples), and which placeholders an edited template must
contain (docs/editing-emails.md#placeholders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

__all__ = ["KINDS", "SECRET_ITEM_KEYS", "Kind", "Placeholder", "kind_choices"]

#: Keys of a list placeholder's entries that are one-time links (``{{ page.link }}``).
SECRET_ITEM_KEYS = ("link",)


@dataclass(frozen=True)
class Placeholder:
    description: str
    example: object  # a string, or for ``pages`` a list of dicts of strings
    #: The code or a one-time link: printed only as a whole word or a link's entire href
    #: (docs/security.md#email-escaping).
    secret: bool = False


@dataclass(frozen=True)
class Kind:
    label: str
    placeholders: dict[str, Placeholder]
    required: tuple[str, ...] = ()
    #: List placeholders: the keys of each entry (``{% for page in pages %}{{ page.title }}``).
    items: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def sample_context(self) -> dict:
        return {name: p.example for name, p in self.placeholders.items()}

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret placeholders: the code and every one-time link."""
        return tuple(name for name, p in self.placeholders.items() if p.secret)

    @property
    def secret_items(self) -> dict[str, tuple[str, ...]]:
        """The secret keys of each list placeholder's entries (``pages`` → ``link``)."""
        return {
            name: tuple(k for k in keys if k in SECRET_ITEM_KEYS)
            for name, keys in self.items.items()
        }

    def secret_values(self, context: dict) -> list[str]:
        """The secrets' values in ``context`` (a rendered email may print them only as a
        whole word or a link's href)."""
        values = [str(context.get(name) or "") for name in self.secrets]
        for name, keys in self.secret_items.items():
            values += [str(entry.get(k) or "") for entry in context.get(name) or () for k in keys]
        return [v for v in values if v]


_P = Placeholder
_PAGES = [
    {"title": "Lesson 1", "url": "https://example.com/course/lesson-1/", "link": ""},
    {"title": "Lesson 2", "url": "https://example.com/course/lesson-2/", "link": ""},
]
_COMMON = {
    "site_name": _P(_("The site's name"), "Example School"),
    "email": _P(_("The member's email address"), "ana@example.com"),
}
_CODE = {
    "code": _P(_("The one-time code"), "048213", secret=True),
    "minutes": _P(_("Minutes the code is valid"), "10"),
}
_LINK = {
    "link": _P(_("The one-time link"), "https://example.com/access/link/abc123/", secret=True),
    "link_minutes": _P(_("Minutes the link is valid"), "30"),
}
_PAGE = {
    "page_title": _P(_("The page's title"), "Lesson 1"),
    "page_url": _P(_("The page's address"), "https://example.com/course/lesson-1/"),
}
_NAME = {"name": _P(_("The member's name (may be empty)"), "Ana")}
_LIST = {
    "list_name": _P(_("The access list's name"), "Course A"),
    "pages": _P(_("The pages the list opens: title, url and link of each"), _PAGES),
    "expires": _P(
        _("When the access ends (empty: never), with the time zone"),
        "until the end of 31 January 2031 (Europe/Berlin)",
    ),
}
_PAGE_ITEMS = {"pages": ("title", "url", "link")}

KINDS: dict[str, Kind] = {
    "unlock_code": Kind(_("Unlock code"), _CODE | _PAGE | _COMMON, ("code",)),
    "unlock_link": Kind(_("Unlock link"), _LINK | _PAGE | _COMMON, ("link",)),
    "unlock_code_or_link": Kind(
        _("Unlock code and link"), _CODE | _LINK | _PAGE | _COMMON, ("code", "link")
    ),
    "sign_in": Kind(_("Sign-in code and link"), _CODE | _LINK | _COMMON, ("code", "link")),
    "access_ready": Kind(
        _("Access email"),
        _NAME
        | _COMMON
        | _LIST
        | {
            "link_hours": _P(_("Hours each page link is valid"), "24"),
            "set_password_link": _P(
                _("Link to choose a password (empty for members who have one)"),
                "https://example.com/access/invitation/def456/",
                secret=True,
            ),
            "invite_days": _P(_("Days the password link is valid"), "7"),
        },
        items=_PAGE_ITEMS,
    ),
    "invitation": Kind(
        _("Invitation"),
        _NAME
        | _COMMON
        | {
            "link": _P(
                _("The link to choose a password"),
                "https://example.com/access/invitation/x/",
                secret=True,
            ),
            "days": _P(_("Days the link is valid"), "7"),
            "sign_in_url": _P(_("The sign-in page"), "https://example.com/access/sign-in/"),
            "password": _P(_("An initial password (usually empty)"), "", secret=True),
        },
        ("link",),
    ),
    "password_reset": Kind(
        pgettext_lazy("kind of email", "Password reset"),
        _CODE
        | _COMMON
        | {
            "link": _P(
                _("The link to choose a new password"),
                "https://example.com/access/p/x/",
                secret=True,
            ),
            "link_hours": _P(_("Hours the link is valid"), "24"),
        },
        ("link",),
    ),
    "password_changed": Kind(
        _("Password changed notice"),
        _COMMON
        | {
            "changed_at": _P(_("When the password was changed"), "3 March 2026, 14:05 (UTC)"),
            "reset_url": _P(
                _("Where to choose a new password"), "https://example.com/access/password/forgot/"
            ),
        },
        ("reset_url",),
    ),
    "sign_in_link": Kind(
        _("Sign-in link"),
        _COMMON
        | {
            "link": _P(
                _("The one-time sign-in link"), "https://example.com/access/link/x/", secret=True
            ),
            "link_hours": _P(_("Hours the link is valid"), "24"),
        },
        ("link",),
    ),
    "expiry_reminder": Kind(
        _("Expiry reminder"), _NAME | _COMMON | _LIST, ("expires",), items=_PAGE_ITEMS
    ),
    # Drip: a page that opens some days after the access started (docs/courses-and-teams.md).
    "lesson_opened": Kind(_("Lesson opened"), _NAME | _PAGE | _COMMON, ("page_url",)),
    # The member's own account page (views/member_account.py, docs/member-accounts.md).
    "email_change_code": Kind(_("New email address code"), _CODE | _COMMON, ("code",)),
    "email_changed": Kind(
        _("Email address changed notice"),
        {
            "site_name": _COMMON["site_name"],
            "old_email": _P(_("The previous email address"), "ana@example.com"),
            "new_email": _P(_("The new email address"), "ana@example.org"),
            "changed_at": _P(_("When the address was changed"), "3 March 2026, 14:05 (UTC)"),
        },
        ("new_email",),
    ),
    "account_delete_code": Kind(_("Account deletion code"), _CODE | _COMMON, ("code",)),
    "account_deleted": Kind(_("Account deleted notice"), dict(_COMMON)),
    "password_removed": Kind(
        _("Password removed notice"),
        _COMMON
        | {
            "changed_at": _P(_("When the password was removed"), "3 March 2026, 14:05 (UTC)"),
            "reset_url": _P(
                _("Where to choose a new password"), "https://example.com/access/password/forgot/"
            ),
        },
    ),
    "signed_out_everywhere": Kind(
        _("Signed out everywhere notice"),
        _COMMON
        | {"changed_at": _P(_("When the other sessions were ended"), "3 March 2026, 14:05 (UTC)")},
    ),
}


def kind_choices() -> list[tuple[str, str]]:
    return [(name, kind.label) for name, kind in KINDS.items()]
