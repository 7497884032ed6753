"""Fax file conversions. Ghostscript (``gs``) renders PDF pages to fax TIFF; Pillow reads TIFF
back (CCITT G3 1-D/2-D and G4, either fill order, as spandsp writes them) and writes PDF.

A fax page is 1728 pixels wide (Ghostscript's fax devices adjust A4 to it); fine resolution is
204×196 dpi (Asterisk reports it as 8031x7700 pixels per metre), normal 204×98."""
from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

FAX_WIDTH = 1728
FINE = (204, 196)
NORMAL = (204, 98)
DEVICES = {"g3": "tiffg3", "g3-2d": "tiffg32d", "g4": "tiffg4"}
COMPRESSIONS = {"g3": "group3", "g3-2d": "group3", "g4": "group4"}
PDF_MAGIC = b"%PDF-"
GS_TIMEOUT = 120


class ConversionError(ValueError):
    """The file cannot be made into a fax (not a PDF or image, damaged, Ghostscript missing)."""


@dataclasses.dataclass(frozen=True)
class Page:
    width: int
    height: int
    dpi: tuple[int, int]
    compression: str   # Pillow's name: group3, group4, raw...


def tiff_pages(path: str | Path) -> list[Page]:
    """Each page of a TIFF as it is stored (size, resolution, compression)."""
    try:
        with Image.open(path) as image:
            pages = []
            for frame in ImageSequence.Iterator(image):
                dpi = frame.info.get("dpi") or (0, 0)
                pages.append(Page(frame.width, frame.height, (round(dpi[0]), round(dpi[1])),
                                  frame.info.get("compression", "")))
            return pages
    except (OSError, UnidentifiedImageError) as exc:
        raise ConversionError(f"not a readable TIFF: {exc}") from exc


def _frames(path: str | Path) -> list[tuple[Image.Image, tuple[float, float]]]:
    try:
        with Image.open(path) as image:
            return [(frame.convert("1"), tuple(frame.info.get("dpi") or FINE))
                    for frame in ImageSequence.Iterator(image)]
    except (OSError, UnidentifiedImageError) as exc:
        raise ConversionError(f"not a readable TIFF: {exc}") from exc


def tiff_to_pdf(tiff: str | Path, pdf: str | Path) -> int:
    """Write the fax as a PDF, one page per TIFF page at its own resolution (a normal-resolution
    page keeps its paper size). Returns the page count."""
    frames = _frames(tiff)
    if not frames:
        raise ConversionError("the TIFF has no pages")
    first, dpi = frames[0]
    first.save(pdf, "PDF", save_all=True, dpi=dpi,
               append_images=[f for f, _ in frames[1:]])
    _fix_page_sizes(Path(pdf), frames)
    return len(frames)


def _fix_page_sizes(pdf: Path, frames) -> None:
    """Pillow's PDF writer gives every page the first page's resolution; pages of another
    resolution (a fax may mix fine and normal) are written again one by one."""
    if len({dpi for _, dpi in frames}) == 1:
        return
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (frame, dpi) in enumerate(frames):
            part = Path(tmp) / f"{i}.pdf"
            frame.save(part, "PDF", dpi=dpi)
            parts.append(str(part))
        _gs(["-sDEVICE=pdfwrite", f"-sOutputFile={pdf}", *parts])


