#!/usr/bin/env bash
# The whole test suite: install, start the real PostgreSQL and OpenSearch, lint, type-check,
# run every test.  Under CI=true a service that cannot start fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

in_ci() { case "${CI:-}" in 1|true|TRUE|yes) return 0;; *) return 1;; esac; }
started=()
cleanup() {
  local service
  for service in "${started[@]:-}"; do
    [ -n "$service" ] && "scripts/$service.sh" stop >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

start_service() {  # $1 = postgres|opensearch, $2 = variable to export
  local service=$1 variable=$2 url
  if [ -n "${!variable:-}" ]; then
    echo "using $service at ${!variable} (from $variable)"
    return 0
  fi
  if ! "scripts/$service.sh" status >/dev/null 2>&1; then
    started+=("$service")
  fi
  local t0=$SECONDS
  if url=$("scripts/$service.sh" start | tail -n 1); then
    export "$variable=$url"
    echo "$service ready at $url ($((SECONDS - t0)) s)"
  elif in_ci; then
    echo "kallimachos: $service could not start; integration tests cannot run (CI fails)" >&2
    exit 1
  else
    echo "warning: $service could not start; its integration tests will be skipped" >&2
  fi
}

if [ "${KALLIMACHOS_SKIP_SERVICES:-}" != "1" ]; then
  start_service postgres KALLIMACHOS_TEST_POSTGRES_URL
  start_service opensearch KALLIMACHOS_TEST_OPENSEARCH_URL
  # the fault tests may stop and restart the OpenSearch this script manages
  if [ "${KALLIMACHOS_TEST_OPENSEARCH_URL:-}" = "$(scripts/opensearch.sh url 2>/dev/null)" ]; then
    export KALLIMACHOS_TEST_OPENSEARCH_CONTROL="$PWD/scripts/opensearch.sh"
  fi
fi

echo "== ruff"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest "$@"
