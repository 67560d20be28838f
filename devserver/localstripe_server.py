"""localstripe, the offline stand-in for Stripe, run safely for the demo (and reusable by tests).

The stock `localstripe` command listens on every interface and loads and saves its whole
state in /tmp/localstripe.pickle on every write (stale data from earlier runs, and slower and
slower as data grows). Here it listens on 127.0.0.1 only and keeps its state in memory.

`python -m devserver.localstripe_server --port N` runs the server in the foreground;
`LocalStripe` starts that as a child process and registers the portal's webhook with it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import IO

from devserver.ports import LOOPBACK, stop_process, wait_until_listening

def serve(port: int) -> None:
    """Run localstripe on 127.0.0.1:`port` with disk persistence switched off."""
    from aiohttp import web
    from localstripe import resources

    resources.Store.try_load_from_disk = lambda self: None
    resources.Store.dump_to_disk = lambda self: None
    from localstripe import server

    web.run_app(server.app, host=LOOPBACK, port=port, print=None, access_log=None)


class LocalStripe:
    """A localstripe child process on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}"
        self.process: subprocess.Popen | None = None

    @property
    def js_url(self) -> str:
        """Its fake Stripe.js, to use as STRIPE_JS_URL."""
        return f"{self.url}/js.stripe.com/v3/"

    def start(self, log: IO | None = None, timeout: float = 20.0) -> LocalStripe:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devserver.localstripe_server", "--port", str(self.port)],
            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        if not wait_until_listening(self.port, timeout):
            self.stop()
            raise RuntimeError(f"localstripe did not start on port {self.port}")
        return self

    def register_webhook(self, url: str, secret: str, webhook_id: str = "portal",
                         events: tuple[str, ...] | None = None) -> None:
        """Ask localstripe to POST its events to `url`, signed with `secret`.

        `events=None` sends every event type it knows.
        """
        payload = {"url": url, "secret": secret}
        if events is not None:
            payload["events"] = list(events)
        request = urllib.request.Request(
            f"{self.url}/_config/webhooks/{webhook_id}", data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process, timeout=5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    serve(parser.parse_args(argv).port)


if __name__ == "__main__":
    main()