def _gs(args: list[str]) -> None:
    gs = shutil.which("gs")
    if gs is None:
        raise ConversionError("Ghostscript (gs) is not installed")
    try:
        done = subprocess.run([gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", *args],
                              capture_output=True, timeout=GS_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise ConversionError("Ghostscript took too long") from exc
    if done.returncode != 0:
        message = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
        raise ConversionError("Ghostscript: " + (message[-1] if message else f"exit {done.returncode}"))


def image_to_pdf(data: bytes, pdf: str | Path) -> None:
    """A picture (PNG, JPEG, a scan) as a one-page A4 PDF, scaled to fit."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
    except (OSError, UnidentifiedImageError) as exc:
        raise ConversionError("not a PDF or an image") from exc
    pages = []
    for frame in frames:
        page = Image.new("RGB", (1654, 2339), "white")   # A4 at 200 dpi
        frame.thumbnail((page.width - 100, page.height - 100))
        page.paste(frame, ((page.width - frame.width) // 2, 50))
        pages.append(page)
    pages[0].save(pdf, "PDF", save_all=True, append_images=pages[1:], resolution=200)


def to_fax_tiff(sources: list[str | Path], tiff: str | Path, *, fine: bool = True,
                compression: str = "g3") -> list[Page]:
    """Render PDFs (in order: a cover page first, say) into one fax TIFF. Returns its pages."""
    if compression not in DEVICES:
        raise ConversionError(f"unknown fax compression {compression!r}")
    for source in sources:
        with open(source, "rb") as f:
            if f.read(5) != PDF_MAGIC:
                raise ConversionError(f"{Path(source).name} is not a PDF")
    x, y = FINE if fine else NORMAL
    Path(tiff).unlink(missing_ok=True)
    _gs([f"-sDEVICE={DEVICES[compression]}", f"-r{x}x{y}", "-sPAPERSIZE=a4", "-dFIXEDMEDIA",
         "-dPDFFitPage", f"-sOutputFile={tiff}", *[str(s) for s in sources]])
    if not Path(tiff).is_file() or Path(tiff).stat().st_size == 0:
        raise ConversionError("Ghostscript made no page of it (a damaged or empty PDF)")
    return tiff_pages(tiff)


def document_to_fax_tiff(data: bytes, tiff: str | Path, *, cover: str | Path | None = None,
                         fine: bool = True, compression: str = "g3") -> list[Page]:
    """An uploaded PDF or image (bytes), after an optional cover page PDF, as fax TIFF."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "document.pdf"
        if data.startswith(PDF_MAGIC):
            source.write_bytes(data)
        else:
            image_to_pdf(data, source)
        return to_fax_tiff(([cover] if cover else []) + [source], tiff, fine=fine,
                           compression=compression)


def stamp(tiff: str | Path, mark: bytes, *, page: int, x: float, y: float,
          width: float = 0.2) -> None:
    """Place a stamp or signature picture on page ``page`` (0-based) of a fax TIFF, its centre
    at (x, y) as fractions of the page's width and height, ``width`` a fraction of the page's
    width; the picture keeps its proportions. White and transparent parts leave the page as it was."""
    frames = _frames(tiff)
    if not 0 <= page < len(frames):
        raise ConversionError(f"the fax has no page {page + 1}")
    if not (0 <= x <= 1 and 0 <= y <= 1 and 0 < width <= 1):
        raise ConversionError("the stamp's place is outside the page")
    try:
        with Image.open(io.BytesIO(mark)) as picture:
            picture = picture.convert("RGBA")
    except (OSError, UnidentifiedImageError) as exc:
        raise ConversionError("the stamp is not an image") from exc
    target, dpi = frames[page]
    w = max(1, round(target.width * width))
    # pixels are not square at normal resolution: keep the picture's proportions on paper
    h = max(1, round(picture.height * w / picture.width * dpi[1] / dpi[0]))
    picture = picture.resize((w, h))
    ink = Image.new("L", picture.size, 255)
    ink.paste(picture.convert("L"), mask=picture.getchannel("A"))
    mask = ink.point(lambda v: 255 if v < 160 else 0)
    left, top = round(target.width * x - w / 2), round(target.height * y - h / 2)
    page_image = target.convert("L")
    page_image.paste(0, (left, top, left + w, top + h), mask)
    frames[page] = (page_image.convert("1"), dpi)
    _write_tiff(frames, tiff, tiff_pages(tiff)[0].compression or "group4")


def _write_tiff(frames, tiff: str | Path, compression: str) -> None:
    """Write pages of one resolution (the faxes we render) back as a fax TIFF: min-is-white and
    one strip per page, as fax software expects (Pillow's defaults differ)."""
    dpis = {dpi for _, dpi in frames}
    if len(dpis) != 1:
        raise ConversionError("the fax mixes resolutions")
    tags = {262: 0, 278: max(f.height for f, _ in frames)}
    out = Path(tiff).with_suffix(".tmp.tif")
    frames[0][0].save(out, "TIFF", save_all=True, compression=compression, tiffinfo=tags,
                      dpi=dpis.pop(), append_images=[f for f, _ in frames[1:]])
    out.replace(tiff)


def clean_stamp(data: bytes, max_side: int = 1200) -> bytes:
    """A stamp or signature picture as PNG with transparency, at most ``max_side`` pixels."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture = picture.convert("RGBA")
    except (OSError, UnidentifiedImageError) as exc:
        raise ConversionError("the stamp is not an image") from exc
    picture.thumbnail((max_side, max_side))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def preview_png(tiff: str | Path, page: int = 0, width: int = 600) -> bytes:
    """One page as a PNG ``width`` pixels wide, drawn at its paper proportions (the page
    preview on which the user places a stamp)."""
    frames = _frames(tiff)
    if not 0 <= page < len(frames):
        raise ConversionError(f"the fax has no page {page + 1}")
    frame, dpi = frames[page]
    height = round(frame.height / dpi[1] * dpi[0] * width / frame.width)
    out = io.BytesIO()
    frame.convert("L").resize((width, height)).save(out, "PNG")
    return out.getvalue()
