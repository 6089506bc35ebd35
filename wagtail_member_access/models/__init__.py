from .bulk import BulkEmailJob
from .challenges import EmailChallenge, EmailThrottle
from .lists import AccessList, Grant, GrantReference
from .members import MemberProfile
from .restrictions import CollectionAccessRestriction, PageAccessRestriction

__all__ = [
    "AccessList",
    "BulkEmailJob",
    "CollectionAccessRestriction",
    "EmailChallenge",
    "EmailThrottle",
    "Grant",
    "GrantReference",
    "MemberProfile",
    "PageAccessRestriction",
]
