"""wagtail-member-access: pages for members and buyers, unlocked by email code, link or password.

The public Python API is :mod:`wagtail_member_access.api`.
"""

__version__ = "0.1.0"
