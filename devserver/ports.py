"""Ports on 127.0.0.1 and child processes for the demo's servers and the tests' sinks.

Some servers (aiosmtpd's Controller) cannot be told "port 0, pick one", so a port is found
free first and handed over; the short race with another process is accepted.
"""

from __future__ import annotations

import socket
import subprocess
import time

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def preferred_or_free(preferred: int) -> int:
    """The well-known port when nothing listens there (stable demo URLs), else any free one."""
    return preferred if is_free(preferred) else free_port()


def wait_until_listening(port: int, timeout: float = 15.0, host: str = LOOPBACK) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_process(process: subprocess.Popen | None, timeout: float = 8.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; a no-op once it has exited."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
