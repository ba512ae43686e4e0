"""Backup and restore, for real: seed a demo union into PostgreSQL, dump it with scripts/backup.sh,
restore into a new empty database with scripts/restore.sh, and compare the row count of every table."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from tests.conftest import skip_or_fail

SCRIPTS = Path(settings.BASE_DIR) / "scripts"


def url_for(name: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgresql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


@pytest.fixture
def empty_database():
    if connection.vendor != "postgresql":
        skip_or_fail("backup and restore need PostgreSQL (DATABASE_URL): run `make test-services`")
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url_for("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_for(name)
    finally:
        with psycopg.connect(url_for("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.services
def test_backup_then_restore_into_an_empty_database_keeps_every_row(transactional_db, empty_database, tmp_path):
    call_command("seed_demo", members=300, seed=7, flush=True)
    source = url_for(connection.settings_dict["NAME"])
    before = row_counts(source)
    assert before["crm_member"] == 300 and before["crm_position"] > 0 and before["django_migrations"] > 0

    dump = tmp_path / "quorum.dump"
    backup = subprocess.run([SCRIPTS / "backup.sh", source, dump], capture_output=True, text=True, check=False)
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0 and not list(tmp_path.glob(".*.partial"))

    restore = subprocess.run([SCRIPTS / "restore.sh", dump, empty_database], capture_output=True, text=True)
    assert restore.returncode == 0, restore.stderr
    assert row_counts(empty_database) == before

    # A second restore into the now non-empty database is refused and changes nothing.
    again = subprocess.run([SCRIPTS / "restore.sh", dump, empty_database], capture_output=True, text=True)
    assert again.returncode == 1 and "empty database" in again.stderr
    assert row_counts(empty_database) == before


def test_the_scripts_refuse_bad_arguments(tmp_path):
    assert subprocess.run([SCRIPTS / "restore.sh"], capture_output=True).returncode == 2
    missing = subprocess.run(
        [SCRIPTS / "restore.sh", tmp_path / "nope", "postgres://x@127.0.0.1/y"], capture_output=True
    )
    assert missing.returncode == 2
    not_pg = subprocess.run([SCRIPTS / "backup.sh", "sqlite:///x", tmp_path / "out"], capture_output=True, text=True)
    assert not_pg.returncode == 2 and "postgres://" in not_pg.stderr
    assert not (tmp_path / "out").exists()
