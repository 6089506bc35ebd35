from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from .fields import optional_link, optional_site


class AccessList(models.Model):
    """A product, course or membership tier: the people (grants) who may see what it protects."""

    name = models.CharField(_("name"), max_length=255)
    slug = models.SlugField(_("slug"), max_length=255, unique=True)
    description = models.TextField(_("description"), blank=True)
    site = optional_site(
        help_text=_("The site whose pages this list may open. Leave empty for all sites.")
    )
    default_days = models.PositiveIntegerField(
        _("default access period (days)"),
        null=True,
        blank=True,
        help_text=_(
            "How long access lasts when a grant is added without an expiry date (by hand, "
            "import or purchase). Leave empty for unlimited access."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("access list")
        verbose_name_plural = _("access lists")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:255] or "list"
        super().save(*args, **kwargs)


#: The grants listing's sort keys that may be empty, and where an empty value sorts: an empty
#: expiry (unlimited) is the latest end, an empty start or last access the earliest.
EMPTY_IS_LATEST = {"expires_at": True, "starts_at": False, "last_access_at": False}


def listing_order(key: str, *, descending: bool = False) -> list:
    """The grants listing's ``ORDER BY`` for ``key``: the key, then email and id, all in one
    direction, so that one index serves both directions (read backwards for descending).

    For a key in :data:`EMPTY_IS_LATEST`, a boolean "sorts as empty" term comes first. It
    places empty values the same way on SQLite and PostgreSQL (whose own orders of NULL
    differ) and, unlike ``NULLS FIRST``, can be part of an index on both
    (docs/performance.md#grants-listing-and-export).
    """
    terms = [F(key), F("email"), F("id")] if key != "email" else [F("email"), F("id")]
    if key in EMPTY_IS_LATEST:
        terms.insert(0, _empty_term(key))
    return [term.desc() if descending else term.asc() for term in terms]


def _empty_term(key: str) -> ExpressionWrapper:
    # False sorts before True: "is null" puts empty values last, "is not null" first.
    condition = Q(**{f"{key}__isnull": EMPTY_IS_LATEST[key]})
    return ExpressionWrapper(condition, output_field=BooleanField())


def _listing_indexes() -> list[models.Index]:
    """The indexes behind the grants listing's search and sort orders, for the whole table
    and per access list (docs/performance.md#grants-listing-and-export)."""
    indexes = [
        # Sort by email within one list (all lists: the (email, access_list) constraint).
        models.Index(fields=["access_list", "email"], name="wma_grant_list_email"),
        # Email prefix search on PostgreSQL (LIKE 'ana%' needs a pattern operator class
        # unless the database collation is "C"); a plain index on other databases.
        models.Index(
            fields=["email"], opclasses=["varchar_pattern_ops"], name="wma_grant_email_pat"
        ),
        models.Index(
            fields=["access_list", "email"],
            opclasses=["int8_ops", "varchar_pattern_ops"],
            name="wma_grant_list_email_pat",
        ),
    ]
    short = {"expires_at": "exp", "starts_at": "start", "last_access_at": "access"}
    for key, name in short.items():
        terms = [_empty_term(key), F(key), F("email"), F("id")]
        indexes.append(models.Index(*terms, name=f"wma_grant_sort_{name}"))
        indexes.append(models.Index(F("access_list"), *terms, name=f"wma_grant_lsort_{name}"))
    return indexes


class GrantQuerySet(models.QuerySet):
    def active(self, at=None):
        """Grants that open their list right now: started, not expired, not revoked."""
        at = at or timezone.now()
        return self.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=at),
            Q(expires_at__isnull=True) | Q(expires_at__gt=at),
            revoked_at__isnull=True,
        )


