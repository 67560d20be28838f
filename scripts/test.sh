#!/usr/bin/env bash
# The test suite on SQLite, then on PostgreSQL. Arguments go to pytest:
#   ./scripts/test.sh                    everything
#   ./scripts/test.sh tests/unit -x      a part, stop at the first failure
#
# PostgreSQL: TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres),
# a user that may create databases. Not reachable: the SQLite run alone, with a note.
# Browser tests use Debian's chromium (installed here when root); without it they skip.
# With CI=true nothing may be left out: PostgreSQL or Chromium missing is a failure, and so
# is a run in which pytest collects no test (its exit code 5).
# Coverage of portal/ and admin/ is measured and totalled; PORTAL_TEST_COVERAGE=0 turns it off.
# `ruff check` runs first (pyflakes, bugbear, pyupgrade) and its failure fails the run.
set -uo pipefail
source "$(dirname "$0")/_setup.sh"
cd "$ROOT"

case "${CI:-}" in 1|true|TRUE|True|yes) ON_CI=1 ;; *) ON_CI="" ;; esac
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
COVERAGE=${PORTAL_TEST_COVERAGE:-1}
COVERAGE_DIR="$ROOT/test-artifacts/coverage"
problems=()

ensure_debian_packages "The portal (WeasyPrint renders its PDFs)" "${WEASYPRINT_PACKAGES[@]}" ||
  die "Install the packages above, then run ./scripts/test.sh again."
if ! ensure_debian_packages "The browser tests" chromium; then
  if [ -n "$ON_CI" ]; then
    problems+=("Chromium is not installed: on CI the browser tests must run")
  else
    warn "Without Chromium the browser tests are skipped."
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
run_suite() {  # run_suite DB [pytest args...]
  local db=$1; shift
  local log rc last
  log=$(mktemp)
  note "pytest on $db"
  if [ "$COVERAGE" = 1 ]; then
    "$VENV/bin/python" -m coverage run --source=portal,admin --data-file="$COVERAGE_DIR/data.$db" \
      -m pytest --db "$db" "$@" 2>&1 | tee "$log"
  else
    "$VENV/bin/python" -m pytest --db "$db" "$@" 2>&1 | tee "$log"
  fi
  rc=${PIPESTATUS[0]}
  # pytest's closing line, with or without -q: "=== 12 passed, 1 skipped in 3.4s ===".
  last=$(grep -E '(passed|failed|errors?|skipped|deselected|no tests ran).* in [0-9.]+s' "$log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')
  rm -f "$log"
  case $rc in
    0) RESULT[$db]="ok      ${last}" ;;
    5) RESULT[$db]="FAILED  no tests ran (${last:-nothing collected})" ;;
    *) RESULT[$db]="FAILED  ${last:-pytest exit code $rc}" ;;
  esac
  [ "$rc" = 0 ]
}

failed=""
note "ruff check (pyflakes, bugbear, pyupgrade)"
if "$VENV/bin/ruff" check --quiet "$ROOT"; then
  RESULT[lint]="ok"
else
  RESULT[lint]="FAILED  ruff check found problems (above)"
  failed=1
fi
run_suite sqlite "$@" || failed=1
if postgres_reachable; then
  run_suite postgresql "$@" || failed=1
else
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
printf '  %-11s %s\n' "lint" "${RESULT[lint]}" "sqlite" "${RESULT[sqlite]}" "postgresql" "${RESULT[postgresql]}"
[ -n "$coverage_line" ] && echo "  $coverage_line"
for problem in "${problems[@]}"; do
  printf '  %sFAILED%s  %s\n' "$RED" "$PLAIN" "$problem"
done
if [ -n "$failed" ] || [ ${#problems[@]} -gt 0 ]; then
  exit 1
fi
exit 0
