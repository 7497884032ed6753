"""PDF documents (quotation, coordination sheets) rendered from HTML templates by WeasyPrint.

Rendering never touches the network: the only resources WeasyPrint may load are files under
the Chinese font's folder and the app's static folder; every other URL is refused."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from flask import Response, current_app, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

# Debian's fonts-wqy-microhei
DEFAULT_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_FAMILY = "WenQuanYi Micro Hei"


class LocalFileFetcher(URLFetcher):
    """Serves file:// URLs inside the allowed folders; refuses everything else."""

    def __init__(self, allowed_dirs, **kwargs):
        super().__init__(**kwargs)
        self.allowed_dirs = [Path(d).resolve() for d in allowed_dirs]

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"refused to fetch {url}")
        path = Path(unquote(parts.path)).resolve()
        if not any(path.is_relative_to(d) for d in self.allowed_dirs) or not path.is_file():
            raise ValueError(f"refused to fetch {url}")
        return URLFetcherResponse(url, path.read_bytes())


def font_path() -> Path:
    return Path(current_app.config.get("PDF_FONT_PATH", DEFAULT_FONT))


def render_pdf(template: str, **context) -> bytes:
    """Render `template` (under sales/templates/pdf/) to PDF bytes."""
    font = font_path().resolve()  # a symlinked font: allow the folder it really lives in
    static = Path(current_app.static_folder)
    html = render_template(template, font_url=font.as_uri() if font.is_file() else None,
                           font_family=FONT_FAMILY, **context)
    fetcher = LocalFileFetcher([font.parent, static])
    return HTML(string=html, base_url=static.as_uri() + "/", url_fetcher=fetcher).write_pdf()


def pdf_response(body: bytes, filename: str) -> Response:
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=document.pdf; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "private, no-store"})
