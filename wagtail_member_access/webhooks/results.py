"""What a webhook call ends in: a :class:`Result` to send, or a :class:`Refusal` (raised, then
answered as a 4xx JSON error); and how values are quoted in their messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CONTROL", "Refusal", "Result", "invalid", "show"]

#: Control characters: refused in text fields, never written to the log.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Refusal(Exception):
    """A refused webhook call: nothing was granted or revoked.

    ``counted``: refusals of unsigned or wrongly signed calls count towards
    ``RATE_WEBHOOK_PER_IP``; those after the signature was verified (an unknown list, a bad
    email: the secret's holder made a mistake) do not, so one misconfigured product cannot lock
    a shop out, and neither do a disabled endpoint, a GET or a call already rate limited.
    """

    def __init__(self, status: int, code: str, detail: str, *, counted: bool = True):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.counted = counted


@dataclass(frozen=True)
class Result:
    """What the view sends: an HTTP status and a JSON object."""

    status: int
    data: dict
    #: A refusal that counts towards the per-IP limit (see :class:`Refusal`).
    counted: bool = False


def show(value, limit: int = 60) -> str:
    """A value for a message: quoted by ``repr`` (no line breaks reach the log) and short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def invalid(code: str, detail: str, status: int = 422) -> Refusal:
    """A refusal of a signed call's content (not counted towards the rate limit)."""
    return Refusal(status, code, detail, counted=False)
