from .bulk import BulkEmailJob
from .challenges import EmailChallenge, EmailThrottle
from .email_templates import EmailLayout, EmailTemplate
from .lists import AccessList, Grant, GrantReference, Seat
from .members import MemberProfile, MemberSession
from .restrictions import CollectionAccessRestriction, PageAccessRestriction
from .sends import EmailSend

__all__ = [
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
    "MemberProfile",
    "MemberSession",
    "PageAccessRestriction",
    "Seat",
]
