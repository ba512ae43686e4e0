"""An index on UPPER(email) for SQLite, so that an import finds members by email whatever its case
(crm.services.imports.Planner.lookup) without reading the whole member table for every batch.

PostgreSQL has one already: member_search_email (crm/0002), on UPPER(email) with text_pattern_ops, which
serves equality as well as prefixes. SQLite's own upper() changes ASCII letters only; the lookup puts the
file's emails in upper case the same way, and SQLite uses this index for UPPER("crm_member"."email") IN (...).
"""

from django.db import migrations

NAME = "member_email_upper"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "crm_member" (UPPER("email"))')


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0016_import_row_job_index"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
