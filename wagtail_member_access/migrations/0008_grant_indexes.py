"""Indexes behind the grants listing: email prefix search (a pattern operator class on
PostgreSQL) and each sort column, for the whole table and per access list
(docs/performance.md#grants-listing-and-export)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('wagtail_member_access', '0007_email_templates'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(fields=['access_list', 'email'], name='wma_grant_list_email'),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(fields=['email'], name='wma_grant_email_pat', opclasses=['varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(fields=['access_list', 'email'], name='wma_grant_list_email_pat', opclasses=['int8_ops', 'varchar_pattern_ops']),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(models.ExpressionWrapper(models.Q(('expires_at__isnull', True)), output_field=models.BooleanField()), models.F('expires_at'), models.F('email'), models.F('id'), name='wma_grant_sort_exp'),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(models.F('access_list'), models.ExpressionWrapper(models.Q(('expires_at__isnull', True)), output_field=models.BooleanField()), models.F('expires_at'), models.F('email'), models.F('id'), name='wma_grant_lsort_exp'),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(models.ExpressionWrapper(models.Q(('starts_at__isnull', False)), output_field=models.BooleanField()), models.F('starts_at'), models.F('email'), models.F('id'), name='wma_grant_sort_start'),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(models.F('access_list'), models.ExpressionWrapper(models.Q(('starts_at__isnull', False)), output_field=models.BooleanField()), models.F('starts_at'), models.F('email'), models.F('id'), name='wma_grant_lsort_start'),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(models.ExpressionWrapper(models.Q(('last_access_at__isnull', False)), output_field=models.BooleanField()), models.F('last_access_at'), models.F('email'), models.F('id'), name='wma_grant_sort_access'),
        ),
        migrations.AddIndex(
            model_name='grant',
            index=models.Index(models.F('access_list'), models.ExpressionWrapper(models.Q(('last_access_at__isnull', False)), output_field=models.BooleanField()), models.F('last_access_at'), models.F('email'), models.F('id'), name='wma_grant_lsort_access'),
        ),
    ]
