"""What an uploaded file really is, decided by its content (SECURITY.md U1, U4).

The name's extension says what the sender claims; `inspect_content` says what the bytes are and
refuses anything outside the allowlist, before a byte is stored:

- the kind is recognised by its signature with `puremagic` (a pure-Python magic-number table):
  PDF, PNG, JPEG and zip containers are what we look for, and any other recognised format
  (HTML, SVG, XML, GIF, executables, ...) is refused by name;
- PNG and JPEG are opened with Pillow, which reads the header only: the pixel count is checked
  before anything could be decoded, and Pillow's own decompression-bomb check is an error here;
- an XLSX is checked as a zip container before anything opens it: the entry count from the
  end-of-central-directory record (before `zipfile` builds its list), the total and per-part
  expanded sizes, the compression ratio, only the part names of a plain SpreadsheetML package
  (no macros, no embedded objects or archives), then every part is read through `zipfile` in
  chunks (bounded by the sizes just checked) so a lying size or a bad CRC is caught;
- a CSV must be text (UTF-8, or a single-byte encoding such as Latin-1) with no NUL or other
  control bytes, and must not start like markup;
- a PDF must start with `%PDF-`, end with `%%EOF` and carry no HTML near its start.

Every check reads the staged file in bounded chunks: memory never grows with the file.
"""

from __future__ import annotations

import re
import struct
import warnings
import zipfile
from typing import BinaryIO

import puremagic
from PIL import Image, UnidentifiedImageError

from portal.domain.core.errors import Text
from portal.domain.core.locales import N_
from portal.domain.attachments.policy import CSV, JPEG, PDF, PNG, XLSX, FileKind, UploadLimits, UploadRefused

CHUNK = 64 * 1024
HEAD = 8 * 1024
# Markup a browser would render as a page (or script) if it ever sniffed the file.
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|object|embed|meta)\b", re.IGNORECASE)
# Control bytes that never occur in a text file (TAB, LF and CR do).
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# puremagic's answers for the formats we accept; zip containers are checked as XLSX.
_KIND_BY_MIME = {
    "application/pdf": PDF,
    "image/png": PNG,
    "image/jpeg": JPEG,
}
_ZIP_MIMES = frozenset({
    "application/zip", XLSX.content_type,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
})
# Signatures of two bytes ("MZ", "BM") also begin ordinary text: below this confidence a match
# is not trusted to name a binary format, and the file is judged as text instead.
_TRUSTED_CONFIDENCE = 0.4

# The part names of a plain SpreadsheetML package. No vbaProject.bin (macros), activeX or
# embeddings (OLE objects, nested workbooks and archives).
_XLSX_PARTS = re.compile(
    r"""
    \[Content_Types\]\.xml
    | _rels/\.rels
    | docProps/(?:app|core|custom)\.xml
    | docProps/thumbnail\.(?:jpeg|jpg|png|wmf|emf)
    | customXml/(?:_rels/)?item(?:Props)?\d+\.xml(?:\.rels)?
    | xl/(?:_rels/)?workbook\.xml(?:\.rels)?
    | xl/(?:styles|sharedStrings|calcChain|metadata|connections|volatileDependencies)\.xml
    | xl/comments\d*\.xml
    | xl/(?:worksheets|chartsheets|dialogsheets|drawings|charts|theme|tables|pivotTables|pivotCache
          |externalLinks|queryTables|threadedComments|persons|richData|slicers|slicerCaches
          |timelines|timelineCaches|namedSheetViews|ctrlProps|customProperties|webextensions
          |featurePropertyBag|revisions)
        /(?:_rels/)?[A-Za-z0-9_]+\.(?:xml|vml)(?:\.rels)?
    | xl/media/[A-Za-z0-9_]+\.(?:png|jpeg|jpg|gif|emf|wmf|bmp|tif|tiff|svg)
    | xl/printerSettings/printerSettings\d+\.bin
    """,
    re.VERBOSE,
)
_XLSX_REQUIRED = ("[Content_Types].xml", "xl/workbook.xml")
_XLSX_MAIN_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_CONTENT_TYPES_MAX = 256 * 1024
# The end-of-central-directory record: signature, disk numbers, entry counts, directory size
# and offset, comment length. It sits in the last 22 bytes plus at most a 64 KB comment.
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
# A central-directory entry is 46 bytes plus its name and extra fields; a directory larger
# than this per allowed entry holds more entries than its record admits.
_MAX_DIRECTORY_BYTES_PER_ENTRY = 512


