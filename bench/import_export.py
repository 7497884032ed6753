"""Excel import / export benchmark (C9).

1. Generates a 100,000-row customer list with dialfunnel.fakedata (company name, contact,
   title, landline, mobile, fax, e-mail, website, address, province, city, industry,
   category, source), with ~2% duplicate names (half repeating an earlier row, half naming a
   customer already in the database), ~1% sharing a phone with the row above (a warning),
   and ~0.5% invalid rows (no name, an over-long value).
   It is written twice: as Excel and WPS save a workbook (shared strings, a dimension) and as
   openpyxl writes one (inline strings; also what pandas and our own export produce).
2. Imports each file through models.importer (the code the web's background job runs:
   duplicate names checked against the file and the database, phones against both) into a
   fresh SQLite database, and into PostgreSQL when --pg-url is given. Each import runs in a
   child process, so its peak memory (ru_maxrss) is its own.
3. Exports 100,000 customers with admin.spreadsheet's xlsx writer (the function behind
   export_response).

Goals: import >= 5,000 rows/s with duplicate checking and peak memory < 400 MB; export
>= 10,000 rows/s. The machine's other load counts: CPU seconds are printed next to wall
seconds.

    . .venv/bin/activate
    python bench/import_export.py
    python bench/import_export.py --pg-url 'postgresql+psycopg:///dialfunnel_imports_bench?host=/var/run/postgresql'
    python bench/import_export.py --rows 20000 --format excel      # quick
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialfunnel import fakedata  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.setup import install_defaults  # noqa: E402

SEED = 20261126
COLUMNS = ["name", "contact_person", "title", "phone", "mobile", "fax", "email", "website",
           "address", "province", "city", "industry", "category", "source"]
HEADER = ["客户名称", "联系人", "职务", "电话", "手机", "传真", "电子邮件", "网址", "地址", "省份",
          "城市", "行业", "客户分类", "客户来源"]
EXISTING = 2_000            # customers in the database before the import
DUPLICATE_SHARE = 0.02
INVALID_SHARE = 0.005
SAME_PHONE_SHARE = 0.01     # a branch office listed with its head office's switchboard
EXPORT_COLUMNS = ["id", "name", "contact_person", "phone", "mobile", "province", "city",
                  "industry", "source", "stage", "ownership", "created_at"]


# ------------------------------------------------------------------------------------------
# data

def customer_rows(n: int, now: dt.datetime):
    """(file rows, names of customers to put in the database first)."""
    rng = random.Random(SEED)
    rows, names = [], []
    existing = [fakedata.customer_row(rng, n + i, now)["name"] for i in range(EXISTING)]
    for i in range(n):
        row = fakedata.customer_row(rng, i, now)
        values = [row[c] for c in COLUMNS]
        x = rng.random()
        if x < DUPLICATE_SHARE / 2 and names:
            values[0] = names[int(rng.random() * len(names))]          # repeats an earlier row
        elif x < DUPLICATE_SHARE:
            values[0] = existing[int(rng.random() * len(existing))]    # already a customer
        elif x < DUPLICATE_SHARE + INVALID_SHARE / 2:
            values[0] = None                                           # no name
        elif x < DUPLICATE_SHARE + INVALID_SHARE:
            values[11] = "行业" * 40                                   # too long
        if rng.random() < SAME_PHONE_SHARE and rows and rows[-1][3]:
            values[3] = rows[-1][3]
        names.append(values[0])
        rows.append(values)
    return rows, existing


def write_excel_style(path: Path, rows) -> None:
    """As Excel/WPS save: shared strings, a dimension, numbers as numbers."""
    strings: dict[str, int] = {}
    body = []
    width = len(HEADER)
    for r, row in enumerate([HEADER, *rows], 1):
        cells = []
        for c, value in enumerate(row, 1):
            if value is None:
                continue
            index = strings.setdefault(value, len(strings))
            cells.append('<c r="%s%d" t="s"><v>%d</v></c>' % (get_column_letter(c), r, index))
        body.append('<row r="%d">%s</row>' % (r, "".join(cells)))
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxml'
                   'formats.org/package/2006/content-types"><Default Extension="rels" ContentType='
                   '"application/vnd.openxmlformats-package.relationships+xml"/><Default '
                   'Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
                   'workbook.xml" ContentType="%s.sheet.main+xml"/><Override PartName="/xl/'
                   'worksheets/sheet1.xml" ContentType="%s.worksheet+xml"/><Override PartName='
                   '"/xl/sharedStrings.xml" ContentType="%s.sharedStrings+xml"/></Types>'
                   % (ct, ct, ct))
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns='
                   '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
                   'Id="rId1" Type="%s/officeDocument" Target="xl/workbook.xml"/></Relationships>'
                   % rel)
        z.writestr("xl/workbook.xml", '<?xml version="1.0" encoding="UTF-8"?><workbook %s '
                   'xmlns:r="%s"><sheets><sheet name="客户" sheetId="1" r:id="rId1"/></sheets>'
                   '</workbook>' % (ns, rel))
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?>'
                   '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'relationships"><Relationship Id="rId1" Type="%s/worksheet" Target="worksheets/'
                   'sheet1.xml"/><Relationship Id="rId2" Type="%s/sharedStrings" Target='
                   '"sharedStrings.xml"/></Relationships>' % (rel, rel))
        z.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0" encoding="UTF-8"?><worksheet '
                   '%s><dimension ref="A1:%s%d"/><sheetData>%s</sheetData></worksheet>'
                   % (ns, get_column_letter(width), len(rows) + 1, "".join(body)))
        z.writestr("xl/sharedStrings.xml", '<?xml version="1.0" encoding="UTF-8"?><sst %s '
                   'uniqueCount="%d">%s</sst>' % (ns, len(strings), "".join(
                       "<si><t>%s</t></si>" % escape(s) for s in strings)))


def write_openpyxl_style(path: Path, rows) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)


# ------------------------------------------------------------------------------------------
# databases

def fresh_database(url: str) -> None:
    """An empty database: no SQLite file, or the PostgreSQL database's schema recreated."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(parsed.database + suffix):
                os.remove(parsed.database + suffix)
        return
    maintenance = parsed.set(database="postgres").render_as_string(hide_password=False)
    admin = make_engine(maintenance, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                           {"n": parsed.database}):
            conn.execute(text('CREATE DATABASE "%s"' % parsed.database))
    admin.dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def prepare(url: str, existing_names: list[str]) -> None:
    """Schema, defaults, two users and the customers already there."""
    from models.schema import Customer
    from models.users import create_user
    fresh_database(url)
    engine = make_engine(url)
    upgrade(engine)
    now = dt.datetime.now(dt.timezone.utc)
    rng = random.Random(SEED + 1)
    with make_sessionmaker(engine).begin() as session:
        install_defaults(session)
        create_user(session, "admin", "管理员", "bench-admin", "admin")
        create_user(session, "tm", "李红光", "bench-tm", "telemarketer")
        rows = []
        for i, name in enumerate(existing_names):
            row = fakedata.customer_row(rng, 10_000_000 + i, now, stage="target",
                                        ownership="shared")
            row["name"] = name
            rows.append(row)
        session.execute(insert(Customer), rows)
    engine.dispose()


