"""The one grant path: every way of giving or taking access (API, admin, import, webhook,
tests) goes through these functions, so validation, idempotency, the audit log and the
signals happen once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from wagtail.log_actions import log

from . import log_actions
from .members import mask_email, normalize_email
from .models import AccessList, Grant
from .signals import access_granted, access_revoked

__all__ = ["grant", "revoke"]

logger = logging.getLogger("wagtail_member_access")

_UNSET = object()


def _log_data(grant: Grant) -> dict:
    return {
        "email": grant.email,
        "list": grant.access_list.name,
        "list_id": grant.access_list_id,
        "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
        "source": grant.source,
        "reference": grant.reference,
    }


def grant(
    email: str,
    access_list: AccessList,
    *,
    name: str | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None | object = _UNSET,
    duration: timedelta | None = None,
    source: str = Grant.Source.API,
    reference: str | None = None,
    note: str | None = None,
    added_by=None,
    notify: bool = False,
) -> tuple[Grant, bool]:
    """Give ``email`` access to ``access_list``; return ``(grant, created)``.

    One grant per (email, list): granting again updates the grant and restores it if it was
    revoked. A non-empty ``reference`` (an order id) is an idempotency key: if the list already
    has a grant with it, that grant is returned unchanged. ``duration`` sets ``expires_at`` to
    ``starts_at`` (or now) + duration; passing neither keeps an existing grant's expiry (a new
    grant is then unlimited). Raises ``ValidationError`` for a malformed email or an expiry
    before the start, and changes nothing then.
    """
    email = normalize_email(email)
    if duration is not None:
        if expires_at is not _UNSET and expires_at is not None:
            raise ValidationError("Give either expires_at or duration, not both.", code="both")
        expires_at = (starts_at or timezone.now()) + duration
    if expires_at not in (_UNSET, None) and starts_at and expires_at <= starts_at:
        raise ValidationError("The access must expire after it starts.", code="expires_before")
    if source not in Grant.Source.values:
        raise ValidationError(f"Unknown source {source!r}.", code="source")

    with transaction.atomic():
        if reference:
            existing = Grant.objects.filter(access_list=access_list, reference=reference).first()
            if existing is not None:
                return existing, False
        try:
            with transaction.atomic():
                obj, created = Grant.objects.select_for_update().get_or_create(
                    email=email,
                    access_list=access_list,
                    defaults={"source": source, "added_by": added_by},
                )
        except IntegrityError:  # a concurrent grant for the same email and list
            obj, created = (
                Grant.objects.select_for_update().get(email=email, access_list=access_list),
                False,
            )
        if name is not None:
            obj.name = name
        if note is not None:
            obj.note = note
        if starts_at is not None:
            obj.starts_at = starts_at
        if expires_at is not _UNSET:
            obj.expires_at = expires_at
        if reference:
            obj.reference = reference
        if not created:
            obj.source = source
        obj.revoked_at = None
        obj.save()
        log(
            instance=obj,
            action=log_actions.GRANT,
            user=added_by,
            data=_log_data(obj) | {"created": created},
        )
        transaction.on_commit(lambda: access_granted.send(sender=Grant, grant=obj, created=created))
    logger.info("Access granted to %s on list %s.", mask_email(email), access_list.pk)
    if notify:
        from .flows import send_access_ready

        transaction.on_commit(lambda: send_access_ready(obj))
    return obj, created


def revoke(email: str, access_list: AccessList, *, by=None) -> bool:
    """End ``email``'s access to ``access_list`` from the next request on.

    Returns False (and changes nothing) when there is no active grant to revoke.
    """
    email = normalize_email(email)
    with transaction.atomic():
        obj = (
            Grant.objects.select_for_update()
            .filter(email=email, access_list=access_list, revoked_at__isnull=True)
            .first()
        )
        if obj is None:
            return False
        obj.revoked_at = timezone.now()
        obj.save(update_fields=["revoked_at", "updated_at"])
        log(instance=obj, action=log_actions.REVOKE, user=by, data=_log_data(obj))
        transaction.on_commit(lambda: access_revoked.send(sender=Grant, grant=obj))
    logger.info("Access revoked for %s on list %s.", mask_email(email), access_list.pk)
    return True
