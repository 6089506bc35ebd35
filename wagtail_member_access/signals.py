"""Signals sent by wagtail-member-access. Receivers get keyword arguments only."""

from django.dispatch import Signal

__all__ = [
    "access_expired",
    "access_granted",
    "access_revoked",
    "member_unlocked",
    "seat_freed",
    "seat_taken",
]

#: A grant was created, updated or restored. kwargs: ``grant``, ``created``.
access_granted = Signal()

#: A grant was revoked. kwargs: ``grant``.
access_revoked = Signal()

#: A grant's access period ended (sent once per expiry by ``manage.py member_access_expire``
#: or its task). kwargs: ``grant``.
access_expired = Signal()

#: A visitor proved their email and was signed in to view a page.
#: kwargs: ``request``, ``user``, ``page``, ``method`` ("code").
member_unlocked = Signal()

#: A member took a seat on a domain grant (their first unlock through it).
#: kwargs: ``seat``, ``grant``.
seat_taken = Signal()

#: An editor freed a member's seat on a domain grant. kwargs: ``seat``, ``grant``.
seat_freed = Signal()
