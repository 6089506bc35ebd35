"""Filter Wagtail's page listings by member access (docs/editor-guide.md#filter-by-member-access).

Two filters, "Member access" (any, one mode, or none) and "Access list", added to Wagtail's
``PageFilterSet``: the filterset of the page explorer and of every flat page listing, those of
a site's own page viewsets included (their filtersets derive from it, or, with
``list_filter``, are generated from it). Wagtail offers no hook for a listing's filters, so
:func:`install` adds them to the class (from ``AppConfig.ready()``); a filterset that does not
derive from ``PageFilterSet`` can take them from :class:`MemberAccessFilterSetMixin`.

A page matches when a restriction that matches applies to it: set on the page, on an
ancestor, on a translation of either, or on an alias's source, as for the mirror rows
(:func:`wagtail_member_access.mirror.desired_page_ids`).
"""

from __future__ import annotations

import django_filters
import swapper
from django.db.models import Q
from django.forms import CheckboxSelectMultiple, RadioSelect
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.views.pages.listing import ExplorableIndexView, PageFilterSet

from .. import mirror
from ..models import AccessList, PageAccessRestriction

__all__ = [
    "ANY",
    "NONE",
    "MemberAccessFilterSetMixin",
    "filter_protected",
    "install",
]

Mode = PageAccessRestriction.Mode

ANY = "any"
NONE = "none"


def _protected(restrictions) -> Q:
    """Pages at or below the pages that ``restrictions`` protect, as a ``pk__in`` subquery
    (Wagtail's search backends accept it, as they do the listing's permission filter)."""
    Page = swapper.load_model("wagtailcore", "Page")
    ids = mirror.desired_page_ids(restrictions=restrictions)
    paths = sorted(Page.objects.filter(pk__in=ids).values_list("path", flat=True))
    tops = []  # each tree once: a path below another adds nothing
    for path in paths:
        if not tops or not path.startswith(tops[-1]):
            tops.append(path)
    if not tops:
        return Q(pk__in=[])
    condition = Q()
    for path in tops:
        condition |= Q(path__startswith=path)
    return Q(pk__in=Page.objects.filter(condition).values("pk"))


def filter_protected(queryset, *, mode: str = ANY, access_lists=()):
    """``queryset`` (pages) narrowed to those with member access: of any mode (``ANY``), of
    ``mode``, or none (``NONE``); and, with ``access_lists``, protected by a restriction
    naming one of them."""
    restrictions = PageAccessRestriction.objects.all()
    if access_lists:
        restrictions = restrictions.filter(access_lists__in=list(access_lists))
    if mode == NONE:
        return queryset.exclude(_protected(restrictions))
    if mode != ANY:
        restrictions = restrictions.filter(mode=mode)
    return queryset.filter(_protected(restrictions))


class MemberAccessFilter(django_filters.ChoiceFilter):
    def filter(self, qs, value):
        if not value:
            return qs
        return filter_protected(qs, mode=value)


class AccessListFilter(django_filters.ModelMultipleChoiceFilter):
    def filter(self, qs, value):
        if not value:
            return qs
        return filter_protected(qs, access_lists=value)


class MemberAccessFilterSetMixin(WagtailFilterSet):
    """The two filters, for a page filterset that does not derive from Wagtail's
    ``PageFilterSet`` (list it as a base class)."""

    member_access = MemberAccessFilter(
        label=_("Member access"),
        empty_label=_("All pages"),
        choices=[(ANY, _("Any member access")), *Mode.choices, (NONE, _("No member access"))],
        widget=RadioSelect,
    )
    member_access_list = AccessListFilter(
        label=_("Access list"),
        queryset=AccessList.objects.order_by("name"),
        widget=CheckboxSelectMultiple,
    )


def _add(filterset_class, filters) -> None:
    for name, filter_ in filters.items():
        if name not in filterset_class.declared_filters:
            filterset_class.declared_filters[name] = filter_
        if name not in filterset_class.base_filters:
            filterset_class.base_filters[name] = filter_


def install() -> None:
    """Add the filters to Wagtail's ``PageFilterSet`` and every filterset deriving from it
    (idempotent). Those defined later inherit them (django-filter copies a base class's
    ``declared_filters``)."""
    filters = dict(MemberAccessFilterSetMixin.declared_filters)
    pending = [PageFilterSet]
    while pending:
        cls = pending.pop()
        _add(cls, filters)
        pending.extend(cls.__subclasses__())


def problems() -> list[str]:
    """What no longer matches in Wagtail for :func:`install`; empty when all match."""
    found = []
    if not {"member_access", "member_access_list"} <= set(PageFilterSet.base_filters):
        found.append("PageFilterSet does not carry the member access filters")
    if not issubclass(ExplorableIndexView.base_filterset_class, PageFilterSet):
        found.append("the page explorer no longer filters with a PageFilterSet")
    return found
