"""Everything release 0.2 adds to 0.1.0's schema (0.1.0 shipped 0001-0003), as one migration:
what a site upgrading from 0.1.0 runs. It replaces the eleven migrations written while 0.2 was
developed (0004_bulk_kind_sign_in_link ... 0014_domain_grants), so a database that applied
those counts this one as applied and runs nothing.

Schema first, grouped by model; then the three data steps of an upgrade, last, so that no
table is altered after rows were written to it in the same transaction (PostgreSQL refuses
that while the rows' deferred foreign key checks are pending)."""

import django.core.validators
import django.db.models.deletion
import django.db.models.functions.comparison
import django.utils.timezone
import swapper
from django.conf import settings
from django.db import migrations, models

import wagtail_member_access.email_kinds
import wagtail_member_access.models.email_templates

# --- Data steps -------------------------------------------------------------------------------

# The bulk email kind that sends single-use sign-in links is stored as ``sign_in_link`` (the
# email it sends), no longer ``sign_in`` (which names the sign-in page's code-and-link email).
OLD, NEW = "sign_in", "sign_in_link"


def rename_forward(apps, schema_editor):
    BulkEmailJob = apps.get_model("wagtail_member_access", "BulkEmailJob")
    BulkEmailJob.objects.filter(kind=OLD).update(kind=NEW)


def rename_backward(apps, schema_editor):
    BulkEmailJob = apps.get_model("wagtail_member_access", "BulkEmailJob")
    BulkEmailJob.objects.filter(kind=NEW).update(kind=OLD)


MEMBER_ACCESS = "member_access"


def create_mirror_rows(apps, schema_editor):
    """Mark every page the package already protects as private for Wagtail: one
    ``PageViewRestriction`` row of type ``member_access`` on each page of
    ``mirror.desired_page_ids`` (docs/protected-channels.md). Written with the historical
    models (no history entries); Wagtail's own rows are not touched."""
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


def delete_mirror_rows(apps, schema_editor):
    """Backwards: the mirror rows go."""
    Row = apps.get_model("wagtailcore", "PageViewRestriction")
    Row.objects.filter(restriction_type=MEMBER_ACCESS).delete()


CODENAME = "change_member_access"


