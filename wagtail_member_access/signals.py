"""Signals sent by wagtail-member-access. Receivers get keyword arguments only."""

from django.dispatch import Signal

__all__ = ["access_expired", "access_granted", "access_revoked", "member_unlocked"]

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
