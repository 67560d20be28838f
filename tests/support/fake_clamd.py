"""A small stand-in for ClamAV's daemon: a real socket server speaking clamd's INSTREAM protocol.

A real clamd needs its virus database (hundreds of MB, downloaded): not available offline. This
one reads the command and the length-prefixed chunks exactly as clamd does and judges by one
rule: a stream containing the EICAR test string is infected. `mode` makes it misbehave the ways
a real one can: "close" (hangs up without an answer), "error" (answers an ERROR), "silent"
(reads, never answers: the client's timeout must end it). `stop()` takes it down for good
(connection refused).
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

from tests.support.attachment_files import EICAR


class FakeClamd:
    def __init__(self, unix_path: Path | None = None) -> None:
        if unix_path is None:
            self._server = socket.create_server(("127.0.0.1", 0))
            host, port = self._server.getsockname()[:2]
            self.address = f"tcp://{host}:{port}"
        else:
            self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._server.bind(str(unix_path))
            self._server.listen()
            self.address = f"unix://{unix_path}"
        self._server.settimeout(0.2)
        self.mode = "scan"
        self.received: list[bytes] = []
        self.commands: list[bytes] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-clamd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    self._answer(connection)
                except OSError:
                    pass

    def _answer(self, connection: socket.socket) -> None:
        command = _read_exactly(connection, len(b"zINSTREAM\0"))
        self.commands.append(command)
        if self.mode == "close":
            return
        data = bytearray()
        while True:
            (length,) = struct.unpack("!L", _read_exactly(connection, 4))
            if length == 0:
                break
            data += _read_exactly(connection, length)
        self.received.append(bytes(data))
        if self.mode == "silent":
            self._stopping.wait(3)
            return
        if command != b"zINSTREAM\0":
            reply = b"UNKNOWN COMMAND"
        elif self.mode == "error":
            reply = b"INSTREAM size limit exceeded. ERROR"
        elif EICAR in data:
            reply = b"stream: Eicar-Test-Signature FOUND"
        else:
            reply = b"stream: OK"
        connection.sendall(reply + b"\0")


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = connection.recv(size - len(data))
        if not more:
            raise ConnectionError("client closed the connection")
        data += more
    return data
