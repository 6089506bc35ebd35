"""A member's own changes to the grants keyed by their address: a new address
(:func:`move_email`) and deleting their account (:func:`forget_email`). Part of the one grant
path: audit-logged, one transaction, signals after the commit."""

from __future__ import annotations

import logging

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from wagtail.log_actions import log
from wagtail.models import ModelLogEntry

from .. import log_actions, sites
from ..domains import canonical_address
from ..members import NotAllowed, find_member, mask_email, normalize_email
from ..models import Grant, GrantReference, Seat
from ..signals import access_revoked

__all__ = ["EMAIL_TAKEN", "forget_email", "forgotten_reference", "move_email"]

logger = logging.getLogger("wagtail_member_access")

EMAIL_TAKEN = _("This email address is already used by another account.")


def move_email(old: str, new: str, *, by=None) -> int:
    """Move every grant of ``old`` to ``new`` (their order references follow), in one
    transaction, each written to the audit log; return how many moved.

    Raises ``ValidationError`` (code ``taken``) and changes nothing when ``new`` belongs to
    another account or already has a grant on a list ``old`` has one on; ``invalid`` for a
    malformed address or ``new`` equal to ``old``."""
    old, new = normalize_email(old), normalize_email(new)
    if old == new:
        raise ValidationError(_("This is your email address already."), code="invalid")
    try:
        other = find_member(new)
    except NotAllowed:
        other = True
    if other is not None:
        raise ValidationError(EMAIL_TAKEN, code="taken")
    with transaction.atomic():
        moving = list(
            Grant.objects.select_for_update().select_related("access_list").filter(email=old)
        )
        lists = [g.access_list_id for g in moving]
        if Grant.objects.filter(email=new, access_list_id__in=lists).exists():
            raise ValidationError(EMAIL_TAKEN, code="taken")
        for obj in moving:
            obj.email = new
            obj.save(update_fields=["email", "updated_at"])
            log(
                instance=obj,
                action=log_actions.EMAIL_MOVED,
                user=by,
                data={"email": new, "old_email": old, "list": obj.access_list.name},
            )
    logger.info("%s grants moved from %s to %s.", len(moving), mask_email(old), mask_email(new))
    return len(moving)


def forgotten_reference(access_list, reference: str) -> bool:
    """Did ``reference`` grant access on ``access_list`` to an account deleted since? Then a
    replayed purchase must not grant again."""
    return (
        bool(reference)
        and GrantReference.objects.filter(
            access_list=access_list, reference=reference, grant__isnull=True
        ).exists()
    )


def forget_email(email: str) -> int:
    """Delete every grant of ``email`` (a member deleting their account) and return how many.

    Their order references stay, without the grant (see :func:`forgotten_reference`); the
    grants' audit-log entries lose the address; one entry on the default site records the
    deletion, without the address. ``access_revoked`` (``deleted=True``) follows the commit
    for each grant that was active. Their seats on domain grants are freed, and the seats'
    audit-log entries lose the address too."""
    email = normalize_email(email)
    with transaction.atomic():
        _forget_seats(canonical_address(email))
        doomed = list(Grant.objects.select_for_update().filter(email=email))
        ids = [str(g.pk) for g in doomed]
        active = [g for g in doomed if g.is_active()]
        GrantReference.objects.filter(grant__in=doomed).update(grant=None)
        ModelLogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Grant), object_id__in=ids
        ).update(label=_("deleted member"), data={})
        Grant.objects.filter(pk__in=[g.pk for g in doomed]).delete()
        site = sites.default_site()
        if site is not None:
            log(instance=site, action=log_actions.ACCOUNT_DELETED, data={"grants": len(doomed)})
        for obj in active:
            transaction.on_commit(
                lambda obj=obj: access_revoked.send(sender=Grant, grant=obj, deleted=True)
            )
    logger.info("A member deleted their account and %s grants.", len(doomed))
    return len(doomed)


def _forget_seats(address: str) -> None:
    """Free every seat of ``address`` and take it out of the seats' audit-log entries."""
    if not address:
        return
    Seat.objects.filter(email=address).delete()
    ModelLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Grant),
        action__in=[log_actions.SEAT_TAKEN, log_actions.SEAT_FREED],
        data__email=address,
    ).update(label=_("deleted member"), data={})
