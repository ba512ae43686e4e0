"""The benchmarks' own PostgreSQL databases, named by URL: connecting to one and creating it if missing."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def connect(url: str, *, database: str | None = None, **options):
    """A psycopg connection to the server and database in `url` (or another `database` on that server)."""
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port,
        user=parts.username,
        password=parts.password,
        dbname=database or parts.path.lstrip("/"),
        **options,
    )


def named(url: str, database: str) -> str:
    """`url` with another database on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def create_database(url: str) -> None:
    """Create the database `url` names, unless it is there already."""
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with connect(url, database="postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
