"""A user model with a required, short username as USERNAME_FIELD and the email in a field of
another name (tests/settings_username_user.py): accounts created for an email need a
username that fits."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class HandleUserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, handle, email_address="", password=None, **extra):
        if not handle:
            raise ValueError("A handle is required.")
        user = self.model(handle=handle, email_address=email_address, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, handle, email_address="", password=None, **extra):
        return self.create_user(
            handle, email_address, password, is_staff=True, is_superuser=True, **extra
        )


class HandleUser(AbstractBaseUser, PermissionsMixin):
    handle = models.CharField(max_length=30, unique=True)
    email_address = models.EmailField(blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    objects = HandleUserManager()

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email_address"
    REQUIRED_FIELDS = ["email_address"]

    def get_full_name(self):
        return ""

    def get_short_name(self):
        return self.handle
