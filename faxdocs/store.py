"""Where fax files are: the spool ReceiveFAX writes into (settings.fax_spool), the fax folder
dialfunnel keeps them in (settings.fax_path: ``in/`` received, ``out/`` to send, each fax as
TIFF and PDF) and the fax-on-demand sheets (settings.fax_documents_path, ``<name>.tif``).
Keys are relative paths made here, never from a user's file name."""
from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path, PurePosixPath

from faxdocs import convert

SPOOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}\.tiff?")
KEY = re.compile(r"(in|out)/[A-Za-z0-9._-]{1,100}\.(tif|pdf)")


class UnsafePath(ValueError):
    """A file name from the PBX that could leave the spool."""


def spool_name(path_on_pbx: str) -> str:
    """The file name of a ReceiveFAX path as the dialplan reports it (a path on the PBX)."""
    if not path_on_pbx or "\x00" in path_on_pbx or "\\" in path_on_pbx:
        raise UnsafePath(f"bad fax file name {path_on_pbx!r}")
    name = PurePosixPath(path_on_pbx).name
    if not SPOOL_NAME.fullmatch(name):
        raise UnsafePath(f"bad fax file name {path_on_pbx!r}")
    return name


class FaxStore:
    def __init__(self, root: str | Path, spool: str | Path, documents: str | Path | None = None):
        self.root, self.spool = Path(root), Path(spool)
        self.documents = Path(documents) if documents else self.spool / "out"

    def path(self, key: str) -> Path:
        if not KEY.fullmatch(key or ""):
            raise UnsafePath(f"bad fax key {key!r}")
        return self.root / key

    def keep_received(self, path_on_pbx: str, uniqueid: str) -> tuple[str | None, str | None, int]:
        """Move a received TIFF from the spool into the fax folder and make its PDF:
        (tiff key, pdf key, pages). No file (a failed reception writes none): (None, None, 0).
        A TIFF that cannot be read is kept without a PDF."""
        source = self.spool / spool_name(path_on_pbx)
        if source.is_symlink() or not source.is_file():
            return None, None, 0
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", uniqueid)[:60] + "-" + secrets.token_hex(3)
        tiff_key, pdf_key = f"in/{stem}.tif", f"in/{stem}.pdf"
        self.path(tiff_key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, self.path(tiff_key))
        try:
            pages = convert.tiff_to_pdf(self.path(tiff_key), self.path(pdf_key))
        except convert.ConversionError:
            pdf_key, pages = None, 0
        os.unlink(source)
        return tiff_key, pdf_key, pages

    def new_outgoing(self) -> tuple[str, str]:
        """Keys for a fax to send: (tiff key, pdf key); the folder exists."""
        stem = secrets.token_hex(8)
        (self.root / "out").mkdir(parents=True, exist_ok=True)
        return f"out/{stem}.tif", f"out/{stem}.pdf"

    @property
    def company_stamp(self) -> Path:
        """The company's stamp (公章) a manager uploaded, as PNG."""
        return self.root / "stamps" / "company.png"

    def document_path(self, name: str) -> Path:
        """The TIFF the dialplan sends for fax-on-demand sheet ``name`` (checked by the caller)."""
        if not re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", name or ""):
            raise UnsafePath(f"bad sheet name {name!r}")
        return self.documents / f"{name}.tif"


def store_for(settings) -> FaxStore:
    """The fax folders the settings name (config.settings: fax_dir, fax_spool, fax_documents_dir)."""
    return FaxStore(settings.fax_path, settings.fax_spool_path, settings.fax_documents_path)


def settings_store() -> FaxStore:
    from config.settings import load_settings
    return store_for(load_settings())
