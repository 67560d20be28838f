"""U5 at the protocol level: the clamd client against a real socket server speaking INSTREAM."""

from __future__ import annotations

import io
import socket

import pytest

from portal.domain.attachments.scanner import ClamdAddress, ClamdScanner, ScannerUnavailable
from tests.support.attachment_files import EICAR, tiny_pdf
from tests.support.fake_clamd import FakeClamd


@pytest.fixture
def clamd():
    server = FakeClamd()
    yield server
    server.stop()


def test_a_clean_file_is_streamed_whole_and_judged_clean(clamd):
    data = tiny_pdf() * 500  # several chunks
    verdict = ClamdScanner(clamd.address).scan(io.BytesIO(data))
    assert verdict.infected is False
    assert clamd.commands == [b"zINSTREAM\0"]
    assert clamd.received == [data]


def test_eicar_is_reported_with_its_signature(clamd):
    verdict = ClamdScanner(clamd.address).scan(io.BytesIO(b"a,b\n" + EICAR + b"\n"))
    assert verdict.infected is True
    assert verdict.signature == "Eicar-Test-Signature"


@pytest.mark.parametrize("mode", ["close", "error"])
def test_no_verdict_is_unavailable(clamd, mode):
    clamd.mode = mode
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(clamd.address).scan(io.BytesIO(b"a,b\n"))


def test_a_scanner_that_never_answers_times_out_as_unavailable(clamd):
    clamd.mode = "silent"
    with pytest.raises(ScannerUnavailable, match="timed out"):
        ClamdScanner(clamd.address, timeout=0.2).scan(io.BytesIO(b"a,b\n"))


def test_a_scanner_that_is_down_is_unavailable(clamd):
    address = clamd.address
    clamd.stop()
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(address).scan(io.BytesIO(b"a,b\n"))


def test_a_unix_socket_works_too(tmp_path):
    server = FakeClamd(unix_path=tmp_path / "clamd.ctl")
    try:
        assert ClamdScanner(server.address).scan(io.BytesIO(EICAR)).infected is True
        assert ClamdScanner(str(tmp_path / "clamd.ctl")).scan(io.BytesIO(b"ok")).infected is False
    finally:
        server.stop()


@pytest.mark.parametrize(("address", "family", "target"), [
    ("tcp://127.0.0.1:3310", socket.AF_INET, ("127.0.0.1", 3310)),
    ("tcp://[::1]:3310", socket.AF_INET6, ("::1", 3310)),
    ("unix:///run/clamav/clamd.ctl", socket.AF_UNIX, "/run/clamav/clamd.ctl"),
    ("/run/clamav/clamd.ctl", socket.AF_UNIX, "/run/clamav/clamd.ctl"),
])
def test_addresses(address, family, target):
    parsed = ClamdAddress.parse(address)
    assert (parsed.family, parsed.target) == (family, target)


@pytest.mark.parametrize("address", ["", "127.0.0.1:3310", "tcp://127.0.0.1", "tcp://host:port", "http://x:1",
                                     "unix://relative/path", "tcp://127.0.0.1:3310/path"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(ValueError, match="CLAMAV_ADDRESS"):
        ClamdAddress.parse(address)