def inspect_content(staged: BinaryIO, size: int, claimed: FileKind, name: str, limits: UploadLimits) -> FileKind:
    """The kind the staged file's content is, which must be the kind its name claims.

    `staged` is a seekable binary file of `size` bytes (already within the size limit).
    Raises `UploadRefused` with a message naming the file and what is wrong.
    """
    if size == 0:
        raise UploadRefused(N_("“%(name)s” is empty."), name=name)
    staged.seek(0)
    head = staged.read(HEAD)
    actual = _recognise(head, name)
    if actual is not claimed:
        raise UploadRefused(
            N_("“%(name)s” is named as %(claimed)s but its content is %(actual)s: "
               "rename it to end with %(extension)s, or attach the right file."),
            name=name, claimed=claimed.a_label_text, actual=actual.a_label_text, extension=actual.extensions[0],
        )
    if actual is PDF:
        _check_pdf(staged, size, head, name)
    elif actual in (PNG, JPEG):
        _check_image(staged, actual, name, limits)
    elif actual is XLSX:
        _check_xlsx(staged, size, name, limits)
    else:
        _check_text(staged, head, name)
    return actual


def _recognise(head: bytes, name: str) -> FileKind:
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        matches = []
    for match in matches:
        if match.mime_type in _KIND_BY_MIME and head.startswith(match.byte_match):
            return _KIND_BY_MIME[match.mime_type]
        if match.mime_type in _ZIP_MIMES and head.startswith(b"PK\x03\x04"):
            return XLSX
    trusted = [match for match in matches if match.confidence >= _TRUSTED_CONFIDENCE]
    if trusted:
        what = trusted[0].name or trusted[0].mime_type or "file of another kind"
        raise UploadRefused(N_("“%(name)s” cannot be attached: its content is not PDF, PNG, JPEG, CSV or XLSX "
                               "(it looks like: %(what)s)."), name=name, what=what)
    # Nothing binary recognised: it may be text, which `_check_text` decides.
    return CSV


def _has_markup(data: bytes) -> bool:
    return _MARKUP.search(data) is not None


def _check_pdf(staged: BinaryIO, size: int, head: bytes, name: str) -> None:
    if not head.startswith(b"%PDF-"):
        raise UploadRefused(N_("“%(name)s” is not a valid PDF (it does not start with %(marker)s)."), name=name, marker="%PDF-")
    if _has_markup(head[:1024]):
        raise UploadRefused(N_("“%(name)s” is not a plain PDF: it carries HTML."), name=name)
    staged.seek(max(size - 1024, 0))
    if b"%%EOF" not in staged.read(1024):
        raise UploadRefused(N_("“%(name)s” is not a complete PDF (it has no end-of-file marker): was it cut short?"), name=name)


# An image Pillow could not read, by kind.
_UNREADABLE = {
    "png": N_("“%(name)s” is not a valid PNG image: it could not be read."),
    "jpeg": N_("“%(name)s” is not a valid JPEG image: it could not be read."),
}


def _check_image(staged: BinaryIO, kind: FileKind, name: str, limits: UploadLimits) -> None:
    """Header only: `Image.open` reads the size from the header and decodes nothing. Pillow's
    own bomb check (a warning past `Image.MAX_IMAGE_PIXELS`, an error past twice that) is
    made an error here; our cap is lower still."""
    staged.seek(0)
    fmt = "PNG" if kind is PNG else "JPEG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(staged, formats=[fmt]) as image:
                width, height = image.size
                if width * height > limits.max_image_pixels:
                    raise UploadRefused(
                        N_("“%(name)s” is %(width)s × %(height)s pixels: images may have at most "
                           "%(count)s megapixels."),
                        name=name, width=f"{width:,}", height=f"{height:,}", count=limits.max_image_pixels // 1_000_000,
                    )
                if kind is PNG:
                    # Chunk CRCs, read chunk by chunk: nothing is decompressed.
                    image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRefused(N_("“%(name)s” has too many pixels to be accepted."), name=name) from None
    except UploadRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error):
        raise UploadRefused(_UNREADABLE[kind.name], name=name) from None


def _check_text(staged: BinaryIO, head: bytes, name: str) -> None:
    text_start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text_start.startswith(b"<") or _has_markup(head):
        raise UploadRefused(N_("“%(name)s” looks like a web page or markup (HTML, SVG or XML), not a CSV file."), name=name)
    staged.seek(0)
    while chunk := staged.read(CHUNK):
        if _CONTROL_BYTES.search(chunk):
            raise UploadRefused(
                N_("“%(name)s” is not a text CSV file: it contains binary data (NUL or other control bytes)."),
                name=name,
            )
    # Any byte sequence without control bytes decodes as UTF-8 or as a single-byte encoding
    # (Latin-1, Windows-1252): both are accepted, so no decoding is needed to judge it.


