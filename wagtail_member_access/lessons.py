"""The "a lesson has opened" email (drip, docs/courses-and-teams.md#lesson-email).

Run with the expiry bookkeeping (``manage.py member_access_expire``, the ``record_expiries``
task) when ``WAGTAIL_MEMBER_ACCESS_LESSON_EMAILS`` is on. For each live page whose own
restriction drips, every active grant on its lists whose delay ran out within the last
:data:`LOOKBACK` gets one email, if the member can open the page now (every restriction on its
path passes). A :class:`~wagtail_member_access.models.LessonNotice` row, unique per address and
restriction, is written before the email: two runs at once never both send it, nor do a
member's two grants (on two of the restriction's lists). When the mail server fails the row is
removed again and the next run tries again. Domain grants get no lesson email: their
members are many addresses, and the grant's own address is none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import access, emails, sites
from .conf import app_settings
from .members import mask_email
from .models import Grant, LessonNotice, PageAccessRestriction

__all__ = ["LOOKBACK", "Report", "run"]

logger = logging.getLogger("wagtail_member_access")

#: Lessons that opened longer ago than this get no email: turning the setting on (or a job
#: that did not run for a while) does not send old news (docs/courses-and-teams.md).
LOOKBACK = timedelta(days=3)


@dataclass
class Report:
    #: (grant id, masked email, page title) of each email sent / that could not be sent.
    sent: list[tuple[int, str, str]] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"lessons_emailed": len(self.sent), "lesson_emails_failed": len(self.failed)}


def run(*, now: datetime | None = None) -> Report:
    """Send the due "a lesson has opened" emails, each once; nothing when
    ``LESSON_EMAILS`` is off. A failed email is in ``report.failed`` and stays due."""
    report = Report()
    if not app_settings.LESSON_EMAILS:
        return report
    now = now or timezone.now()
    dripping = (
        PageAccessRestriction.objects.filter(opens_after__isnull=False, page__live=True)
        .select_related("page")
        .order_by("pk")
    )
    for restriction in dripping:
        _send_for(restriction, now, report)
    return report


def _due(restriction: PageAccessRestriction, now: datetime):
    opened_by = now - restriction.opens_after
    return (
        Grant.objects.active(now)
        .filter(access_list__restrictions=restriction)
        .annotate(drip_start=Coalesce("starts_at", "created_at"))
        .filter(drip_start__lte=opened_by, drip_start__gt=opened_by - LOOKBACK)
        .exclude(email__in=LessonNotice.objects.filter(restriction=restriction).values("email"))
        .exclude(email__startswith="@")  # a domain grant (docs/courses-and-teams.md)
        .order_by("pk")
    )


def _send_for(restriction: PageAccessRestriction, now: datetime, report: Report) -> None:
    page = restriction.page.specific
    context = None
    for grant in _due(restriction, now):
        if access.member_may_view(grant.email, page, open_now=True) is None:
            continue  # another restriction on the path still holds the member back
        try:
            with transaction.atomic():
                notice = LessonNotice.objects.create(
                    grant=grant, email=grant.email, restriction=restriction
                )
        except IntegrityError:
            continue  # another run, or this member's other grant, claimed it
        if context is None:
            site = page.get_site()
            context = {
                "page_title": page.title,
                "page_url": page.get_full_url() or "",
                "site_name": sites.site_name(site or sites.default_site()),
            }
        entry = (grant.pk, mask_email(grant.email), page.title)
        delivery = emails.deliver(
            "lesson_opened",
            grant.email,
            context | {"name": grant.name, "email": grant.email},
            language=settings.LANGUAGE_CODE,
            about=grant,
            page=page,
        )
        if not delivery:
            notice.delete()  # the next run tries again
            report.failed.append(entry)
            logger.error(
                "Could not send the lesson email to %s (%s); it is tried again on the next run.",
                entry[1],
                delivery.error.partition(":")[0],
            )
            continue
        report.sent.append(entry)
