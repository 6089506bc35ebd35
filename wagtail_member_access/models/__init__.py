from .challenges import EmailChallenge, EmailThrottle
from .lists import AccessList, Grant
from .restrictions import PageAccessRestriction

__all__ = ["AccessList", "EmailChallenge", "EmailThrottle", "Grant", "PageAccessRestriction"]
