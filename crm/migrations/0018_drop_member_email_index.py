"""Drop member_email, the plain index on email: nothing asks for an email exactly as stored any more. The
member search (istartswith), the member's own sign-in and details (iexact) and the importer's matching
(UPPER(email) IN ...) all compare emails whatever their case, through member_search_email on PostgreSQL
(crm/0002) and member_email_upper on SQLite (crm/0017). Each member added or changed wrote it for nothing.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_member_email_upper_on_sqlite"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="member",
            name="member_email",
        ),
    ]
