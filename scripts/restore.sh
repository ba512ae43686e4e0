#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into an EMPTY database (create it first: createdb NAME).
#
#   scripts/restore.sh BACKUP_FILE DATABASE_URL
#
# Refuses a database that already has tables, so a restore can never be mixed into live data. Runs in one
# transaction: it either restores everything or leaves the database empty.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BACKUP_FILE DATABASE_URL" >&2
  exit 2
fi
file="$1"; url="$2"
[[ -r "$file" ]] || { echo "restore.sh: cannot read $file" >&2; exit 2; }
case "$url" in
  postgres://*|postgresql://*) ;;
  *) echo "restore.sh: DATABASE_URL must be a postgres:// URL" >&2; exit 2 ;;
esac

tables="$(psql "$url" --no-psqlrc --tuples-only --no-align \
  --command="SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
if [[ "$tables" != "0" ]]; then
  echo "restore.sh: the target database already has $tables tables; restore only into an empty database" >&2
  exit 1
fi
pg_restore --dbname="$url" --no-owner --no-privileges --single-transaction --exit-on-error "$file"
echo "restore.sh: restored $file"
