#!/usr/bin/env bash
# Back up the Bump Buddies database with pg_dump (custom format: compressed, one file, restored
# table by table with pg_restore), as the schema's owner:
#     deploy/backup.sh "$MIGRATION_DATABASE_URL" backups/bumpbuddies-$(date -u +%F).dump
# The dump holds residents' personal data: keep it encrypted and as long as the retention
# policy allows, no longer (docs/DEPLOY.md, "Backups").
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "Usage: $0 DATABASE_URL BACKUP_FILE" >&2
    exit 2
fi
# The bot's settings say postgresql+asyncpg://; pg_dump wants the plain libpq form.
source_url=${1/postgresql+asyncpg:/postgresql:}
backup=$2

umask 077
pg_dump --format=custom --no-owner --no-privileges --file="$backup.partial" "$source_url"
# Only a finished dump gets the name: a backup cut short never looks like a good one.
mv "$backup.partial" "$backup"
echo "Backed up to $backup ($(wc -c <"$backup") bytes)."
