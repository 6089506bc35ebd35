"""Settings of the example site: a minimal Wagtail site with wagtail-member-access installed.

DEMO ONLY: DEBUG is on, the secret key is public and emails go to the console and to the demo
outbox at /outbox/. Nothing here is meant for production.

The database is the SQLite file ``example_site/db.sqlite3`` unless ``DATABASE_URL`` is set
(e.g. ``postgres://postgres@127.0.0.1:5432/demo``).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

PROJECT_DIR = Path(__file__).resolve().parent
BASE_DIR = PROJECT_DIR.parent  # example_site/

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-site-demo-only-not-secret")
# On unless DJANGO_DEBUG=0 (which also turns the demo outbox off).
DEBUG = os.environ.get("DJANGO_DEBUG", "1") != "0"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
INTERNAL_IPS = ["127.0.0.1", "::1"]  # the `debug` template variable (outbox link in base.html)

INSTALLED_APPS = [
    "home",
    "demo_outbox",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

# wagtail-member-access: the whole install contract (plus the URLs in demo/urls.py).
INSTALLED_APPS += ["wagtail_member_access", "django_otp"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # A German browser sees German pages and gets German emails (README, "Try it").
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

# Emails are printed to the terminal (like Django's console backend) and kept for the demo
# outbox page at /outbox/ (last DEMO_OUTBOX_KEEP messages, JSON files in DEMO_OUTBOX_DIR).
EMAIL_BACKEND = "demo_outbox.backend.EmailBackend"
DEFAULT_FROM_EMAIL = "Example site <noreply@example.com>"
DEMO_OUTBOX_DIR = BASE_DIR / "outbox"
DEMO_OUTBOX_KEEP = 50

WAGTAIL_SITE_NAME = "Example site"
# The port `make demo PORT=…` serves on (DEMO_PORT): links in emails use it, as does the
# seeded Site (seed_demo).
DEMO_PORT = int(os.environ.get("DEMO_PORT") or 8000)
WAGTAILADMIN_BASE_URL = f"http://127.0.0.1:{DEMO_PORT}"
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# The unlock page extends the site's own base template, so it looks like the site.
WAGTAIL_MEMBER_ACCESS_BASE_TEMPLATE = "base.html"

# A demo tour sends one address many emails from one IP (codes, links, sign-in, reset):
# looser sending limits than the production defaults (5 per email, 20 per IP an hour).
WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_EMAIL = "30/h"
WAGTAIL_MEMBER_ACCESS_RATE_SEND_PER_IP = "100/h"

# Show what wagtail-member-access does (grants, codes sent, unlocks) in the runserver output.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "wagtail_member_access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
