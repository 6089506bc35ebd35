"""The one decision: may this visitor see this page, or open this document?

The page serve (through the ``on_serve_page`` hook), the document serve (through
``before_serve_document``), :func:`wagtail_member_access.api.can_view` and the send-a-code
flow all decide here: :mod:`.rules` reads the restrictions on a page's path (or a document's
collection), :mod:`.decision` weighs the visitor's grants, groups and permissions against them, and
:mod:`.visibility` answers the same question for many pages at once (the APIs, listings).
"""

from .decision import (
    can_view,
    can_view_document,
    decide,
    decide_document,
    decision_for,
    email_may_view,
    email_mode,
    member_may_view,
)
from .rules import (
    Decision,
    PathRestriction,
    PathRestrictions,
    Rule,
    path_restrictions,
    rules_for,
    rules_for_collection,
    rules_for_page,
)

__all__ = [
    "Decision",
    "PathRestriction",
    "PathRestrictions",
    "Rule",
    "can_view",
    "can_view_document",
    "decide",
    "decide_document",
    "decision_for",
    "email_may_view",
    "email_mode",
    "member_may_view",
    "path_restrictions",
    "rules_for",
    "rules_for_collection",
    "rules_for_page",
]
