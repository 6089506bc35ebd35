#!/usr/bin/env python
"""The example site's manage.py: run it from anywhere (``python example_site/manage.py …``);
the directory it lives in is the import root for ``demo`` (settings), ``home`` and
``demo_outbox``."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
