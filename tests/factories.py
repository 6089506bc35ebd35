"""factory-boy factories and page helpers for the tests.

Grants are made through :func:`wagtail_member_access.grants.grant`, the one grant path, so a
test's grant has been validated, logged and signalled as every real one is. Pages are built
under the default site's root page, found from the ``Site``, never by a magic id or depth.
"""

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from wagtail.documents import get_document_model
from wagtail.models import Collection, Locale, ModelLogEntry, Page, Site

from tests.testapp.models import SimplePage
from wagtail_member_access import grants, log_actions
from wagtail_member_access.models import AccessList, Grant

__all__ = [
    "AccessListFactory",
    "GrantFactory",
    "UserFactory",
    "default_home",
    "ensure_default_home",
    "make_collection",
    "make_document",
    "make_page",
    "root_collection",
]

#: The arguments of ``grants.grant`` the factory passes on; any other field a test gives
#: (``revoked_at``, ``reminder_sent_at``, ``last_access_at``, …) is written afterwards.
_GRANT_ARGUMENTS = ("name", "starts_at", "source", "reference", "note", "added_by")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class AccessListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessList

    name = factory.Sequence(lambda n: f"Course {n}")
    slug = factory.Sequence(lambda n: f"course-{n}")


class GrantFactory(factory.django.DjangoModelFactory):
    """A grant made by ``grants.grant``. ``expires_at`` defaults to None (unlimited), as a
    plain row would be, rather than the list's default period. Raises what ``grant`` raises
    (``ValidationError`` for a malformed email or an expiry before the start).

    The grant is a test's starting state, not an editor's action: the audit-log entry
    ``grant`` wrote is removed, so a test that reads the audit log sees only what it did.
    ``GrantFactory(..., logged=True)`` keeps it."""

    class Meta:
        model = Grant

    access_list = factory.SubFactory(AccessListFactory)
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    name = "Buyer"
    source = Grant.Source.MANUAL
    #: Keep the audit-log entry of the grant (not a field: ``_create`` takes it out).
    logged = False

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        logged = kwargs.pop("logged")
        email, access_list = kwargs.pop("email"), kwargs.pop("access_list")
        arguments = {key: kwargs.pop(key) for key in _GRANT_ARGUMENTS if key in kwargs}
        last_entry = ModelLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
        obj, _ = grants.grant(
            email, access_list, expires_at=kwargs.pop("expires_at", None), **arguments
        )
        if not logged:
            ModelLogEntry.objects.for_instance(obj).filter(
                action=log_actions.GRANT, pk__gt=last_entry or 0
            ).delete()
        if kwargs:
            # Fields grant() does not take: state a test starts from (revoked, reminded, …).
            for field, value in kwargs.items():
                setattr(obj, field, value)
            obj.save(update_fields=list(kwargs))
        return obj


def default_home():
    """The default site's root page (the "home" the test database is built with). Raises
    ``Site.DoesNotExist`` when there is no default site (see :func:`ensure_default_home`)."""
    return Site.objects.select_related("root_page").get(is_default_site=True).root_page


def ensure_default_home():
    """The default site's root page, made again (locale, root node, home, default site) when
    a transactional test before this one emptied every table, Wagtail's migrated rows too."""
    site = Site.objects.select_related("root_page").filter(is_default_site=True).first()
    if site is not None:
        return site.root_page
    Locale.objects.get_or_create(language_code="en")
    root = Page.get_first_root_node() or Page.add_root(instance=Page(title="Root", slug="root"))
    home = root.add_child(instance=Page(title="Home", slug="home"))
    Site.objects.create(hostname="localhost", port=80, root_page=home, is_default_site=True)
    return home


def make_page(parent=None, title="Page", **kwargs) -> SimplePage:
    """A live SimplePage under ``parent`` (default: the default site's root page)."""
    if parent is None:
        parent = default_home()
    page = SimplePage(title=title, body=kwargs.pop("body", f"Secret body of {title}"), **kwargs)
    parent.add_child(instance=page)
    return page


def root_collection() -> Collection:
    """The root collection, made again when a transactional test before this one emptied
    every table (Wagtail's migration made it)."""
    return Collection.get_first_root_node() or Collection.add_root(name="Root")


def make_collection(name="Course files", parent=None) -> Collection:
    """A collection under ``parent`` (default: the root collection)."""
    parent = parent or root_collection()
    return parent.add_child(instance=Collection(name=name))


def make_document(
    collection=None, title="Workbook", content=b"%PDF-1.4 secret workbook", extension="pdf"
):
    """A document in ``collection`` (default: the root collection) whose file holds
    ``content``; stored under ``MEDIA_ROOT`` (tests point it at a temporary directory)."""
    document = get_document_model()(title=title, collection=collection or root_collection())
    document.file.save(f"{title.lower()}.{extension}", ContentFile(content), save=False)
    document.save()
    return document
