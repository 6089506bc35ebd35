"""WSGI entry point for the multiprocess test's gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.multiprocess.settings")
application = get_wsgi_application()
