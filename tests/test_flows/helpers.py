"""What the flow tests share: the link patterns of the account emails, and audit-log lookups."""

from __future__ import annotations

import re

from wagtail.models import ModelLogEntry

INVITE_RE = r"http://[^/\s]+(/access/invitation/([A-Za-z0-9_-]{43})/)"
RESET_RE = r"http://[^/\s]+(/access/password/reset/([A-Za-z0-9_-]{43})/)"


def find(pattern, message):
    match = re.search(pattern, message.body)
    assert match, message.body
    return match


def entries(user, action):
    return ModelLogEntry.objects.filter(action=action, object_id=str(user.pk))
