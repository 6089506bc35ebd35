"""Field shapes several tables share, so that each is written once."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import pgettext_lazy


def optional_fk(to, verbose_name, *, on_delete, **kwargs) -> models.ForeignKey:
    """A foreign key that may be empty, with no reverse accessor on ``to``."""
    return models.ForeignKey(
        to,
        null=True,
        blank=True,
        on_delete=on_delete,
        related_name="+",
        verbose_name=verbose_name,
        **kwargs,
    )


def optional_site(**kwargs) -> models.ForeignKey:
    """The site a row belongs to; empty: every site (or, for a challenge, none known). The
    row goes with its site."""
    return optional_fk(
        "wagtailcore.Site",
        pgettext_lazy("Wagtail site", "site"),
        on_delete=models.CASCADE,
        **kwargs,
    )


def optional_link(to: str, verbose_name) -> models.ForeignKey:
    """A reference kept for information (who created it, which list): emptied, not deleted
    with it, when the other row goes."""
    return optional_fk(to, verbose_name, on_delete=models.SET_NULL)


def unsent_index(name: str) -> models.Index:
    """What ``manage.py member_access_retry`` looks for in a table of emails sent by a
    background task: the rows not sent yet and not cancelled, by when they are due."""
    return models.Index(
        fields=["next_attempt_at"],
        condition=Q(sent_at__isnull=True, cancelled_at__isnull=True),
        name=name,
    )
