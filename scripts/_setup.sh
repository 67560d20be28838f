# Sourced by demo.sh and test.sh: Debian packages the portal needs, and a virtual environment
# in .venv with the project installed (`pip install -e '.[test]'`).
#
# The environment is reused while pyproject.toml and the Python version stay the same (a
# stamp file holds their hash); any change reinstalls. Set PYTHON to pick the interpreter.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.portal-installed"
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

find_python() {
  local candidate
  for candidate in ${PYTHON:-} python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_venv() {
  local python wanted
  python=$(find_python) || die "Python 3.11 or newer is needed (Debian 12: apt-get install python3)."
  wanted=$({ cat "$ROOT/pyproject.toml"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    note "Creating the virtual environment in .venv"
    rm -rf "$VENV"
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
      # Debian ships venv's pip bootstrap separately.
      rm -rf "$VENV"
      can_apt && apt_install python3-venv || die "python3 -m venv failed: apt-get install python3-venv"
      "$python" -m venv "$VENV" || die "python3 -m venv failed"
    fi
  fi
  note "Installing the portal and its test tools into .venv (pip install -e '.[test]')"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]" ||
    die "pip install failed (see above)"
  echo "$wanted" > "$STAMP"
}
