"""What may be attached, and how big: the allowlist, the limits and the display-name rules.

Pure decisions (no database, no files): the content checks that read an upload are in
`inspection.py`, and `service.store_uploads` applies both.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from portal.domain.core.errors import DomainError, Text
from portal.domain.core.locales import N_

MB = 1024 * 1024


@dataclass(frozen=True)
class FileKind:
    """One allowed kind of file: the content type it is stored and served as, and the name
    extensions that may carry it (the first is the usual one)."""

    name: str
    label: str
    content_type: str
    extensions: tuple[str, ...]

    @property
    def a_label(self) -> str:
        return f"{'an' if self.label[0] in 'AEIOU' else 'a'} {self.label}"

    @property
    def a_label_text(self) -> Text:
        """`a_label` in the reader's language ("a PNG image", "une image PNG")."""
        return Text(_A_LABELS.get(self.name, self.a_label))


PDF = FileKind("pdf", "PDF", "application/pdf", (".pdf",))
PNG = FileKind("png", "PNG image", "image/png", (".png",))
JPEG = FileKind("jpeg", "JPEG image", "image/jpeg", (".jpg", ".jpeg"))
CSV = FileKind("csv", "CSV file", "text/csv", (".csv",))
XLSX = FileKind("xlsx", "Excel workbook (XLSX)", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                (".xlsx",))

# The allowlist (SECURITY.md U1). Anything else (SVG, HTML, archives, executables, macros,
# old Office formats) is refused, whatever its name or the browser's word says.
ALLOWED_KINDS: tuple[FileKind, ...] = (PDF, PNG, JPEG, CSV, XLSX)
KINDS_BY_EXTENSION = {extension: kind for kind in ALLOWED_KINDS for extension in kind.extensions}
ALLOWED_CONTENT_TYPES = frozenset(kind.content_type for kind in ALLOWED_KINDS)
# The allowed kinds as a form lists them, marked for the catalogue ("PDF, PNG, JPEG, CSV et XLSX").
ALLOWED_LIST_TEXT = N_("PDF, PNG, JPEG, CSV and XLSX")
# Each kind's `a_label`, marked for the catalogue.
_A_LABELS = {
    "pdf": N_("a PDF"), "png": N_("a PNG image"), "jpeg": N_("a JPEG image"), "csv": N_("a CSV file"),
    "xlsx": N_("an Excel workbook (XLSX)"),
}


@dataclass(frozen=True)
class UploadLimits:
    """SECURITY.md's numbers: 10 MB a file, 25 MB a request, 10 files a request; images and
    spreadsheets bounded by what they would expand to, not only by their size on disk."""

    max_file_bytes: int = 10 * MB
    max_request_bytes: int = 25 * MB
    max_files: int = 10
    max_image_pixels: int = 40_000_000
    # An xlsx is a zip of XML parts: Excel writes a few dozen; thousands are a bomb's way to
    # exhaust whoever lists them.
    xlsx_max_entries: int = 1000
    # What the parts may expand to, together, and how much smaller than that each may be
    # packed (XML compresses 5-20x; bombs pack a thousandfold).
    xlsx_max_uncompressed_bytes: int = 100 * MB
    xlsx_max_compression_ratio: int = 100

    @classmethod
    def from_settings(cls, settings) -> UploadLimits:
        """From `portal.config.Settings` (duck-typed so the domain does not import it)."""
        return cls(
            max_file_bytes=settings.upload_max_file_bytes,
            max_request_bytes=settings.upload_max_request_bytes,
            max_files=settings.upload_max_files,
            max_image_pixels=settings.upload_max_image_pixels,
        )


DEFAULT_LIMITS = UploadLimits()


class UploadRefused(DomainError):
    """An upload that breaks a rule. Nothing of the request was stored."""


class FileNotServable(DomainError):
    """A stored file that may not be downloaded now (still being scanned, or infected)."""


# Display names: what is shown on pages and offered as the download name. Never a path.
MAX_DISPLAY_NAME_LENGTH = 150
# Characters Windows refuses in file names, replaced so a saved download keeps its name.
_REPLACED = str.maketrans({c: "_" for c in '<>:"|?*'})
# Unicode categories removed: controls (NUL, CR, LF, TAB, ESC), format characters (the bidi
# overrides and isolates such as RTLO U+202E that make "invoice\u202efdp.exe" look like a PDF,
# zero-width characters, the BOM), line and paragraph separators, surrogates, private use and
# unassigned code points.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def sanitise_display_name(raw: str) -> str:
    """A file name safe to show and to offer as a download name.

    The last path segment only (`../../x.pdf` is `x.pdf`), no control, format or bidi
    characters, runs of whitespace folded to one space, no leading dots, Windows-reserved
    characters replaced, at most `MAX_DISPLAY_NAME_LENGTH` characters keeping the extension.
    May return "" (a name made only of such characters); the caller refuses that.
    """
    text = unicodedata.normalize("NFC", raw or "")
    text = "".join(c for c in text if unicodedata.category(c) not in _REMOVED_CATEGORIES)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = " ".join(text.split()).translate(_REPLACED).lstrip(". ").rstrip(". ")
    if len(text) > MAX_DISPLAY_NAME_LENGTH:
        stem, dot, extension = text.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            keep = MAX_DISPLAY_NAME_LENGTH - len(extension) - 1
            text = f"{stem[:keep].rstrip(' .')}.{extension}"
        else:
            text = text[:MAX_DISPLAY_NAME_LENGTH].rstrip(" .")
    return text


def kind_for_name(display_name: str) -> FileKind:
    """The allowed kind a (sanitised) name's extension announces; refused when none does.

    Only the last extension counts: `a.pdf.html` is an HTML file.
    """
    stem, dot, extension = display_name.rpartition(".")
    kind = KINDS_BY_EXTENSION.get(f".{extension.lower()}") if dot and stem else None
    if kind is None:
        raise UploadRefused(
            N_("“%(name)s” cannot be attached: only PDF, PNG, JPEG, CSV and XLSX files are accepted, "
               "and the name must end with .pdf, .png, .jpg, .jpeg, .csv or .xlsx."),
            name=display_name,
        )
    return kind


def check_counts(file_count: int, limits: UploadLimits) -> None:
    if file_count > limits.max_files:
        raise UploadRefused(N_("At most %(limit)s files can be attached at once; this had %(count)s."),
                            limit=limits.max_files, count=file_count)


def size_text(size: int) -> Text:
    """A size in whole megabytes (kilobytes under one), in the reader's language: "10 MB",
    "10 Mo"."""
    if size >= MB:
        return Text(N_("%(count)s MB"), count=f"{size / MB:.0f}")
    return Text(N_("%(count)s KB"), count=max(size // 1024, 1))


def describe_size(size: int) -> str:
    """`size_text` in English: "10 MB", "512 KB"."""
    return size_text(size).render()