def give_to_publishers(apps, schema_editor):
    """Before this permission, every user who could change a page's privacy (Wagtail's
    "publish" permission on it) could change its member access. Groups with "publish" on any
    page keep that ability after the upgrade (docs/editor-guide.md#who-may-change-member-access); new
    groups get it only when an administrator ticks it."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    # Django creates a model's permissions after all migrations ran (post_migrate): create
    # this one now, as that would, so that groups can hold it.
    content_type, _ = ContentType.objects.get_or_create(
        app_label="wagtail_member_access", model="pageaccessrestriction"
    )
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=CODENAME,
        defaults={"name": "Can change member access of pages"},
    )
    group_ids = set(
        GroupPagePermission.objects.filter(permission__codename="publish_page").values_list(
            "group_id", flat=True
        )
    )
    permission.group_set.add(*group_ids)


class Migration(migrations.Migration):

    replaces = [
        ("wagtail_member_access", "0004_bulk_kind_sign_in_link"),
        ("wagtail_member_access", "0005_mirror_rows"),
        ("wagtail_member_access", "0006_collection_access"),
        ("wagtail_member_access", "0007_email_templates"),
        ("wagtail_member_access", "0008_grant_indexes"),
        ("wagtail_member_access", "0009_member_accounts"),
        ("wagtail_member_access", "0010_challenge_send_retries"),
        ("wagtail_member_access", "0011_change_member_access_permission"),
        ("wagtail_member_access", "0012_email_sends"),
        ("wagtail_member_access", "0013_drip"),
        ("wagtail_member_access", "0014_domain_grants"),
    ]

    dependencies = [
        ("wagtail_member_access", "0003_grant_references"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("wagtailcore", "0094_alter_page_locale"),  # in Wagtail 7.4 and 8
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        swapper.dependency("wagtailcore", "Page"),
    ]

    operations = [
        # --- EmailChallenge: documents (purpose "unlock" covers them), member accounts'
        # requests and cancel reason, sending retried by a task (docs/member-accounts.md).
        migrations.AddField(
            model_name='emailchallenge',
            name='document_id',
            field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name='document'),
        ),
        migrations.AddField(
            model_name='emailchallenge',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='next attempt at'),
        ),
        migrations.AddField(
            model_name='emailchallenge',
            name='send_attempts',
            field=models.PositiveSmallIntegerField(db_default=0, default=0, verbose_name='send attempts'),
        ),
        migrations.AddField(
            model_name='emailchallenge',
            name='sent_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='sent at'),
        ),
        migrations.AlterField(
            model_name='emailchallenge',
            name='purpose',
            field=models.CharField(choices=[('unlock', 'Unlock a page or document'), ('sign_in', 'Member sign-in'), ('invite', 'Invitation'), ('reset', 'Password reset'), ('change_email', 'New email address'), ('delete_account', 'Account deletion')], max_length=20, verbose_name='purpose'),
        ),
        migrations.AlterField(
            model_name='emailchallenge',
            name='cancel_reason',
            field=models.CharField(blank=True, choices=[('not_eligible', 'The email may not view the page'), ('replaced', 'A newer code was sent'), ('send_failed', 'The email could not be sent'), ('email_changed', 'The member changed their email address')], max_length=20, verbose_name='cancel reason'),
        ),
        migrations.AddIndex(
            model_name='emailchallenge',
            index=models.Index(condition=models.Q(('cancelled_at__isnull', True), ('sent_at__isnull', True)), fields=['next_attempt_at'], name='wma_challenge_unsent'),
        ),
        # --- Grant: seats of a domain grant (docs/courses-and-teams.md#domain-grants-and-seats)
        # and the grants listing's indexes: email prefix search (a pattern operator class on
        # PostgreSQL) and each sort column, for the whole table and per access list
        # (docs/performance.md#grants-listing-and-export).
        migrations.AddField(
            model_name='grant',
            name='seats',
            field=models.PositiveIntegerField(blank=True, help_text='For a domain (@school.example): how many members may use it. Leave empty for no limit.', null=True, verbose_name='seats'),
        ),
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
        # --- GrantReference: an order reference outlives a deleted account's grant.
        migrations.AlterField(
            model_name='grantreference',
            name='grant',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='references', to='wagtail_member_access.grant', verbose_name='grant'),
        ),
        # --- MemberProfile: the member's language for emails.
        migrations.AddField(
            model_name='memberprofile',
            name='language',
            field=models.CharField(blank=True, db_default='', default='', max_length=16, verbose_name='language'),
        ),
        # --- PageAccessRestriction: drip delay, and the permission to change member access
        # (docs/editor-guide.md#who-may-change-member-access).
        migrations.AddField(
            model_name='pageaccessrestriction',
            name='opens_after',
            field=models.DurationField(blank=True, help_text="Drip: the pages open this long after the member's grant on one of the lists started (empty: at once).", null=True, verbose_name='opens after'),
        ),
        migrations.AlterModelOptions(
            name='pageaccessrestriction',
            options={'permissions': [('change_member_access', 'Can change member access of pages')], 'verbose_name': 'page access restriction', 'verbose_name_plural': 'page access restrictions'},
        ),
        # --- BulkEmailJob: the sign-in link kind's new name (data renamed below).
        migrations.AlterField(
            model_name='bulkemailjob',
            name='kind',
            field=models.CharField(choices=[('reset', 'Password reset'), ('sign_in_link', 'Sign-in link'), ('invite', 'Invitation'), ('access_ready', 'Access email')], max_length=20, verbose_name='email'),
        ),
        # --- New: member access for a collection's documents.
        migrations.CreateModel(
            name='CollectionAccessRestriction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('mode', models.CharField(choices=[('members', 'Signed-in members'), ('code', 'One-time email code'), ('link', 'Magic link'), ('code_or_link', 'Email code or magic link')], max_length=20, verbose_name='access mode')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('access_lists', models.ManyToManyField(blank=True, help_text='Emails with an active grant on any of these lists may open the documents.', related_name='collection_restrictions', to='wagtail_member_access.accesslist', verbose_name='access lists')),
                ('collection', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='member_access_restriction', to='wagtailcore.collection', verbose_name='collection')),
                ('groups', models.ManyToManyField(blank=True, help_text='Members-only documents: signed-in members of these groups may open them.', related_name='+', to='auth.group', verbose_name='groups')),
            ],
            options={
                'verbose_name': 'collection access restriction',
                'verbose_name_plural': 'collection access restrictions',
            },
        ),
        # --- New: emails edited in the admin, a layout per site and a template per kind, site
        # and language (docs/editing-emails.md).
        migrations.CreateModel(
            name='EmailLayout',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('brand_name', models.CharField(blank=True, help_text='Empty: the site name.', max_length=255, verbose_name='name shown at the top')),
                ('logo_url', models.URLField(blank=True, help_text='An absolute https:// address of an image.', verbose_name='logo address')),
                ('accent_colour', models.CharField(default='#0b57d0', max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$', 'Enter a colour like #0b57d0.')], verbose_name='accent colour')),
                ('text_colour', models.CharField(default='#1d1d1f', max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$', 'Enter a colour like #0b57d0.')], verbose_name='text colour')),
                ('background_colour', models.CharField(default='#f4f4f6', max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$', 'Enter a colour like #0b57d0.')], verbose_name='background colour')),
                ('footer', models.TextField(blank=True, help_text="Sender's postal address and legal line, shown under every email.", verbose_name='footer')),
                ('from_email', models.CharField(blank=True, help_text='E.g. "Example School <school@example.com>". Empty: the default sender.', max_length=255, verbose_name='From')),
                ('reply_to', models.EmailField(blank=True, max_length=254, verbose_name='Reply-To')),
                ('latest_revision', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='wagtailcore.revision', verbose_name='latest revision')),
                ('site', models.ForeignKey(blank=True, help_text='Leave empty for the layout of every site that has none of its own.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='wagtailcore.site', verbose_name='site')),
            ],
            options={
                'verbose_name': 'email layout',
                'verbose_name_plural': 'email layouts',
                'constraints': [models.UniqueConstraint(django.db.models.functions.comparison.Coalesce('site', models.Value(0)), name='wma_one_email_layout_per_site')],
            },
            bases=(wagtail_member_access.models.email_templates._SandboxedPreview, models.Model),
        ),
        migrations.CreateModel(
            name='EmailTemplate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=wagtail_member_access.email_kinds.kind_choices, max_length=40, verbose_name='email')),
                ('language', models.CharField(blank=True, choices=wagtail_member_access.models.email_templates.language_choices, max_length=16, verbose_name='language')),
                ('subject', models.CharField(max_length=255, verbose_name='subject')),
                ('text', models.TextField(verbose_name='text')),
                ('html', models.TextField(blank=True, help_text='Optional. Empty: the HTML part is built from the text, in the site layout.', verbose_name='HTML')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('latest_revision', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='wagtailcore.revision', verbose_name='latest revision')),
                ('site', models.ForeignKey(blank=True, help_text='Leave empty for every site.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='wagtailcore.site', verbose_name='site')),
            ],
            options={
                'verbose_name': 'email template',
                'verbose_name_plural': 'email templates',
                'ordering': ['kind', 'site', 'language'],
                'constraints': [models.UniqueConstraint(models.F('kind'), django.db.models.functions.comparison.Coalesce('site', models.Value(0)), models.F('language'), name='wma_one_email_template_per_kind_site_language', violation_error_message='This email already has a version for this site and language.')],
            },
            bases=(wagtail_member_access.models.email_templates._SandboxedPreview, models.Model),
        ),
        # --- New: the sessions "Sign out everywhere" ends (docs/member-accounts.md).
        migrations.CreateModel(
            name='MemberSession',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('session_key', models.CharField(max_length=64, unique=True, verbose_name='session key')),
                ('device', models.CharField(blank=True, max_length=255, verbose_name='device')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='signed in')),
                ('last_seen_at', models.DateTimeField(verbose_name='last seen')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user')),
            ],
            options={
                'verbose_name': 'member session',
                'verbose_name_plural': 'member sessions',
            },
        ),
        # --- New: one row per email sent by a task, its idempotency key and retries.
        migrations.CreateModel(
            name='EmailSend',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('access_ready', 'Access email'), ('bulk', 'Bulk email'), ('expiry_reminder', 'Expiry reminder')], max_length=20, verbose_name='kind')),
                ('key', models.CharField(max_length=200, unique=True, verbose_name='idempotency key')),
                ('email', models.EmailField(max_length=254, verbose_name='email')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                ('send_attempts', models.PositiveSmallIntegerField(default=0, verbose_name='send attempts')),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True, verbose_name='next attempt at')),
                ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                ('cancelled_at', models.DateTimeField(blank=True, null=True, verbose_name='cancelled at')),
                ('cancel_reason', models.CharField(blank=True, choices=[('not_eligible', 'The email may not view the page'), ('replaced', 'A newer code was sent'), ('send_failed', 'The email could not be sent'), ('email_changed', 'The member changed their email address')], max_length=20, verbose_name='cancel reason')),
                ('send_error', models.TextField(blank=True, verbose_name='send error')),
                ('grant', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='wagtail_member_access.grant', verbose_name='grant')),
                ('job', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='wagtail_member_access.bulkemailjob', verbose_name='bulk email')),
            ],
            options={
                'verbose_name': 'email send',
                'verbose_name_plural': 'email sends',
                'indexes': [models.Index(condition=models.Q(('cancelled_at__isnull', True), ('sent_at__isnull', True)), fields=['next_attempt_at'], name='wma_send_unsent')],
            },
        ),
        # --- New: drip, the lesson email sent once per member and restriction.
        migrations.CreateModel(
            name='LessonNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('email', models.EmailField(max_length=254, verbose_name='email')),
                ('sent_at', models.DateTimeField(auto_now_add=True, verbose_name='sent at')),
                ('grant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='wagtail_member_access.grant', verbose_name='grant')),
                ('restriction', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='wagtail_member_access.pageaccessrestriction', verbose_name='restriction')),
            ],
            options={
                'verbose_name': 'lesson email',
                'verbose_name_plural': 'lesson emails',
                'constraints': [models.UniqueConstraint(fields=('email', 'restriction'), name='wma_lesson_notice_once')],
            },
        ),
        # --- New: the seats a domain grant's members take.
        migrations.CreateModel(
            name='Seat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('email', models.EmailField(max_length=254, verbose_name='email')),
                ('taken_at', models.DateTimeField(auto_now_add=True, verbose_name='taken at')),
                ('grant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='seat_set', to='wagtail_member_access.grant', verbose_name='grant')),
            ],
            options={
                'verbose_name': 'seat',
                'verbose_name_plural': 'seats',
                'ordering': ['taken_at', 'pk'],
                'indexes': [models.Index(fields=['email'], name='wma_seat_email')],
                'constraints': [models.UniqueConstraint(fields=('grant', 'email'), name='wma_seat_grant_email')],
            },
        ),
        # --- Data of a site upgrading from 0.1.0.
        migrations.RunPython(rename_forward, rename_backward),
        migrations.RunPython(create_mirror_rows, delete_mirror_rows),
        # 0011 marked it elidable; it no longer is: a squash that dropped it would take the
        # ability to change member access from publishers of every site upgrading from 0.1.0.
        migrations.RunPython(give_to_publishers, migrations.RunPython.noop),
    ]
