from .bulk import BulkEmailJob
from .challenges import EmailChallenge, EmailThrottle
from .email_templates import EmailLayout, EmailTemplate
from .lists import AccessList, Grant, GrantReference, Seat
from .members import MemberProfile, MemberSession
from .restrictions import (
    MAX_OPENS_AFTER,
    CollectionAccessRestriction,
    LessonNotice,
    PageAccessRestriction,
    check_opens_after,
)
from .sends import EmailSend

__all__ = [
    "MAX_OPENS_AFTER",
    "AccessList",
    "BulkEmailJob",
    "CollectionAccessRestriction",
    "EmailChallenge",
    "EmailLayout",
    "EmailSend",
    "EmailTemplate",
    "EmailThrottle",
    "Grant",
    "GrantReference",
    "LessonNotice",
    "MemberProfile",
    "MemberSession",
    "PageAccessRestriction",
    "check_opens_after",
    "Seat",
]
