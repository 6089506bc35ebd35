"""Field shapes several tables share, so that each is written once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


def optional_site(**kwargs) -> models.ForeignKey:
    """The site a row belongs to; empty: every site (or, for a challenge, none known). The
    row goes with its site."""
    return models.ForeignKey(
        "wagtailcore.Site",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("site"),
        **kwargs,
    )


def optional_link(to: str, verbose_name) -> models.ForeignKey:
    """A reference kept for information (who created it, which list): emptied, not deleted
    with it, when the other row goes."""
    return models.ForeignKey(
        to,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=verbose_name,
    )
