"""U1: the content decides the type, and must be what the name says; U4: bombs are refused from
their headers, fast and with bounded memory, without decoding or expanding anything."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from PIL import Image, ImageFile

from portal.domain.attachments.inspection import inspect_content
from portal.domain.attachments.policy import CSV, JPEG, PDF, PNG, XLSX, UploadLimits, UploadRefused, kind_for_name
from tests.support import attachment_files as files

LIMITS = UploadLimits()


def inspect(name: str, data: bytes, limits: UploadLimits = LIMITS):
    return inspect_content(io.BytesIO(data), len(data), kind_for_name(name), name, limits)


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("note.pdf", files.tiny_pdf(), PDF),
    ("photo.png", files.png(), PNG),
    ("photo.jpg", files.jpeg(), JPEG),
    ("photo.jpeg", files.jpeg(), JPEG),
    ("lines.csv", files.CSV_TEXT, CSV),
    ("lines.csv", "\ufeffRechnung;Menge\r\nMärz;3\r\n".encode(), CSV),  # UTF-8 with BOM
    ("lines.csv", "Rechnung;Menge\nMärz;3\n".encode("latin-1"), CSV),  # Latin-1
    ("lines.csv", b"MZ,starts like an executable\n", CSV),  # a two-byte signature is not trusted on text
    ("lines.xlsx", files.xlsx(), XLSX),
    ("lines.xlsx", files.xlsx({"xl/media/image1.png": files.png(), "docProps/core.xml": "<core/>"}), XLSX),
])
def test_real_files_of_each_allowed_kind_pass(name, data, kind):
    assert inspect(name, data) is kind


@pytest.mark.parametrize(("name", "data", "message"), [
    # U1, as SECURITY.md names them
    ("invoice.pdf", files.HTML_PAGE, "HTML document"),
    ("drawing.png", files.SVG_WITH_SCRIPT, "Scalable Vector Graphics"),
    ("drawing.csv", files.SVG_WITH_SCRIPT, "Scalable Vector Graphics"),
    ("drawing.csv", b"\xef\xbb\xbf  \n" + files.SVG_WITH_SCRIPT.split(b"\n", 1)[1], "Scalable Vector Graphics|markup"),
    ("photo.pdf", files.png(), "named as a PDF but its content is a PNG image"),
    ("scan.png", files.tiny_pdf(), "named as a PNG image but its content is a PDF"),
    ("photo.png", files.jpeg(), "named as a PNG image but its content is a JPEG image"),
    ("sheet.csv", files.xlsx(), "named as a CSV file but its content is an Excel workbook"),
    ("sheet.xlsx", files.CSV_TEXT, r"named as an Excel workbook \(XLSX\) but its content is a CSV file: rename it to end with \.csv"),
    # near misses
    ("page.csv", b"<html><body>hello</body></html>", "HTML"),
    ("page.csv", b"  <p>hello <b>x</b></p>", "markup"),
    ("poly.pdf", b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF\n", "carries HTML"),
    ("cut.pdf", files.tiny_pdf()[:-200], "end-of-file marker"),
    ("binary.csv", b"a,b\n\x00\x01\x02\n", "binary data"),
    ("binary.csv", b"a,b\n1,2\x1b[31m\n", "binary data"),
    ("anim.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "Graphics interchange format"),
    ("run.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "its content is not PDF"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a valid PNG image"),
    ("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not a valid JPEG image"),
    ("empty.pdf", b"", "is empty"),
])
def test_hostile_or_mismatched_content_is_refused_with_a_clear_message(name, data, message):
    with pytest.raises(UploadRefused, match=message) as refused:
        inspect(name, data)
    assert name in refused.value.message


EXCEL_PARTS = (
    "docProps/core.xml docProps/custom.xml xl/styles.xml xl/sharedStrings.xml xl/calcChain.xml xl/theme/theme1.xml "
    "xl/worksheets/_rels/sheet1.xml.rels xl/printerSettings/printerSettings1.bin xl/drawings/drawing1.xml "
    "xl/drawings/_rels/drawing1.xml.rels xl/drawings/vmlDrawing1.vml xl/media/image1.png xl/media/image2.svg "
    "xl/charts/chart1.xml xl/charts/style1.xml xl/charts/colors1.xml xl/comments1.xml "
    "xl/threadedComments/threadedComment1.xml xl/persons/person.xml customXml/item1.xml customXml/itemProps1.xml "
    "customXml/_rels/item1.xml.rels xl/tables/table1.xml xl/pivotTables/pivotTable1.xml "
    "xl/pivotCache/pivotCacheDefinition1.xml xl/pivotCache/_rels/pivotCacheDefinition1.xml.rels "
    "xl/featurePropertyBag/featurePropertyBag.xml docProps/thumbnail.jpeg"
).split()


def test_the_parts_excel_writes_are_accepted():
    assert inspect("full.xlsx", files.xlsx({name: "<part/>" for name in EXCEL_PARTS})) is XLSX


@pytest.mark.parametrize(("extra", "message"), [
    ({"xl/vbaProject.bin": b"macro"}, "xl/vbaProject.bin"),
    ({"xl/embeddings/oleObject1.bin": b"ole"}, "xl/embeddings/oleObject1.bin"),
    ({"xl/embeddings/inner.zip": files.zip_bytes({"a.txt": "x"})}, "xl/embeddings/inner.zip"),
    ({"../../etc/cron.d/x": "* * * * * root id"}, "../../etc/cron.d/x"),
    ({"word/document.xml": "<w/>"}, "word/document.xml"),
    ({"xl/activeX/activeX1.xml": "<ax/>"}, "xl/activeX/activeX1.xml"),
])
def test_workbooks_with_parts_outside_a_plain_spreadsheet_are_refused(extra, message):
    with pytest.raises(UploadRefused, match="not a plain XLSX workbook") as refused:
        inspect("sheet.xlsx", files.xlsx(extra))
    assert message in refused.value.message


def test_a_macro_enabled_or_foreign_package_is_refused():
    macro_types = files.CONTENT_TYPES_XML.replace(
        "spreadsheetml.sheet.main+xml", "../application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    with pytest.raises(UploadRefused, match="macro-enabled"):
        inspect("sheet.xlsx", files.xlsx(content_types=macro_types))
    with pytest.raises(UploadRefused, match="has no xl/workbook.xml"):
        inspect("sheet.xlsx", files.xlsx(without=("xl/workbook.xml",)))
    with pytest.raises(UploadRefused, match="not a plain XLSX"):
        inspect("letter.xlsx", files.zip_bytes({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}))


def test_a_damaged_zip_is_refused():
    data = bytearray(files.xlsx())
    data[40:60] = b"\xff" * 20  # inside the first part's compressed bytes
    with pytest.raises(UploadRefused, match="XLSX"):
        inspect("sheet.xlsx", bytes(data))
    with pytest.raises(UploadRefused, match="not a complete zip"):
        inspect("sheet.xlsx", files.xlsx()[:-30])


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image is decoded: the checks must work from the header alone."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)


def _peak_memory(action) -> int:
    tracemalloc.start()
    try:
        action()
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize(("width", "height", "message"), [
    (50_000, 50_000, "too many pixels"),  # 2.5 gigapixels: Pillow's own bomb error, made a refusal
    (10_000, 5_000, "10,000 × 5,000 pixels"),  # 50 MP: under Pillow's threshold, over ours
])
def test_a_pixel_bomb_png_is_refused_from_its_header(no_decoding, width, height, message):
    bomb = files.png_claiming(width, height)
    assert len(bomb) < 100

    def refuse():
        with pytest.raises(UploadRefused, match=message):
            inspect("photo.png", bomb)

    # Decoded, 50k x 50k RGB would take 7.5 GB; the check needs well under 1 MB.
    assert _peak_memory(refuse) < 1024 * 1024


def test_an_image_at_the_pixel_cap_passes_without_decoding(no_decoding):
    assert inspect("photo.png", files.png_claiming(8_000, 5_000)) is PNG  # exactly 40 MP


def test_a_zip_bomb_disguised_as_xlsx_is_refused_without_expanding_it():
    bomb = files.xlsx_bomb(expanded_megabytes=50)
    assert len(bomb) < 200 * 1024  # a few dozen KB on disk, 50 MB expanded

    def refuse():
        with pytest.raises(UploadRefused, match="possible zip bomb"):
            inspect("figures.xlsx", bomb)

    assert _peak_memory(refuse) < 2 * 1024 * 1024


def test_a_zip_bomb_that_understates_its_size_is_caught_while_reading_in_chunks():
    """The central directory claims the sheet expands to 1 MB (an ordinary ratio); zipfile
    stops reading at the claimed size and the CRC check fails: refused, never expanded."""
    bomb = bytearray(files.xlsx_bomb(expanded_megabytes=50))
    directory_entry = bomb.rfind(b"PK\x01\x02", 0, bomb.rfind(b"xl/worksheets/sheet1.xml") + 1)
    bomb[directory_entry + 24:directory_entry + 28] = (1024 * 1024).to_bytes(4, "little")

    def refuse():
        with pytest.raises(UploadRefused, match="damaged"):
            inspect("figures.xlsx", bytes(bomb))

    assert _peak_memory(refuse) < 2 * 1024 * 1024


def test_a_workbook_expanding_past_the_total_is_refused():
    # Each part packs at an ordinary ratio; together they pass the total (lowered for the test).
    limits = UploadLimits(xlsx_max_uncompressed_bytes=200_000)
    parts = {f"xl/worksheets/sheet{n}.xml": bytes(range(256)) * 200 for n in range(2, 6)}
    with pytest.raises(UploadRefused, match="expands to more than"):
        inspect("figures.xlsx", files.xlsx(parts), limits)


def test_a_workbook_with_thousands_of_parts_is_refused_before_zipfile_lists_them(monkeypatch):
    many = files.xlsx_with_many_parts(5000)

    def listing_forbidden(*_args, **_kwargs):
        raise AssertionError("zipfile read the whole central directory")

    import zipfile

    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", listing_forbidden)

    def refuse():
        with pytest.raises(UploadRefused, match="too many parts"):
            inspect("figures.xlsx", many)

    assert _peak_memory(refuse) < 1024 * 1024


def test_a_workbook_whose_directory_lies_about_its_entry_count_is_still_bounded():
    """The end record says 5 entries; the central directory holds 5000. The directory's size
    gives it away before zipfile builds 5000 entries."""
    many = bytearray(files.xlsx_with_many_parts(5000))
    end = many.rfind(b"PK\x05\x06")
    many[end + 8:end + 12] = (5).to_bytes(2, "little") * 2
    with pytest.raises(UploadRefused, match="too many parts"):
        inspect("figures.xlsx", bytes(many))
