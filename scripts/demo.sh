#!/usr/bin/env bash
# The demo: the portal with offline Stripe (localstripe), a mail catcher and the outbox sender,
# all on 127.0.0.1, with ~50 demo customers. Prints the portal URL, a sign-in link for the demo
# clerk and the mail catcher's URL; Ctrl-C stops everything.
#
#   ./scripts/demo.sh [--port 5000] [--keep-data]
set -euo pipefail
source "$(dirname "$0")/_setup.sh"
cd "$ROOT"

ensure_debian_packages "The portal (WeasyPrint renders its PDFs)" "${WEASYPRINT_PACKAGES[@]}" ||
  die "Install the packages above, then run ./scripts/demo.sh again."
ensure_venv
exec "$VENV/bin/python" -m devserver "$@"
