"""The fax cover page (传真封面): an A4 page from an HTML template, rendered with WeasyPrint."""
from __future__ import annotations

import html
from pathlib import Path

TEMPLATE = """<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 20mm; }}
body {{ font-family: "WenQuanYi Micro Hei", sans-serif; font-size: 14pt; }}
h1 {{ font-size: 30pt; border-bottom: 3px solid black; padding-bottom: 4mm; }}
table {{ border-collapse: collapse; width: 100%; margin: 8mm 0; }}
th {{ text-align: left; width: 30mm; padding: 2mm; }}
td {{ border-bottom: 1px solid black; padding: 2mm; }}
.note {{ white-space: pre-wrap; margin-top: 10mm; }}
</style></head><body>
<h1>{title}</h1>
<table>
<tr><th>{to_label}</th><td>{to}</td></tr>
<tr><th>{fax_label}</th><td>{fax}</td></tr>
<tr><th>{from_label}</th><td>{sender}</td></tr>
<tr><th>{date_label}</th><td>{date}</td></tr>
<tr><th>{pages_label}</th><td>{pages}</td></tr>
<tr><th>{subject_label}</th><td>{subject}</td></tr>
</table>
<div class="note">{note}</div>
</body></html>"""

LABELS = dict(title="传真 FAX", to_label="致 To", fax_label="传真 Fax", from_label="发件人 From",
              date_label="日期 Date", pages_label="页数 Pages", subject_label="主题 Subject")


def render_cover(pdf: str | Path, *, to: str = "", fax: str = "", sender: str = "",
                 date: str = "", pages: str = "", subject: str = "", note: str = "") -> None:
    """Write the cover page PDF. Every value is text (escaped); ``pages`` counts the cover."""
    import weasyprint
    values = {k: html.escape(str(v)) for k, v in dict(
        to=to, fax=fax, sender=sender, date=date, pages=pages, subject=subject,
        note=note).items()}
    weasyprint.HTML(string=TEMPLATE.format(**LABELS, **values)).write_pdf(str(pdf))
