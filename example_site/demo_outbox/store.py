"""DEMO ONLY. Sent emails kept as JSON files, one per message, in ``DEMO_OUTBOX_DIR``.

Files rather than memory because ``runserver`` restarts its process on every code change (the
autoreloader) and the outbox should survive that; files rather than a model so the demo
works on any database without a migration. The newest ``DEMO_OUTBOX_KEEP`` messages are kept.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

ID_RE = re.compile(r"^\d{20}-[0-9a-f]{8}$")


def outbox_dir() -> Path:
    return Path(settings.DEMO_OUTBOX_DIR)


def keep() -> int:
    return int(getattr(settings, "DEMO_OUTBOX_KEEP", 50))


def _html_part(message) -> str | None:
    for content, mimetype in getattr(message, "alternatives", None) or ():
        if mimetype == "text/html":
            return str(content)
    return None


def save(message) -> str:
    """Store one ``EmailMessage``; return its id. Ids sort by time (nanoseconds first)."""
    directory = outbox_dir()
    directory.mkdir(parents=True, exist_ok=True)
    message_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    record = {
        "id": message_id,
        "sent_at": timezone.now().isoformat(timespec="seconds"),
        "from": message.from_email,
        "to": list(message.to),
        "subject": str(message.subject),
        "text": str(message.body),
        "html": _html_part(message),
    }
    tmp = directory / f".{message_id}.tmp"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, directory / f"{message_id}.json")  # readers never see half a file
    prune()
    return message_id


def _files() -> list[Path]:
    directory = outbox_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.json"), reverse=True)  # newest first


def prune() -> None:
    for path in _files()[keep() :]:
        path.unlink(missing_ok=True)


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # pruned or being replaced by another process
        return None


def recent() -> list[dict]:
    """The kept messages, newest first."""
    return [record for path in _files()[: keep()] if (record := _load(path))]


def get(message_id: str) -> dict | None:
    if not ID_RE.match(message_id):
        return None
    return _load(outbox_dir() / f"{message_id}.json")
