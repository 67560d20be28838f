"""What several browser tests share: the Stripe.js stand-in served from an origin of its own."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

STANDIN = Path(__file__).with_name("stripe_js_standin.js")


class _StandInHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path != "/v3/":
            self.send_error(404)
            return
        body = STANDIN.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def stripe_js_standin():
    """The stand-in Stripe.js (stripe_js_standin.js) at http://127.0.0.1:<port>/v3/."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandInHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v3/"
    server.shutdown()
    server.server_close()
