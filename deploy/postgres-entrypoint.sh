#!/bin/sh
# The ground's PostgreSQL: on first start, a cluster in $PGDATA with the database and role
# eodl (password $POSTGRES_PASSWORD, scram-sha-256 from the compose network); then the server
# in the foreground (docker stop: fast shutdown).
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
: "${POSTGRES_PASSWORD:?set EODL_DB_PASSWORD in deploy/.env}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --auth-local=peer \
        --auth-host=scram-sha-256 --pwfile="$pwfile"
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start
    psql -v ON_ERROR_STOP=1 -d postgres \
        -v password="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE eodl LOGIN PASSWORD :'password';
CREATE DATABASE eodl OWNER eodl;
SQL
    "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*'