def _zip_directory(staged: BinaryIO, size: int, name: str) -> tuple[int, int]:
    """(entries, central directory size) from the end-of-central-directory record, read before
    `zipfile` would build a list of every entry. ZIP64 is refused: no ≤ 10 MB workbook needs it."""
    tail_length = min(size, _EOCD.size + 0xFFFF)
    staged.seek(size - tail_length)
    tail = staged.read(tail_length)
    at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < _EOCD.size:
        raise UploadRefused(N_("“%(name)s” is not a valid XLSX workbook (not a complete zip file)."), name=name)
    _sig, _disk, _start_disk, _disk_entries, entries, directory_size, _offset, _comment = _EOCD.unpack_from(tail, at)
    zip64 = entries == 0xFFFF or directory_size == 0xFFFFFFFF or tail.rfind(_ZIP64_LOCATOR_SIGNATURE, 0, at) >= 0
    if zip64:
        raise UploadRefused(N_("“%(name)s” is not a plain XLSX workbook (ZIP64 container)."), name=name)
    return entries, directory_size


def _check_xlsx(staged: BinaryIO, size: int, name: str, limits: UploadLimits) -> None:
    entries, directory_size = _zip_directory(staged, size, name)
    too_many = Text(N_("“%(name)s” has too many parts for a workbook (at most %(count)s are accepted)."),
                    name=name, count=limits.xlsx_max_entries)
    if entries > limits.xlsx_max_entries or directory_size > limits.xlsx_max_entries * _MAX_DIRECTORY_BYTES_PER_ENTRY:
        raise UploadRefused(too_many)
    staged.seek(0)
    try:
        with zipfile.ZipFile(staged) as archive:
            infos = archive.infolist()
            if len(infos) > limits.xlsx_max_entries:
                raise UploadRefused(too_many)
            _check_xlsx_parts(infos, name, limits)
            _check_content_types(archive, name)
            # Read every part through zipfile: it stops at each part's declared size and
            # checks its CRC, so the sizes checked above are the sizes it really expands to.
            for info in infos:
                with archive.open(info) as part:
                    while part.read(CHUNK):
                        pass
    except UploadRefused:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError,
            ValueError, struct.error):
        raise UploadRefused(N_("“%(name)s” is not a valid XLSX workbook (its zip container is damaged or unusual)."), name=name) \
            from None


def _check_xlsx_parts(infos: list[zipfile.ZipInfo], name: str, limits: UploadLimits) -> None:
    total = 0
    names = set()
    for info in infos:
        if not _XLSX_PARTS.fullmatch(info.filename):
            raise UploadRefused(
                N_("“%(name)s” is not a plain XLSX workbook: it contains “%(part)s” "
                   "(macros, embedded objects and other files are not accepted)."),
                name=name, part=info.filename[:80],
            )
        if info.flag_bits & 0x1:
            raise UploadRefused(N_("“%(name)s” is encrypted or password-protected; attach an unprotected copy."), name=name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UploadRefused(N_("“%(name)s” is not a plain XLSX workbook (unusual compression)."), name=name)
        if info.file_size > CHUNK and info.file_size > limits.xlsx_max_compression_ratio * max(info.compress_size, 1):
            raise UploadRefused(N_("“%(name)s” expands to far more than its size: it is refused as a possible zip bomb."), name=name)
        total += info.file_size
        if total > limits.xlsx_max_uncompressed_bytes:
            raise UploadRefused(
                N_("“%(name)s” expands to more than %(count)s MB: it is refused as a possible zip bomb."),
                name=name, count=limits.xlsx_max_uncompressed_bytes // (1024 * 1024),
            )
        names.add(info.filename)
    missing = [part for part in _XLSX_REQUIRED if part not in names]
    if missing:
        raise UploadRefused(N_("“%(name)s” is not an XLSX workbook (it has no %(part)s)."), name=name, part=missing[0])


def _check_content_types(archive: zipfile.ZipFile, name: str) -> None:
    with archive.open("[Content_Types].xml") as part:
        declared = part.read(_CONTENT_TYPES_MAX + 1)
    if len(declared) > _CONTENT_TYPES_MAX or _XLSX_MAIN_TYPE not in declared:
        raise UploadRefused(
            N_("“%(name)s” is not a plain XLSX workbook (macro-enabled and template workbooks are not accepted)."),
            name=name,
        )
