"""`python -m devserver.schedule SECONDS -- COMMAND...`: run COMMAND every SECONDS until stopped.

What cron or a systemd timer does in production, for the demo: `reconcile-stripe` every
minute, so an abandoned 3-D Secure attempt is released as it would be in production, and
`warn-sla-at-risk` every minute, so supervisors hear of disputes about to miss their SLA. A run
that fails is reported and the schedule goes on; SIGTERM or SIGINT ends it between runs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m devserver.schedule SECONDS -- COMMAND...", file=sys.stderr)
        return 2
    interval, command = float(argv[0]), argv[2:]
    stopping = {"requested": False}

    def request_stop(_signum, _frame):
        stopping["requested"] = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    while not stopping["requested"]:
        code = subprocess.call(command)
        if code:
            print(f"schedule: {' '.join(command[-1:])} exited {code}", flush=True)
        deadline = time.monotonic() + interval
        while not stopping["requested"] and time.monotonic() < deadline:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
