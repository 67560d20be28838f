"""Chromium sends nothing off the machine (tests/support/fixtures/browser.py).

Two halves. With the project's own launch arguments, an outside address fails at the closed
proxy on 127.0.0.1 without Chromium resolving the name (a direct attempt would report a name
or connection error instead). With the same arguments but the proxy pointed at a recorder of
the test's own, the app's page on 127.0.0.1 loads without passing the proxy and the
deliberate outside address arrives at the recorder: so every outside request goes to the
proxy, which in the real arguments is a port where nothing listens.
"""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.support.fixtures.browser import CLOSED_PROXY, chromium_args

pytestmark = pytest.mark.browser

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


class RecordingProxy:
    """A TCP server on 127.0.0.1 that notes the first line of each request Chromium sends to its
    proxy ("CONNECT host:443 HTTP/1.1" or "GET http://host/path HTTP/1.1") and refuses it."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.request_lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    first_line = connection.recv(8192).split(b"\r\n", 1)[0].decode("latin-1")
                    with self._lock:
                        self.request_lines.append(first_line)
                    connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def hosts(self) -> list[str]:
        with self._lock:
            lines = list(self.request_lines)
        hosts = []
        for line in lines:
            parts = line.split(" ")
            target = parts[1] if len(parts) > 1 else ""
            target = target.split("://", 1)[-1].split("/", 1)[0]
            hosts.append(target.rsplit(":", 1)[0] if target.count(":") == 1 else target)
        return hosts

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)


@pytest.fixture
def recording_proxy():
    proxy = RecordingProxy()
    yield proxy
    proxy.close()


def test_the_proxy_port_is_closed():
    host, port = CLOSED_PROXY.rsplit(":", 1)
    assert host == "127.0.0.1"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()


def test_an_outside_address_fails_at_the_closed_proxy(page, live_server):
    page.goto(live_server.url + "/sign-in")  # the app itself loads
    assert page.get_by_role("heading").first.is_visible()

    with pytest.raises(PlaywrightError) as raised:
        page.goto("http://portal-outside.example/", timeout=15_000)

    # Not ERR_NAME_NOT_RESOLVED or ERR_CONNECTION_*: Chromium did not try the host itself.
    assert "net::ERR_PROXY_CONNECTION_FAILED" in str(raised.value)


def test_outside_requests_go_to_the_proxy_and_the_apps_pages_do_not(
        playwright, browser_type_launch_args, live_server, recording_proxy):
    browser = playwright.chromium.launch(
        executable_path=browser_type_launch_args["executable_path"],
        args=chromium_args(proxy=recording_proxy.address),
    )
    outside_host = f"probe-{uuid.uuid4().hex[:8]}.example"
    try:
        page = browser.new_page()
        response = page.goto(live_server.url + "/sign-in")
        assert response is not None and response.status == 200
        assert "sign" in page.content().lower()

        with pytest.raises(PlaywrightError):
            page.goto(f"http://{outside_host}/", timeout=15_000)
    finally:
        browser.close()

    hosts = recording_proxy.hosts()
    # The deliberate request reached the proxy, as a proxied request and not a direct one...
    assert outside_host in hosts, recording_proxy.request_lines
    assert f"GET http://{outside_host}/ HTTP/1.1" in recording_proxy.request_lines
    # ...and the app on 127.0.0.1 never went through it (Chromium bypasses loopback).
    assert not LOOPBACK_HOSTS & set(hosts), recording_proxy.request_lines
    # Whatever else Chromium tried on its own (Debian's build calls update and account
    # services) went to the proxy too: in the real arguments it fails at the closed port.
