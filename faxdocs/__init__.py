"""Fax files (T8): `convert.py` turns PDFs and images into fax TIFF (1728 px wide, 204×196 or
204×98 dpi, CCITT G3/G4, with Ghostscript) and received TIFF into PDF (pages and resolution
kept, with Pillow), places a stamp or signature on a page and draws page previews;
`cover.py` renders the cover page template (WeasyPrint)."""
