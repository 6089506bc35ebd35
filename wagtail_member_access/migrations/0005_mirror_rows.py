"""Mark every page the package already protects as private for Wagtail: one
``PageViewRestriction`` row of type ``member_access`` on each page of
``mirror.desired_page_ids`` (docs/protected-channels.md). Written with the historical models
(no history entries); Wagtail's own rows are not touched. Backwards: the rows go."""

import swapper
from django.db import migrations

MEMBER_ACCESS = "member_access"


def forward(apps, schema_editor):
    from wagtail_member_access.mirror import desired_page_ids

    Page = apps.get_model(*swapper.get_model_name("wagtailcore", "Page").split("."))
    Restriction = apps.get_model("wagtail_member_access", "PageAccessRestriction")
    Row = apps.get_model("wagtailcore", "PageViewRestriction")
    Page.steplen = 4  # treebeard's MP_Node.steplen, not on historical models
    desired = desired_page_ids(Page=Page, Restriction=Restriction)
    present = set(
        Row.objects.filter(restriction_type=MEMBER_ACCESS).values_list("page_id", flat=True)
    )
    Row.objects.bulk_create(
        [Row(page_id=pk, restriction_type=MEMBER_ACCESS) for pk in sorted(desired - present)]
    )


def backward(apps, schema_editor):
    Row = apps.get_model("wagtailcore", "PageViewRestriction")
    Row.objects.filter(restriction_type=MEMBER_ACCESS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_member_access", "0004_bulk_kind_sign_in_link"),
        ("wagtailcore", "0094_alter_page_locale"),  # in Wagtail 7.4 and 8
        swapper.dependency("wagtailcore", "Page"),
    ]

    operations = [migrations.RunPython(forward, backward)]
