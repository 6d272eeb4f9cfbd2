#!/bin/sh
# Run by the postgres image once, when the db service's volume is first initialised: the two
# roles of docs/DEPLOY.md ("Setting up once") and a database the owner owns. Neither role is a
# superuser, and the bot's is not a member of the owner's.
set -eu
psql --set=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=owner_password="$OWNER_PASSWORD" --set=bot_password="$BOT_PASSWORD" <<'SQL'
CREATE ROLE bumpbuddies_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE bumpbuddies_bot LOGIN PASSWORD :'bot_password';
CREATE DATABASE bumpbuddies OWNER bumpbuddies_owner;
\connect bumpbuddies
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO bumpbuddies_owner;
SQL
