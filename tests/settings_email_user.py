"""The test settings with a user model whose USERNAME_FIELD is the email and that has no
username (``pytest --ds=tests.settings_email_user``; tests/test_custom_user_models.py)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = ["tests.emailuser", *INSTALLED_APPS]
AUTH_USER_MODEL = "emailuser.EmailUser"
