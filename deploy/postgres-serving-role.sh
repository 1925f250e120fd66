#!/bin/sh
# Run once by the postgres image when its volume is new
# (/docker-entrypoint-initdb.d): makes portal_app, the role the portal
# serves as. It owns nothing; portal migrate, as the owner, grants it what
# serving needs: it may read and add to the audit trail, never change it
# or drop or disable the triggers that keep it append-only.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v password="$(cat /run/secrets/postgres-serving-password)" <<'SQL'
CREATE ROLE portal_app LOGIN PASSWORD :'password';
SQL
