#!/usr/bin/env bash
# Regenerate requirements.lock: every package the portal, the demo and the tests install, at
# exact versions with their hashes, for Python 3.11 on Linux x86_64 (Debian 12). demo.sh and
# test.sh install from it, so every machine gets the versions that passed the tests.
#
#   ./scripts/lock.sh                     re-resolve within pyproject.toml's ranges, keeping
#                                         the locked versions that still fit
#   ./scripts/lock.sh --upgrade           the newest versions the ranges allow
#   ./scripts/lock.sh --upgrade-package stripe   only that package (and what it needs)
#
# Run it after changing a dependency in pyproject.toml, then ./scripts/test.sh, and commit
# both files together.
set -euo pipefail
source "$(dirname "$0")/_setup.sh"
cd "$ROOT"

ensure_venv
uv="$VENV/bin/uv"
[ -x "$uv" ] || die "uv is missing from .venv (it comes with the test tools); run ./scripts/test.sh once"
# setuptools is the build backend for `pip install --no-deps -e .`: locked too, so that step
# needs nothing unpinned either. pip itself is locked as well: the set-up installs it first,
# because the pip a venv starts with (Python 3.11's 23.2) resolves a locked package's extras
# (weasyprint's fonttools[woff]) to the newest release instead of the locked one.
printf 'setuptools>=69\npip>=25.1\n' | "$uv" pip compile pyproject.toml - \
  --extra demo --extra test \
  --generate-hashes \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --custom-compile-command "./scripts/lock.sh" \
  --output-file "$LOCK_FILE" --quiet "$@"
note "wrote ${LOCK_FILE#"$ROOT"/}; run ./scripts/test.sh, then commit it with pyproject.toml"
