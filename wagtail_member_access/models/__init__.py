from .bulk import BulkEmailJob
from .challenges import EmailChallenge, EmailThrottle
from .lists import AccessList, Grant, GrantReference
from .members import MemberProfile, MemberSession
from .restrictions import PageAccessRestriction

__all__ = [
    "AccessList",
    "BulkEmailJob",
    "EmailChallenge",
    "EmailThrottle",
    "Grant",
    "GrantReference",
    "MemberProfile",
    "MemberSession",
    "PageAccessRestriction",
]
