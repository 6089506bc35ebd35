"""The test settings with a user model that requires a short username (``handle``) and keeps
the email in ``email_address`` (``pytest --ds=tests.settings_username_user``;
tests/test_custom_user_models.py)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = ["tests.usernameuser", *INSTALLED_APPS]
AUTH_USER_MODEL = "usernameuser.HandleUser"
