#!/usr/bin/env bash
# Runs pytest with a throwaway PostgreSQL and Redis (when installed), so every database test runs
# on SQLite and on PostgreSQL. In CI (.ci/run installs them) a missing server fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/test-services.sh start)"
# Stop only what this run started: a developer's long-running servers stay up.
if [ -n "${CIVDESK_TEST_SERVICES_STARTED:-}" ]; then trap 'bash scripts/test-services.sh stop' EXIT; fi
if [ -z "${CIVDESK_TEST_POSTGRES_URL:-}" ]; then
  echo "note: PostgreSQL is not installed; PostgreSQL variants will be skipped (CI runs them)" >&2
fi
.venv/bin/pytest "$@"