# ------------------------------------------------------------------------------------------
# the import, in a child process

def child_import(path: str, url: str) -> None:
    from models import import_templates, importer
    from models.schema import ImportJob, User
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    with maker() as session:
        tm = session.scalar(select(User).where(User.username == "tm"))
        template = import_templates.save_template(session, tm, None, name="bench",
                                                  mapping=COLUMNS, header_rows=1)
        options = importer.check_options(session, tm, template_id=template.id, stage="reserve",
                                         operator=str(tm.id))
        job = importer.create_job(session, tm, filename=Path(path).name, allow_duplicates=True,
                                  import_valid_rows=True, **options)
        session.commit()
        job_id = job.id
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    importer.run_job(maker, job_id, path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with maker() as session:
        job = session.get(ImportJob, job_id)
        print(json.dumps(dict(
            status=job.status, error=job.error, rows=job.total_rows, imported=job.imported,
            duplicates=job.duplicates, rejected=job.rejected,
            warnings=sum(1 for e in job.report if e.get("same_phone_as")),
            wall=wall, cpu=cpu, rss_before_mb=rss_before / 1024,
            peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
    engine.dispose()


def run_import(path: Path, url: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-import", str(path), url],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------
# the export

def run_export(url: str) -> dict:
    from admin.spreadsheet import _xlsx
    from models.schema import Customer
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        wall = time.perf_counter()
        columns = [getattr(Customer, c) for c in EXPORT_COLUMNS]
        rows = session.execute(select(*columns).order_by(Customer.id).limit(100_000)).all()
        fetched = time.perf_counter() - wall
        start, cpu = time.perf_counter(), time.process_time()
        body = _xlsx(EXPORT_COLUMNS, rows)
        built, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    return dict(rows=len(rows), fetch=fetched, build=built, cpu=cpu, size_mb=len(body) / 2 ** 20)


# ------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-url", help="also run on this PostgreSQL database "
                        "(e.g. postgresql+psycopg:///dialfunnel_imports_bench?host=/var/run/postgresql)")
    parser.add_argument("--format", choices=("excel", "openpyxl", "both"), default="both")
    parser.add_argument("--workdir", help="where the files and the SQLite database go")
    parser.add_argument("--child-import", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        child_import(*args.child_import)
        return

    work = Path(args.workdir or tempfile.mkdtemp(prefix="dialfunnel-import-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows, existing = customer_rows(args.rows, dt.datetime.now(dt.timezone.utc))
    print(f"generated {len(rows):,} rows in {time.perf_counter() - start:.1f} s "
          f"({len(existing):,} of the names' owners put in the database first)")
    files = {}
    for kind, write in (("excel", write_excel_style), ("openpyxl", write_openpyxl_style)):
        if args.format in (kind, "both"):
            path = work / f"customers-{kind}.xlsx"
            start = time.perf_counter()
            write(path, rows)
            print(f"wrote {path.name}: {path.stat().st_size / 2 ** 20:.1f} MB "
                  f"in {time.perf_counter() - start:.1f} s")
            files[kind] = path
    del rows

    databases = [("SQLite", "sqlite:///" + str(work / "bench.db"))]
    if args.pg_url:
        databases.append(("PostgreSQL", args.pg_url))
    print()
    print("import (allow duplicates: skip; import valid rows; phones checked) — goal >= 5,000 rows/s, < 400 MB")
    print(f"{'database':<11} {'file':<9} {'rows':>8} {'imported':>9} {'dup':>6} {'rej':>5} "
          f"{'warn':>6} {'wall s':>7} {'rows/s':>7} {'cpu s':>6} {'rows/cpu-s':>10} {'peak MB':>8}")
    for label, url in databases:
        for kind, path in files.items():
            prepare(url, existing)
            r = run_import(path, url)
            if r["status"] != "done":
                print(f"{label:<11} {kind:<9} FAILED: {r['error']}")
                continue
            print(f"{label:<11} {kind:<9} {r['rows']:>8,} {r['imported']:>9,} {r['duplicates']:>6,} "
                  f"{r['rejected']:>5,} {r['warnings']:>6,} {r['wall']:>7.1f} "
                  f"{r['rows'] / r['wall']:>7,.0f} {r['cpu']:>6.1f} {r['rows'] / r['cpu']:>10,.0f} "
                  f"{r['peak_mb']:>8.0f}")
        e = run_export(url)
        total = e["fetch"] + e["build"]
        print(f"{label:<11} export {e['rows']:,} customers ({len(EXPORT_COLUMNS)} columns, "
              f"{e['size_mb']:.1f} MB): query {e['fetch']:.1f} s + xlsx {e['build']:.1f} s "
              f"(cpu {e['cpu']:.1f} s) = {e['rows'] / total:,.0f} rows/s; xlsx alone "
              f"{e['rows'] / e['build']:,.0f} rows/s — goal >= 10,000 rows/s")
    print(f"\nfiles and the SQLite database are in {work}")


if __name__ == "__main__":
    main()