class Grant(models.Model):
    """One email's access to one access list, from ``starts_at`` until ``expires_at``.

    There is one grant per (email, list): granting again updates it. ``email`` is stored
    normalised (see :func:`wagtail_member_access.members.normalize_email`) and is the address
    every email about this grant is sent to.
    """

    class Source(models.TextChoices):
        MANUAL = "manual", _("Added by hand")
        IMPORT = "import", _("CSV import")
        PURCHASE = "purchase", _("Purchase")
        API = "api", _("API")

    access_list = models.ForeignKey(
        AccessList, on_delete=models.CASCADE, related_name="grants", verbose_name=_("access list")
    )
    email = models.EmailField(_("email"), max_length=254)
    name = models.CharField(_("name"), max_length=255, blank=True)
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    expires_at = models.DateTimeField(
        _("expires"), null=True, blank=True, help_text=_("Leave empty for unlimited access.")
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    reference = models.CharField(
        _("reference"),
        max_length=255,
        blank=True,
        help_text=_("An external reference such as an order number."),
    )
    note = models.TextField(_("note"), blank=True)
    added_by = optional_link(settings.AUTH_USER_MODEL, _("added by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    last_access_at = models.DateTimeField(_("last access"), null=True, blank=True)
    #: When the expiry reminder for the current ``expires_at`` was sent (None: not yet).
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    #: When the expiry of the current ``expires_at`` was recorded (audit log, signal).
    expiry_recorded_at = models.DateTimeField(_("expiry recorded"), null=True, blank=True)
    #: A domain grant's number of seats (``email`` is ``"@domain"``): how many distinct
    #: members may use it; None: as many as prove an address at the domain.
    seats = models.PositiveIntegerField(
        _("seats"),
        null=True,
        blank=True,
        help_text=_(
            "For a domain (@school.example): how many members may use it. Leave empty for no limit."
        ),
    )

    objects = GrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["email"]
        constraints = [
            # Email first: the access check looks grants up by email (an index scan whatever
            # the number of grants).
            models.UniqueConstraint(fields=["email", "access_list"], name="wma_grant_email_list"),
            models.UniqueConstraint(
                fields=["access_list", "reference"],
                condition=~Q(reference=""),
                name="wma_grant_list_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["access_list", "expires_at"], name="wma_grant_list_exp"),
            *_listing_indexes(),
        ]

    def __str__(self):
        # What the admin's titles, messages and history show ("Delete ana@… on “Course A”").
        return _("%(email)s on “%(list)s”") % {"email": self.email, "list": self.access_list}

    @property
    def is_domain(self) -> bool:
        """A domain grant: everyone who proves an address at the domain in ``email``
        (docs/courses-and-teams.md#domain-grants-and-seats)."""
        return self.email.startswith("@")

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return (
            self.revoked_at is None
            and (self.starts_at is None or self.starts_at <= at)
            and (self.expires_at is None or self.expires_at > at)
        )


class GrantReference(models.Model):
    """Every reference (order id) that has granted access on a list, with the end of the
    access it sold, also after a later order replaced the grant's ``reference``: an order
    grants once, however late it is delivered again, and a refund takes back that order's
    period only (see :func:`wagtail_member_access.grants.refund`). A member who deletes their
    account leaves its references without a grant (``grant`` None, nothing about them kept):
    a replayed purchase then grants nothing (docs/member-accounts.md#delete-my-account)."""

    access_list = models.ForeignKey(
        AccessList, on_delete=models.CASCADE, related_name="+", verbose_name=_("access list")
    )
    reference = models.CharField(_("reference"), max_length=255)
    grant = models.ForeignKey(
        Grant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="references",
        verbose_name=_("grant"),
    )
    #: The end of the access this order sold (None: unlimited).
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    #: When the order was refunded or cancelled (None: it still counts).
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("grant reference")
        verbose_name_plural = _("grant references")
        constraints = [
            models.UniqueConstraint(
                fields=["access_list", "reference"], name="wma_grantref_list_reference"
            )
        ]

    def __str__(self):
        return self.reference


class Seat(models.Model):
    """One member's seat on a domain grant: taken when they first unlock a page through it,
    kept until an editor frees it (docs/courses-and-teams.md#domain-grants-and-seats)."""

    grant = models.ForeignKey(
        Grant, on_delete=models.CASCADE, related_name="seat_set", verbose_name=_("grant")
    )
    #: The member's address, normalised, its domain in the grant's canonical form.
    email = models.EmailField(_("email"), max_length=254)
    taken_at = models.DateTimeField(_("taken at"), auto_now_add=True)

    class Meta:
        verbose_name = _("seat")
        verbose_name_plural = _("seats")
        ordering = ["taken_at", "pk"]
        constraints = [
            # (grant, email) in this order: the serve query looks a seat up by both.
            models.UniqueConstraint(fields=["grant", "email"], name="wma_seat_grant_email"),
        ]
        # A member's seats by address (the access check may read them all at once; a
        # deleted account frees them).
        indexes = [models.Index(fields=["email"], name="wma_seat_email")]

    def __str__(self):
        return self.email
