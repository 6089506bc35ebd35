"""A validated purchase applied to the grants, through :mod:`wagtail_member_access.grants`
only (the one grant path): one reference grants once, a revoke refunds that order."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .. import grants
from ..models import AccessList, Grant
from .purchase import Purchase
from .results import Refusal, Result, invalid, show

__all__ = ["apply"]


def _grant_data(obj: Grant, access_list: AccessList) -> dict:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "email": obj.email,
        "list": access_list.slug,
        "reference": obj.reference,
        "starts_at": iso(obj.starts_at),
        "expires_at": iso(obj.expires_at),
        "revoked_at": iso(obj.revoked_at),
        "active": obj.is_active(),
    } | ({"seats": obj.seats} if obj.is_domain else {})


def _conflict(reference: str) -> Refusal:
    return invalid(
        "reference_conflict",
        f"The reference {show(reference)} belongs to a grant for another email on this list.",
        status=409,
    )


def apply(purchase: Purchase) -> Result:
    """Grant or revoke what ``purchase`` says, through :mod:`grants`.

    A reference already granted returns ``already_granted`` and changes nothing (also after a
    refund, and after a later order updated the grant: a replayed purchase neither restores
    revoked access nor changes the period). Raises :class:`Refusal` for an unknown list (404),
    a reference used for another email (409), no grant with the reference to revoke (404) and
    anything ``grants.grant`` refuses (422). A revoke takes back that order's period only
    (:func:`grants.refund`).
    """
    # One webhook call per list at a time (PostgreSQL locks the list's row; SQLite has one
    # writer anyway): two deliveries of one order at the same instant must not both pass the
    # "reference already granted?" check, or both would log a grant and send the email.
    with transaction.atomic():
        return _apply(purchase)


def _apply(purchase: Purchase) -> Result:
    access_list = AccessList.objects.select_for_update().filter(slug=purchase.list_slug).first()
    if access_list is None:
        raise invalid(
            "unknown_list", f"There is no access list {show(purchase.list_slug)}.", status=404
        )
    existing = grants.by_reference(access_list, purchase.reference)

    if purchase.event == "revoke":
        if existing is None:
            raise invalid(
                "unknown_reference",
                f"No grant on this list has the reference {show(purchase.reference)}: nothing "
                "to revoke. (If the purchase is still on its way, retry later.)",
                status=404,
            )
        if purchase.email and existing.email != purchase.email:
            raise _conflict(purchase.reference)
        status, obj = grants.refund(access_list, purchase.reference)
        return Result(200, {"status": status, "grant": _grant_data(obj, access_list)})

    if existing is not None:
        if existing.email != purchase.email:
            raise _conflict(purchase.reference)
        return Result(
            200, {"status": "already_granted", "grant": _grant_data(existing, access_list)}
        )
    if purchase.duration is not None:
        kwargs = {"duration": purchase.duration}
    elif purchase.expires_at is grants.UNSET:
        # No period in the event: the list's default, also for a renewal (docs/webhooks.md).
        kwargs = {"expires_at": grants.default_expiry(access_list)}
    else:
        kwargs = {"expires_at": purchase.expires_at}
    try:
        obj, created = grants.grant(
            purchase.email,
            access_list,
            name=purchase.name,
            source=Grant.Source.PURCHASE,
            reference=purchase.reference,
            notify=purchase.notify,
            extend_only=True,
            seats=purchase.seats,
            **kwargs,
        )
    except ValidationError as error:
        raise invalid(error.code or "invalid", " ".join(error.messages)) from None
    except IntegrityError:  # the same reference granted to another email at this instant
        raise _conflict(purchase.reference) from None
    if obj.reference != purchase.reference or obj.email != purchase.email:
        raise _conflict(purchase.reference)  # a concurrent call won with another email
    return Result(
        200,
        {"status": "granted", "created": created, "grant": _grant_data(obj, access_list)},
    )
