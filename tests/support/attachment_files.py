"""Attachment test files, made in code: tiny real ones of each allowed kind, and hostile ones.

No binary is committed: each builder writes the bytes the test needs (Pillow for real images,
zipfile for workbooks, a hand-written PDF with a correct cross-reference table).
"""

from __future__ import annotations

import io
import struct
import zlib
import zipfile
from collections.abc import Iterable

from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

# The EICAR anti-virus test string: harmless, and every scanner reports it as infected.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def tiny_pdf(text: str = "Delivery note 4711") -> bytes:
    """A one-page PDF any reader opens (objects, xref offsets and trailer all correct)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def png(width: int = 4, height: int = 3, color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 4, height: int = 3) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(out, "JPEG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR says `width` x `height` (8-bit RGB): a few dozen
    bytes on disk that would need width x height x 3 bytes of memory once decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 16)) \
        + _chunk(b"IEND", b"")


CONTENT_TYPES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>'
)
XLSX_PARTS = {
    "[Content_Types].xml": CONTENT_TYPES_XML,
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships '
        'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "docProps/app.xml": '<?xml version="1.0"?><Properties/>',
    "xl/workbook.xml": (
        '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Short shipment" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'
    ),
    "xl/worksheets/sheet1.xml": (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Ordered 40, received 36</t></is></c></row>'
        '</sheetData></worksheet>'
    ),
}


def xlsx(extra: dict[str, bytes | str] | None = None, *, without: tuple[str, ...] = (),
         content_types: str | None = None) -> bytes:
    """A minimal SpreadsheetML package, with parts added, left out or the content types replaced."""
    parts: dict[str, bytes | str] = {name: body for name, body in XLSX_PARTS.items() if name not in without}
    if content_types is not None:
        parts["[Content_Types].xml"] = content_types
    parts.update(extra or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


def xlsx_bomb(expanded_megabytes: int = 200) -> bytes:
    """A workbook whose one sheet expands from a few hundred KB to `expanded_megabytes` MB of
    zeros. Written a megabyte at a time: the test never holds the expanded data either."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in XLSX_PARTS.items():
            if name != "xl/worksheets/sheet1.xml":
                archive.writestr(name, body)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=False) as sheet:
            block = b"\0" * (1024 * 1024)
            for _ in range(expanded_megabytes):
                sheet.write(block)
    return out.getvalue()


def xlsx_with_many_parts(count: int) -> bytes:
    extra = {f"xl/worksheets/sheet{n}.xml": "<worksheet/>" for n in range(2, count + 2)}
    return xlsx(extra)


def zip_bytes(parts: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0" standalone="no"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script type="text/javascript">alert(document.domain)</script></svg>'
)
CSV_TEXT = b"invoice,line,ordered,received\nINV-1001,1,40,36\n"


class ZeroStream:
    """A readable stream of `size` zero bytes that never exists in memory as a whole."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        self.read_bytes += n
        return b"\0" * n


def big_pdf(megabytes: float) -> bytes:
    """A PDF as far as the checks go (header, trailer marker) of about `megabytes` MB."""
    return b"%PDF-1.4\n" + b" " * int(megabytes * 1024 * 1024) + b"\n%%EOF\n"


def multipart(fields: Iterable[tuple[str, str]], named_files: Iterable[tuple[str, bytes]] = (),
              field: str = "files") -> dict:
    """Keyword arguments for a test client's `post`: the form's `fields` and the files
    ((name, bytes), under `field`) as a multipart/form-data body, as a browser sends a form with
    a file input. Encoded here, in memory: the test client would spool a large body to a
    temporary file that nothing closes."""
    parts = MultiDict(list(fields))
    for name, data in named_files:
        parts.add(field, FileStorage(io.BytesIO(data), filename=name, content_type="application/octet-stream"))
    boundary, body = encode_multipart(parts)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}
