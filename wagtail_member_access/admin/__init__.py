"""The Wagtail admin for access lists and their grants: viewsets, forms, filters, bulk
actions, exports and the CSV import view. ``wagtail_hooks.py`` registers them; everything
that changes a grant goes through :mod:`wagtail_member_access.grants`."""
