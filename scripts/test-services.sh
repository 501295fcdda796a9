#!/usr/bin/env bash
# Starts a throwaway PostgreSQL and Redis on loopback for the test suite, when their binaries are
# installed and no server was given (CIVDESK_TEST_POSTGRES_URL / CIVDESK_TEST_REDIS_URL).
# Prints the export lines to eval; `stop` tears them down. Used by `make test` and .ci/run.
set -euo pipefail
RUN_DIR=${CIVDESK_TEST_SERVICES_DIR:-/tmp/civdesk-test-services}
PG_PORT=${CIVDESK_TEST_PG_PORT:-55432}
REDIS_PORT=${CIVDESK_TEST_REDIS_PORT:-56379}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$RUN_DIR"
  if [ -z "${CIVDESK_TEST_POSTGRES_URL:-}" ] && [ -n "$(pg_bin)" ]; then
    local bin; bin=$(pg_bin)
    local data="$RUN_DIR/pg"
    if [ "$(id -u)" = "0" ]; then chown postgres "$RUN_DIR"; fi
    if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      rm -rf "$data"
      as_postgres "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$RUN_DIR/initdb.log" 2>&1
      as_postgres "$bin/pg_ctl" -D "$data" -l "$RUN_DIR/pg.log" -w -o \
        "-p $PG_PORT -k $RUN_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
      echo "export CIVDESK_TEST_SERVICES_STARTED=1"
    fi
    echo "export CIVDESK_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  fi
  if [ -z "${CIVDESK_TEST_REDIS_URL:-}" ] && command -v redis-server >/dev/null 2>&1; then
    if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
      redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/redis.log" >/dev/null
      echo "export CIVDESK_TEST_SERVICES_STARTED=1"
      for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    echo "export CIVDESK_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
  fi
}

stop() {
  local bin; bin=$(pg_bin)
  if [ -n "$bin" ] && [ -d "$RUN_DIR/pg" ]; then as_postgres "$bin/pg_ctl" -D "$RUN_DIR/pg" -m fast stop >/dev/null 2>&1 || true; fi
  if [ -f "$RUN_DIR/redis.pid" ]; then kill "$(cat "$RUN_DIR/redis.pid")" 2>/dev/null || true; fi
}

"${1:-start}"
