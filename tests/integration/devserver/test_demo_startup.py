"""The README's first command works: the demo starts, prints where to click, and every one of
those addresses answers; Ctrl-C then stops every process it started."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[3]
PRINTED = ("Portal", "Clerk link", "Mail")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        return response.read().decode()


def _port_is_closed(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        return sock.connect_ex((parts.hostname, parts.port)) != 0


def test_the_demo_starts_prints_where_to_click_and_stops_on_ctrl_c(tmp_path):
    demo = subprocess.Popen(
        [sys.executable, "-m", "devserver", "--port", str(_free_port()), "--instance", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(demo.stdout, output), daemon=True).start()
    printed: dict[str, str] = {}
    staff_logins: list[list[str]] = []
    staff_owns: dict[str, str] = {}
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while len(printed) < len(PRINTED) and time.monotonic() < deadline:
            try:
                line = output.get(timeout=1)
            except queue.Empty:
                assert demo.poll() is None, "the demo exited early:\n" + "\n".join(seen)
                continue
            seen.append(line)
            label, _, value = line.partition(": ")
            if label in PRINTED:
                printed[label] = value.strip()
            if label == "Staff login":
                url, email, password, *owns = value.split()
                staff_logins.append([url, email, password])
                staff_owns[email] = " ".join(owns)
        assert set(printed) == set(PRINTED), "\n".join(seen)

        assert "Email me a sign-in link" in _get(printed["Portal"] + "/sign-in")
        confirm = _get(printed["Clerk link"])
        assert "ap@acme.example" in confirm and "Acme Corp" in confirm
        # The outbox worker delivers the clerk's email among the demo's others (the SLA warnings
        # of its disputes): wait for it to reach the catcher.
        assert _eventually(lambda: "Your sign-in link for Acme Corp" in _get(printed["Mail"]))
        # A staff login for each role, printed before the Mail line: URL, email, password (then
        # the disputes the member owns).
        assert len(staff_logins) >= 4 and all(len(login) == 3 for login in staff_logins)
        assert {login[1].split("@")[0].split(".")[-1] for login in staff_logins} >= {
            "admin", "supervisor", "analyst", "collector"}
        assert "Staff sign-in" in _get(staff_logins[0][0])
        # Each analyst's line says which demo disputes they own.
        assert staff_owns["ana.analyst@northwind.example"].startswith("(owns ")
        assert "open" in staff_owns["ana.analyst@northwind.example"]
        assert "awaiting approval" in staff_owns["eli.analyst@northwind.example"]

        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=40) == 0
        assert _port_is_closed(printed["Portal"]) and _port_is_closed(printed["Mail"])
        assert (tmp_path / "demo.db").exists() and (tmp_path / "demo-logs" / "app.log").exists()
        # The clerk link was fetched above: no log of the demo may hold its token (SECURITY.md A4).
        token = urlsplit(printed["Clerk link"]).path.rsplit("/", 1)[1]
        logs = {path.name: path.read_text(errors="replace") for path in (tmp_path / "demo-logs").iterdir()}
        assert logs and not [name for name, text in logs.items() if token in text]
        assert "GET /link/sign-in/[redacted]" in logs["app.log"]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        demo.stdout.close()


def test_the_demo_runs_no_raw_access_log_and_its_scheduled_commands():
    from devserver.__main__ import (
        PROMISE_CHECK_EVERY_SECONDS, RECONCILE_EVERY_SECONDS, REMINDERS_EVERY_SECONDS, SLA_WARNINGS_EVERY_SECONDS,
        child_commands,
    )

    commands = child_commands(5000)
    assert not [arg for argv in commands.values() for arg in argv if "access-log" in arg]
    assert commands["reconcile"][-1] == "reconcile-stripe"
    assert commands["reconcile"][:4] == [sys.executable, "-m", "devserver.schedule", str(RECONCILE_EVERY_SECONDS)]
    assert RECONCILE_EVERY_SECONDS <= 60
    assert commands["sla-warnings"][-1] == "warn-sla-at-risk"
    assert commands["sla-warnings"][:4] == [sys.executable, "-m", "devserver.schedule",
                                            str(SLA_WARNINGS_EVERY_SECONDS)]
    assert SLA_WARNINGS_EVERY_SECONDS <= 60
    assert commands["promise-check"][-1] == "check-promises"
    assert commands["promise-check"][:4] == [sys.executable, "-m", "devserver.schedule",
                                             str(PROMISE_CHECK_EVERY_SECONDS)]
    assert commands["reminders"][-1] == "send-reminders"
    assert commands["reminders"][:4] == [sys.executable, "-m", "devserver.schedule", str(REMINDERS_EVERY_SECONDS)]
    assert commands["installments"][-1] == "collect-installments"
    assert commands["webhooks"][-4:] == ["send-webhooks", "--loop", "--interval", "1"]


def _eventually(check, timeout: float = 30.0) -> bool:
    """Whether `check()` came true within `timeout` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()
