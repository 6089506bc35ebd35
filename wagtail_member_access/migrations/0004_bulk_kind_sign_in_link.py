"""The bulk email kind that sends single-use sign-in links is stored as ``sign_in_link`` (the
email it sends), no longer ``sign_in`` (which names the sign-in page's code-and-link email)."""

from django.db import migrations, models

OLD, NEW = "sign_in", "sign_in_link"


def rename_forward(apps, schema_editor):
    BulkEmailJob = apps.get_model("wagtail_member_access", "BulkEmailJob")
    BulkEmailJob.objects.filter(kind=OLD).update(kind=NEW)


def rename_backward(apps, schema_editor):
    BulkEmailJob = apps.get_model("wagtail_member_access", "BulkEmailJob")
    BulkEmailJob.objects.filter(kind=NEW).update(kind=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_member_access", "0003_grant_references"),
    ]

    operations = [
        migrations.AlterField(
            model_name="bulkemailjob",
            name="kind",
            field=models.CharField(
                choices=[
                    ("reset", "Password reset"),
                    ("sign_in_link", "Sign-in link"),
                    ("invite", "Invitation"),
                    ("access_ready", "Access email"),
                ],
                max_length=20,
                verbose_name="email",
            ),
        ),
        migrations.RunPython(rename_forward, rename_backward),
    ]
