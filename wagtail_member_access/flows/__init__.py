"""The journeys, one module per journey (as django-allauth's ``flows``):

* :mod:`.email_proof` — prove an email by code or magic link, to unlock a page or to sign in;
* :mod:`.access_ready` — the "your access is ready" email;
* :mod:`.invitation` — invite a member to set a password;
* :mod:`.password_reset` — a forgotten password (self-service) or a reset sent by staff;
* :mod:`.set_password` — set or change a password (invitation and reset links, the forced
  change after an initial password, terms);
* :mod:`.password_sign_in` — sign in with a password, and the counters that guard it;
* :mod:`.my_access` — what a member has access to.

:mod:`.pending` and :mod:`.common` hold what the journeys share. Every module here imports
only the leaf modules (settings, models, tokens, members, emails, sites, access, the audit
log's actions, signals) and never :mod:`wagtail_member_access.tasks`: the callers (views,
admin, commands, ``on_commit``) enqueue. These modules are internal: the public Python API is
:mod:`wagtail_member_access.api`.
"""

__all__: list[str] = []
