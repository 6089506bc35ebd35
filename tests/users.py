"""Users for the member-account tests, whatever ``AUTH_USER_MODEL`` is: Django's ``User``, a
model with the email as ``USERNAME_FIELD`` and no username, or one whose required username is
a separate, short field (``tests/settings_email_user.py``, ``tests/settings_username_user.py``).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


def make_user(email: str, password: str | None = PASSWORD, **flags):
    """An active user with ``email`` (and a username derived from it where the model needs
    one) and ``password`` (None: unusable)."""
    User = get_user_model()
    fields = {User.get_email_field_name(): email}
    if User.get_email_field_name() != User.USERNAME_FIELD:
        fields[User.USERNAME_FIELD] = email.split("@")[0]
    user = User._default_manager.create_user(**fields, password=password)
    if password is None:
        user.set_unusable_password()
    for name, value in flags.items():
        setattr(user, name, value)
    user.save()
    return user


def login_field(user) -> str:
    """What the user types on the sign-in page: their email."""
    return getattr(user, user.get_email_field_name())
