#!/usr/bin/env bash
# Restore a deploy/backup.sh dump into a NEW, empty database, then compare the row count of
# every table with another database (the one backed up, for a restore drill):
#     deploy/restore.sh backups/bumpbuddies-2026-12-04.dump \
#         postgresql://bumpbuddies_owner@db/bumpbuddies_restored \
#         [postgresql://bumpbuddies_owner@db/bumpbuddies]
# Run it as the schema's owner: everything restored belongs to whoever restores (the dump has
# no owners or grants), so `bumpbuddies db grant` then gives the bot's role its privileges.
# It refuses a database that already has tables: a restore never overwrites anything.
# Exit status: 0 restored (and counts equal), 1 counts differ, 2 refused or failed.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "Usage: $0 BACKUP_FILE NEW_DATABASE_URL [COMPARE_WITH_DATABASE_URL]" >&2
    exit 2
fi
backup=$1
target_url=${2/postgresql+asyncpg:/postgresql:}
compare_url=${3:+${3/postgresql+asyncpg:/postgresql:}}

tables_in() {
    psql --no-psqlrc --tuples-only --no-align --dbname="$1" --command \
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
}

# One line per table, "name<TAB>rows", sorted by name.
row_counts() {
    psql --no-psqlrc --tuples-only --no-align --field-separator=$'\t' --set=ON_ERROR_STOP=1 \
        --dbname="$1" <<'SQL'
SELECT format('SELECT %L, count(*) FROM %I.%I', tablename, schemaname, tablename)
FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename
\gexec
SQL
}

if [[ ! -s $backup ]]; then
    echo "No backup at $backup." >&2
    exit 2
fi
if [[ $(tables_in "$target_url") -ne 0 ]]; then
    echo "Refused: the database to restore into already has tables. Create a new, empty one." >&2
    exit 2
fi
# Data first, then indexes, constraints and triggers (pg_restore's own order), so the
# append-only triggers are back before anyone can write, and restore nothing they would refuse.
pg_restore --exit-on-error --single-transaction --no-owner --no-privileges \
    --dbname="$target_url" "$backup"
echo "Restored $backup: $(tables_in "$target_url") tables."

if [[ -z $compare_url ]]; then
    exit 0
fi
restored=$(row_counts "$target_url")
original=$(row_counts "$compare_url")
if [[ $restored == "$original" ]]; then
    echo "Row counts match in all $(wc -l <<<"$restored") tables."
    exit 0
fi
echo "Row counts differ (< restored, > compared with; a live bot keeps writing):"
diff <(echo "$restored") <(echo "$original") | grep '^[<>]' || true
exit 1
