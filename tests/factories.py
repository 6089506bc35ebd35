import factory
from django.contrib.auth import get_user_model
from wagtail.models import Page

from tests.testapp.models import SimplePage
from wagtail_member_access.models import AccessList, Grant


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
    class Meta:
        model = Grant

    access_list = factory.SubFactory(AccessListFactory)
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    name = "Buyer"
    source = Grant.Source.MANUAL


def make_page(parent=None, title="Page", **kwargs) -> SimplePage:
    """A live SimplePage under ``parent`` (default: the site's root page)."""
    if parent is None:
        parent = Page.objects.get(depth=2)  # the default site's home (built from the root node)
    page = SimplePage(title=title, body=kwargs.pop("body", f"Secret body of {title}"), **kwargs)
    parent.add_child(instance=page)
    return page
