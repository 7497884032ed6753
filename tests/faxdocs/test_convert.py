"""Real files through the real conversions, read back with libtiff's tiffinfo and poppler's
pdfinfo (not with the code under test)."""
import io
import re
import subprocess

import pytest
from PIL import Image, ImageDraw

from faxdocs import convert, cover


def tiffinfo(path) -> list[dict]:
    out = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = []
    for block in out.split("TIFF Directory")[1:]:
        size = re.search(r"Image Width: (\d+) Image Length: (\d+)", block)
        dpi = re.search(r"Resolution: ([\d.]+), ([\d.]+) pixels/inch", block)
        pages.append(dict(width=int(size[1]), height=int(size[2]),
                          dpi=(float(dpi[1]), float(dpi[2])),
                          compression=re.search(r"Compression Scheme: (.+)", block)[1].strip(),
                          photometric=re.search(r"Photometric Interpretation: (.+)", block)[1].strip()))
    return pages


def pdf_pages(path) -> list[tuple[float, float]]:
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", "99", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return [(round(float(w)), round(float(h))) for w, h in re.findall(r"Page +\d+ size: +([\d.]+) x ([\d.]+)", out)]


def two_page_pdf(path):
    import weasyprint
    weasyprint.HTML(string="<h1>报价单 第一页</h1><p style='page-break-after:always'>x</p>"
                           "<h1>第二页</h1>").write_pdf(str(path))
    return path


def spandsp_like(tmp_path, source_pdf):
    """A received fax as res_fax_spandsp writes it: G3 2-D, lsb-to-msb fill order, the remote
    station id as ImageDescription (tests/fixtures/asterisk/captures-2026-12/fax-loopback.txt)."""
    g3 = tmp_path / "g3.tif"
    convert.to_fax_tiff([source_pdf], g3)
    received = tmp_path / "received.tif"
    subprocess.run(["tiffcp", "-c", "g3:2d:fill", "-f", "lsb2msb", str(g3), str(received)], check=True)
    subprocess.run(["tiffset", "-s", "270", "+86 21 5555 0001", str(received)], check=True)
    return received


@pytest.mark.parametrize("fine,compression,height,dpi,scheme", [
    (True, "g3", 2292, (204, 196), "CCITT Group 3"),
    (False, "g4", 1146, (204, 98), "CCITT Group 4"),
])
def test_pdf_becomes_a_fax_tiff(tmp_path, fine, compression, height, dpi, scheme):
    pdf = two_page_pdf(tmp_path / "doc.pdf")
    pages = convert.to_fax_tiff([pdf], tmp_path / "out.tif", fine=fine, compression=compression)
    read_back = tiffinfo(tmp_path / "out.tif")
    assert len(pages) == len(read_back) == 2
    for page in read_back:
        assert page == dict(width=1728, height=height, dpi=dpi, compression=scheme,
                            photometric="min-is-white")


def test_an_image_becomes_one_fax_page_after_the_cover(tmp_path):
    picture = Image.new("RGB", (800, 600), "white")
    ImageDraw.Draw(picture).rectangle((100, 100, 700, 500), fill="black")
    data = io.BytesIO()
    picture.save(data, "JPEG")
    cover.render_cover(tmp_path / "cover.pdf", to="上海某公司", fax="02155550001", pages="2")
    convert.document_to_fax_tiff(data.getvalue(), tmp_path / "out.tif", cover=tmp_path / "cover.pdf")
    read_back = tiffinfo(tmp_path / "out.tif")
    assert [(p["width"], p["height"], p["dpi"]) for p in read_back] == [(1728, 2292, (204, 196))] * 2
    with Image.open(tmp_path / "out.tif") as tiff:
        tiff.seek(1)
        inked = tiff.convert("L").histogram()[0]
    # the 600 x 400 px rectangle, taken at 200 dpi (3 x 2 inches), made it onto page 2
    assert inked == pytest.approx(3 * 204 * 2 * 196, rel=0.03)


def test_bad_input_is_refused_with_a_clear_error(tmp_path):
    with pytest.raises(convert.ConversionError, match="not a PDF or an image"):
        convert.document_to_fax_tiff(b"hello, not a document", tmp_path / "x.tif")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nbroken")
    with pytest.raises(convert.ConversionError, match="Ghostscript"):
        convert.to_fax_tiff([tmp_path / "broken.pdf"], tmp_path / "x.tif")
    assert not (tmp_path / "x.tif").exists() or (tmp_path / "x.tif").stat().st_size == 0


def test_received_fax_becomes_a_pdf_with_its_pages_and_paper_size(tmp_path):
    received = spandsp_like(tmp_path, two_page_pdf(tmp_path / "doc.pdf"))
    assert tiffinfo(received)[0]["compression"] == "CCITT Group 3"
    assert convert.tiff_to_pdf(received, tmp_path / "fax.pdf") == 2
    assert pdf_pages(tmp_path / "fax.pdf") == [(610, 842)] * 2   # 1728 px at 204 dpi by 2292 at 196, in points


def test_a_mixed_resolution_fax_keeps_each_pages_paper_size(tmp_path):
    pdf = two_page_pdf(tmp_path / "doc.pdf")
    convert.to_fax_tiff([pdf], tmp_path / "fine.tif")
    convert.to_fax_tiff([pdf], tmp_path / "normal.tif", fine=False)
    mixed = tmp_path / "mixed.tif"
    subprocess.run(["tiffcp", str(tmp_path / "fine.tif"), str(tmp_path / "normal.tif"), str(mixed)],
                   check=True)
    assert convert.tiff_to_pdf(mixed, tmp_path / "fax.pdf") == 4
    assert pdf_pages(tmp_path / "fax.pdf") == [(610, 842)] * 2 + [(610, 421)] * 2


def test_stamp_lands_where_it_was_put_and_the_fax_stays_a_fax(tmp_path):
    convert.to_fax_tiff([two_page_pdf(tmp_path / "doc.pdf")], tmp_path / "out.tif")
    seal = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(seal).ellipse((0, 0, 99, 99), fill=(200, 0, 0, 255))
    data = io.BytesIO()
    seal.save(data, "PNG")
    convert.stamp(tmp_path / "out.tif", data.getvalue(), page=1, x=0.75, y=0.8, width=0.1)
    assert tiffinfo(tmp_path / "out.tif") == [dict(
        width=1728, height=2292, dpi=(204, 196), compression="CCITT Group 3",
        photometric="min-is-white")] * 2
    with Image.open(tmp_path / "out.tif") as tiff:
        tiff.seek(1)
        page = tiff.convert("L")
    assert page.getpixel((round(1728 * 0.75), round(2292 * 0.8))) == 0   # the seal's centre
    assert page.getpixel((round(1728 * 0.75), round(2292 * 0.5))) == 255  # blank paper above it
    with pytest.raises(convert.ConversionError, match="no page 3"):
        convert.stamp(tmp_path / "out.tif", data.getvalue(), page=2, x=0.5, y=0.5)


def test_preview_has_the_paper_proportions(tmp_path):
    convert.to_fax_tiff([two_page_pdf(tmp_path / "doc.pdf")], tmp_path / "n.tif", fine=False)
    with Image.open(io.BytesIO(convert.preview_png(tmp_path / "n.tif", 0, width=600))) as png:
        assert png.size == (600, round(600 * (1146 / 98) / (1728 / 204)))   # A4: 600 x 828
