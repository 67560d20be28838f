#!/usr/bin/env bash
# The test suite on SQLite and on PostgreSQL, the two at once (one process per database, a core
# each), each writing its own log (test-artifacts/logs/pytest-DB.log). Arguments go to pytest:
#   ./scripts/test.sh                    everything
#   ./scripts/test.sh tests/unit -x      a part, stop at the first failure
#
# PostgreSQL: TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres),
# a user that may create databases. Not reachable: the SQLite run alone, with a note.
# Browser tests use Debian's chromium (installed here when root, with libatomic1 for
# Playwright's node); without it they skip. Redis: TEST_REDIS_URL, else the tests start a
# throwaway redis-server on a free 127.0.0.1 port (installed here when root).
# With CI=true nothing may be left out: PostgreSQL, Chromium or Redis missing is a failure, and
# so is a run in which pytest collects no test (its exit code 5).
# Coverage of portal/ and admin/ is measured and totalled; PORTAL_TEST_COVERAGE=0 turns it off.
# First `ruff check` (pyflakes, bugbear, pyupgrade), `lint-imports` (the import contracts in
# pyproject.toml) and `flask db check` (models and migrations agree, on a throwaway SQLite
# database and, when reachable, a throwaway PostgreSQL one); each failure fails the run.
# Test order and random seeds (random, Faker, factory_boy; Hypothesis via --hypothesis-seed) are
# shuffled by pytest-randomly with one seed for the whole run, shown in the summary: repeat a
# run with TEST_SEED=N, or keep the file order with `-p no:randomly`.
set -uo pipefail
source "$(dirname "$0")/_setup.sh"
cd "$ROOT"

case "${CI:-}" in 1|true|TRUE|True|yes) ON_CI=1 ;; *) ON_CI="" ;; esac
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
COVERAGE=${PORTAL_TEST_COVERAGE:-1}
TEST_SEED=${TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}
COVERAGE_DIR="$ROOT/test-artifacts/coverage"
problems=()

ensure_debian_packages "The portal (WeasyPrint renders its PDFs)" "${WEASYPRINT_PACKAGES[@]}" ||
  die "Install the packages above, then run ./scripts/test.sh again."
# Playwright's bundled node needs libatomic.so.1, which Debian's chromium does not pull in.
if ! ensure_debian_packages "The browser tests" chromium libatomic1; then
  if [ -n "$ON_CI" ]; then
    problems+=("Chromium (or libatomic1) is not installed: on CI the browser tests must run")
  else
    warn "Without Chromium the browser tests are skipped."
  fi
fi
# axe-core (npm) for the accessibility checks of the browser tests; no node: they skip them.
if ! ensure_browser_test_packages; then
  if [ -n "$ON_CI" ]; then
    problems+=("axe-core could not be installed (npm ci in tests/browser): on CI the accessibility checks must run")
  else
    warn "Without node and npm (or npm ci in tests/browser) the accessibility checks are skipped."
  fi
fi
if [ -z "${TEST_REDIS_URL:-}" ] && ! ensure_debian_packages "The Redis tests" redis-server; then
  if [ -n "$ON_CI" ]; then
    problems+=("redis-server is not installed and TEST_REDIS_URL is not set: on CI the Redis tests must run")
  else
    warn "Without redis-server (or TEST_REDIS_URL) the Redis tests are skipped."
  fi
fi
ensure_venv
rm -rf "$COVERAGE_DIR" && mkdir -p "$COVERAGE_DIR"

