#!/usr/bin/env bash
# Back up Quorum's PostgreSQL database to one file (pg_dump's custom format: compressed, restorable
# table by table with pg_restore).
#
#   scripts/backup.sh [DATABASE_URL] OUTPUT_FILE
#
# DATABASE_URL defaults to the environment's. The file is written beside OUTPUT_FILE first and moved into
# place only when the dump is complete, so a failed backup never leaves a truncated file under that name.
set -euo pipefail

if [[ $# -eq 2 ]]; then
  url="$1"; out="$2"
elif [[ $# -eq 1 && -n "${DATABASE_URL:-}" ]]; then
  url="$DATABASE_URL"; out="$1"
else
  echo "usage: $0 [DATABASE_URL] OUTPUT_FILE   (DATABASE_URL from the environment if not given)" >&2
  exit 2
fi
case "$url" in
  postgres://*|postgresql://*) ;;
  *) echo "backup.sh: DATABASE_URL must be a postgres:// URL" >&2; exit 2 ;;
esac

partial="$(dirname "$out")/.$(basename "$out").partial"
trap 'rm -f "$partial"' EXIT
# No owner or privilege statements: the restore runs as whoever owns the new database.
pg_dump --dbname="$url" --format=custom --no-owner --no-privileges --file="$partial"
mv "$partial" "$out"
trap - EXIT
echo "backup.sh: wrote $out ($(du -h "$out" | cut -f1))"
