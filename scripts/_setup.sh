# Sourced by demo.sh, test.sh and lock.sh: Debian packages the portal needs, and a virtual
# environment in .venv with the locked dependencies (requirements.lock, hashes checked) and then
# the project itself (`pip install --no-deps -e .`).
#
# The environment is rebuilt from scratch when requirements.lock or the Python version change
# (a stamp file holds their hash), and the project reinstalled when pyproject.toml changes.
# Set PYTHON to pick the interpreter.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
LOCK_STAMP="$VENV/.portal-locked"   # hash of requirements.lock and the Python version
STAMP="$VENV/.portal-installed"     # hash of pyproject.toml (the editable install)
LOCK_FILE="$ROOT/requirements.lock"
# WeasyPrint (invoice and statement PDFs) loads these C libraries at import time.
WEASYPRINT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)

if [ -t 1 ]; then BOLD=$'\033[1m' YELLOW=$'\033[1;33m' RED=$'\033[1;31m' PLAIN=$'\033[0m'
else BOLD="" YELLOW="" RED="" PLAIN=""; fi
note() { printf '%s==>%s %s\n' "$BOLD" "$PLAIN" "$*"; }
warn() { printf '%s==> %s%s\n' "$YELLOW" "$*" "$PLAIN" >&2; }
die() { printf '%s==> %s%s\n' "$RED" "$*" "$PLAIN" >&2; exit 1; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

missing_debian_packages() {
  local package
  command -v dpkg-query >/dev/null 2>&1 || return 0
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || echo "$package"
  done
}

APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    note "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    APT_UPDATED=1
  fi
  note "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure_debian_packages WHY PACKAGE...: install what is missing when root, else say what to do.
# Returns 1 when something is still missing.
ensure_debian_packages() {
  local why=$1; shift
  local missing
  missing=$(missing_debian_packages "$@" | tr '\n' ' ')
  [ -z "${missing// /}" ] && return 0
  if can_apt && apt_install $missing; then
    return 0
  fi
  warn "$why needs Debian packages that are not installed: $missing"
  warn "install them with: sudo apt-get install -y $missing"
  return 1
}

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in ${PYTHON:-} python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# ensure_python: a Python 3.11+ (installed with venv support when root on Debian and none
# exists), printed on stdout.
ensure_python() {
  local python
  if python=$(find_python); then
    echo "$python"
    return 0
  fi
  if can_apt && [ -z "${PYTHON:-}" ]; then
    apt_install python3 python3-venv >&2 || die "apt-get install python3 python3-venv failed"
    python=$(find_python) && { echo "$python"; return 0; }
  fi
  die "Python 3.11 or newer is needed (Debian 12: apt-get install python3 python3-venv)."
}

# pip's own entry of the lock (its pin and hashes), as a requirements file of one.
locked_pip() {
  awk '/^pip==/ { keep = 1; print; next } keep && /^ +--hash=/ { print; next } { keep = 0 }' "$LOCK_FILE"
}

ensure_venv() {
  local python locked project
  python=$(ensure_python) || exit 1
  [ -f "$LOCK_FILE" ] || die "requirements.lock is missing (./scripts/lock.sh writes it)"
  # A new lock or Python: a new environment, so nothing outside the lock stays behind.
  locked=$({ cat "$LOCK_FILE"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
  project=$(sha256sum < "$ROOT/pyproject.toml" | cut -d' ' -f1)
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$LOCK_STAMP" 2>/dev/null)" != "$locked" ]; then
    note "Creating the virtual environment in .venv"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
      # Debian ships venv's pip bootstrap separately.
      rm -rf "$VENV"
      can_apt && apt_install python3-venv || die "python3 -m venv failed: apt-get install python3-venv"
      "$python" -m venv "$VENV" || die "python3 -m venv failed"
    fi
    # The pip a venv starts with (23.2 on Python 3.11) resolves a locked package's extras to
    # the newest release rather than the locked one, and then refuses the unpinned result:
    # the locked pip goes in first.
    note "Installing the locked pip"
    locked_pip > "$VENV/pip.lock"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$VENV/pip.lock" ||
      die "pip install of the locked pip failed (see above)"
    note "Installing the locked dependencies (pip install --require-hashes -r requirements.lock)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$LOCK_FILE" ||
      die "pip install -r requirements.lock failed (see above)"
    echo "$locked" > "$LOCK_STAMP"
  fi
  if [ "$(cat "$STAMP" 2>/dev/null)" != "$project" ]; then
    # The project alone: its dependencies are the locked ones, and setuptools (the build
    # backend) is locked too, hence no build isolation.
    note "Installing the portal itself (pip install --no-deps -e .)"
    # (setuptools' "Editable installation" notice, a box of asterisks, says nothing to act on.)
    PYTHONWARNINGS="ignore:Editable installation" \
      "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT" ||
      die "pip install -e . failed (see above)"
    echo "$project" > "$STAMP"
  fi
  ensure_catalogues
}

# ensure_catalogues: the message catalogues (portal/translations/*/LC_MESSAGES/messages.po)
# compiled to the .mo files the portal reads; build output, not kept in git. The portal refuses
# to start without them, so a failure here stops the script.
ensure_catalogues() {
  local output
  output=$("$VENV/bin/pybabel" compile --statistics -d "$ROOT/portal/translations" 2>&1) || {
    printf '%s\n' "$output" >&2
    die "pybabel compile -d portal/translations failed (see above)"
  }
}

# ensure_browser_test_packages: axe-core for the browser tests' accessibility checks, installed
# from tests/browser/package-lock.json (`npm ci`, integrity hashes checked) when the lock changed
# since the last install; Debian's npm first, when root and there is no npm. Returns 1 when it
# could not be installed.
BROWSER_TESTS="$ROOT/tests/browser"
ensure_browser_test_packages() {
  local stamp="$BROWSER_TESTS/node_modules/.portal-installed" locked
  if ! command -v npm >/dev/null 2>&1; then
    ensure_debian_packages "The browser tests' accessibility checks (axe-core, from npm)" npm || return 1
  fi
  locked=$(sha256sum < "$BROWSER_TESTS/package-lock.json" | cut -d' ' -f1)
  [ -f "$BROWSER_TESTS/node_modules/axe-core/axe.min.js" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$locked" ] && return 0
  note "Installing the browser tests' packages (npm ci in tests/browser)"
  (cd "$BROWSER_TESTS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || return 1
  echo "$locked" > "$stamp"
}
