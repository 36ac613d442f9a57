#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to the version this
# admin-tools image ships. Safe to run on every `docker compose up`: an existing database is
# kept, and update-schema applies only the versions not applied yet.
# Run by the temporal-schema service (temporalio/admin-tools) with SQL_PLUGIN, SQL_HOST,
# SQL_PORT, SQL_USER and SQL_PASSWORD in its environment.
set -eu

schema_root=/etc/temporal/schema/postgresql/v12
# The password stays in the environment (SQL_PASSWORD), out of the process list.
tool() { temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" "$@"; }
for pair in "temporal:temporal" "temporal_visibility:visibility"; do
  db=${pair%%:*}
  dir=${pair#*:}
  echo "temporal-schema: database $db"
  tool --db "$db" create || echo "temporal-schema: $db exists"
  tool --db "$db" setup-schema -v 0.0
  tool --db "$db" update-schema -d "$schema_root/$dir/versioned"
done
echo "temporal-schema: done"