postgres_reachable() {
  "$VENV/bin/python" - <<'PY' 2>/dev/null
import os, psycopg
url = os.environ["TEST_POSTGRES_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
psycopg.connect(url, connect_timeout=3).close()
PY
}

declare -A RESULT
LOG_DIR="$ROOT/test-artifacts/logs"
declare -A SUITE_PID

# start_suite DB [pytest args...]: pytest on DB in the background, its output in
# $LOG_DIR/pytest-DB.log. Each run has its own
# temporary directory and coverage data file; ports (SMTP sinks, localstripe, Redis, the live
# servers) are free ones picked by each run, and the PostgreSQL database is the run's own.
start_suite() {
  local db=$1; shift
  local log="$LOG_DIR/pytest-$db.log"
  local -a pytest=(-m pytest --db "$db" --basetemp="$SCRATCH/pytest-$db" -p randomly
                   --randomly-seed="$TEST_SEED" --hypothesis-seed="$TEST_SEED" "$@")
  if [ "$COVERAGE" = 1 ]; then
    pytest=(-m coverage run --source=portal,admin --data-file="$COVERAGE_DIR/data.$db" "${pytest[@]}")
  fi
  # A process group of its own (job control on for the start): a background job of a script
  # would otherwise ignore SIGINT, and Ctrl-C could not stop it cleanly (stop_suites).
  set -m
  "$VENV/bin/python" "${pytest[@]}" >"$log" 2>&1 &
  SUITE_PID[$db]=$!
  set +m
}

# finish_suite DB: wait for DB's run, print its summary (or, when it failed, the end of its
# log) and set RESULT[DB]. Returns non-zero when the run failed or collected no test.
finish_suite() {
  local db=$1
  local log="$LOG_DIR/pytest-$db.log" rc last
  wait "${SUITE_PID[$db]}"
  rc=$?
  unset "SUITE_PID[$db]"
  # pytest's closing line, with or without -q: "=== 12 passed, 1 skipped in 3.4s ===".
  last=$(grep -E '(passed|failed|errors?|skipped|deselected|no tests ran).* in [0-9.]+s' "$log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')
  echo
  if [ "$rc" = 0 ]; then
    note "pytest on $db: ${last} (log: ${log#"$ROOT"/})"
    # pytest's short summary (-ra: skips, xfails), when there is one.
    sed -n '/short test summary info/,$p' "$log" | sed "s/^/  [$db] /"
  else
    note "pytest on $db FAILED (exit code $rc); the end of its log (${log#"$ROOT"/}):"
    if grep -qE '^=+ (FAILURES|ERRORS) =+$' "$log"; then
      sed -n '/^=* \(FAILURES\|ERRORS\) =*$/,$p' "$log" | tail -n 400 | sed "s/^/  [$db] /"
    else
      tail -n 120 "$log" | sed "s/^/  [$db] /"
    fi
  fi
  case $rc in
    0) RESULT[$db]="ok      ${last}" ;;
    5) RESULT[$db]="FAILED  no tests ran (${last:-nothing collected})" ;;
    *) RESULT[$db]="FAILED  ${last:-pytest exit code $rc}" ;;
  esac
  [ "$rc" = 0 ]
}

# db_check DB URL: migrate a throwaway database to head, then `flask db check` on it.
db_check() {
  local db=$1 url=$2 output
  local -a env=(DATABASE_URL="$url" PORTAL_MODE=test SECRET_KEY="db-check-$RANDOM$RANDOM$RANDOM-scratch")
  if output=$(env "${env[@]}" "$VENV/bin/flask" --app wsgi db upgrade 2>&1) &&
     output=$(env "${env[@]}" "$VENV/bin/flask" --app wsgi db check 2>&1); then
    RESULT[dbcheck-$db]="ok      ${output##*$'\n'}"
    return 0
  fi
  printf '%s\n' "$output"
  RESULT[dbcheck-$db]="FAILED  db check on $db: ${output##*$'\n'}"
  return 1
}

