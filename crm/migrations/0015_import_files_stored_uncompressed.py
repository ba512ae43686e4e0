"""PostgreSQL compresses large values (TOAST) with pglz unless told not to: slow for an uploaded file of
100,000 rows (14 MB), and wasted on the dry run's kept rows and mobiles, which are zlib-compressed already.
The three columns are stored as they are (EXTERNAL: still out of line, not compressed). Nothing to do on
SQLite."""

from django.db import migrations

COLUMNS = ("content", "checked_rows", "checked_mobiles")


def set_storage(storage: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(apps.get_model("crm", "ImportJob")._meta.db_table)
        for column in COLUMNS:
            column = schema_editor.quote_name(column)
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {storage}")

    return run


class Migration(migrations.Migration):
    dependencies = [("crm", "0014_member_structure_indexes")]

    operations = [migrations.RunPython(set_storage("EXTERNAL"), set_storage("EXTENDED"))]
