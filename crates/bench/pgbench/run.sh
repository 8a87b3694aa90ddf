#!/usr/bin/env bash
# The cost of NOTIFY on concurrent commits (docs/benchmarks.md): one-row insert transactions,
# plain, with a trigger that always notifies, and with the outbox's gated trigger.
set -euo pipefail
cd "$(dirname "$0")"
db=terrace_bench_notify
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -h 127.0.0.1 -U postgres -d "$db" -q -f schema.sql
for table in plain always_notify gated_notify; do
  printf '%-14s ' "$table"
  pgbench -h 127.0.0.1 -U postgres -n -c 8 -j 2 -T "${SECONDS_PER_RUN:-8}" -f "$table.sql" "$db" 2>/dev/null | grep -E '^tps'
done
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db"