# postgres_scratch create|drop NAME: a throwaway database on the TEST_POSTGRES_URL server.
postgres_scratch() {
  "$VENV/bin/python" - "$1" "$2" <<'PY'
import os, sys, psycopg
url = os.environ["TEST_POSTGRES_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
action, name = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
    if action == "create":
        conn.execute(f'CREATE DATABASE "{name}"')
    else:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
PY
}

failed=""
note "ruff check (pyflakes, bugbear, pyupgrade)"
if "$VENV/bin/ruff" check --quiet "$ROOT"; then
  RESULT[lint]="ok"
else
  RESULT[lint]="FAILED  ruff check found problems (above)"
  failed=1
fi
note "lint-imports (the import contracts in pyproject.toml)"
if imports_log=$("$VENV/bin/lint-imports" --no-cache 2>&1); then
  RESULT[imports]="ok      $(grep -E '^Contracts: ' <<<"$imports_log" | tail -n 1)"
else
  printf '%s\n' "$imports_log"
  RESULT[imports]="FAILED  $(grep -E '^Contracts: ' <<<"$imports_log" | tail -n 1 || echo 'lint-imports failed (above)')"
  failed=1
fi

note "flask db check (models and migrations agree)"
SCRATCH=$(mktemp -d)
stop_suites() {  # Ctrl-C (or a TERM) while pytest runs: pytest's own Ctrl-C, its teardown, then out
  local pid
  for pid in "${SUITE_PID[@]}"; do kill -INT -- "-$pid" 2>/dev/null; done
  for pid in "${SUITE_PID[@]}"; do wait "$pid" 2>/dev/null; done
}
trap 'stop_suites; rm -rf "$SCRATCH"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
db_check sqlite "sqlite:///$SCRATCH/dbcheck.db" || failed=1
pg_reachable=""
postgres_reachable && pg_reachable=1
if [ -n "$pg_reachable" ]; then
  scratch_db="portal_dbcheck_$$"
  if postgres_scratch create "$scratch_db"; then
    db_check postgresql "${TEST_POSTGRES_URL%/*}/$scratch_db" || failed=1
    postgres_scratch drop "$scratch_db" || warn "could not drop the scratch database $scratch_db"
  else
    RESULT[dbcheck-postgresql]="FAILED  could not create a scratch database on $TEST_POSTGRES_URL"
    failed=1
  fi
else
  RESULT[dbcheck-postgresql]="not run: no PostgreSQL at $TEST_POSTGRES_URL"
fi

rm -rf "$LOG_DIR" && mkdir -p "$LOG_DIR"
suites=(sqlite)
[ -n "$pg_reachable" ] && suites+=(postgresql)
note "pytest on ${suites[*]}, at once (logs in ${LOG_DIR#"$ROOT"/}/); started $(date +%H:%M:%S)"
for db in "${suites[@]}"; do
  start_suite "$db" "$@"
done
for db in "${suites[@]}"; do
  finish_suite "$db" || failed=1
done
if [ -z "$pg_reachable" ]; then
  RESULT[postgresql]="not run: no PostgreSQL at $TEST_POSTGRES_URL"
  if [ -n "$ON_CI" ]; then
    problems+=("PostgreSQL is not reachable at $TEST_POSTGRES_URL: on CI both databases must run")
  else
    warn "PostgreSQL is not reachable at $TEST_POSTGRES_URL, so only SQLite ran. Start one"
    warn "(apt-get install postgresql) or point TEST_POSTGRES_URL at a server to run both."
  fi
fi

coverage_line=""
if [ "$COVERAGE" = 1 ]; then
  combined="$COVERAGE_DIR/combined"
  if "$VENV/bin/python" -m coverage combine --quiet --data-file="$combined" "$COVERAGE_DIR"/data.* >/dev/null 2>&1; then
    total=$("$VENV/bin/python" -m coverage report --data-file="$combined" --format=total 2>/dev/null)
    [ -n "$total" ] && coverage_line="coverage of portal/ and admin/ (both runs): ${total}%"
  fi
fi

echo
note "Summary"
printf '  %-20s %s\n' "lint" "${RESULT[lint]}" "import contracts" "${RESULT[imports]}" \
  "db check sqlite" "${RESULT[dbcheck-sqlite]}" "db check postgresql" "${RESULT[dbcheck-postgresql]}" \
  "sqlite" "${RESULT[sqlite]}" "postgresql" "${RESULT[postgresql]}"
[ -n "$coverage_line" ] && echo "  $coverage_line"
echo "  test order and random seed: TEST_SEED=$TEST_SEED (repeat with TEST_SEED=$TEST_SEED ./scripts/test.sh)"
for problem in "${problems[@]}"; do
  printf '  %sFAILED%s  %s\n' "$RED" "$PLAIN" "$problem"
done
if [ -n "$failed" ] || [ ${#problems[@]} -gt 0 ]; then
  exit 1
fi
exit 0
