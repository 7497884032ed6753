"""Excel import / export benchmark (C9).

1. Generates a 100,000-row customer list with dialfunnel.fakedata (company name, contact,
   title, landline, mobile, fax, e-mail, website, address, province, city, industry,
   category, source), with ~2% duplicate names (half repeating an earlier row, half naming a
   customer already in the database), ~1% sharing a phone with the row above (a warning),
   and ~0.5% invalid rows (no name, an over-long value).
   It is written twice: as Excel and WPS save a workbook (shared strings, a dimension) and as
   openpyxl writes one (inline strings; also what pandas and our own export produce).
2. Imports each file through models.imports.importer (the code the web's background job runs:
   duplicate names checked against the file and the database, phones against both) into a
   fresh SQLite database, and into PostgreSQL when --pg-url is given. Each import runs in a
   child process, so its peak memory (ru_maxrss) is its own.
3. Exports 100,000 customers with admin.spreadsheet's xlsx writer (the function behind
   export_response).
4. With --web: the same import through the web app (a threaded server in a child process,
   on SQLite): the upload's answer time, the progress polls (any failure counted), other
   users' page latency while the import runs (p50, p99, max over a loop of pages), and the
   web process's peak memory (VmHWM). Goals: every page < 1 s, no failed poll, < 400 MB.

Goals: import >= 5,000 rows/s with duplicate checking and peak memory < 400 MB; export
>= 10,000 rows/s. The machine's other load counts: CPU seconds are printed next to wall
seconds.

    . .venv/bin/activate
    python bench/import_export.py
    python bench/import_export.py --pg-url 'postgresql+psycopg:///dialfunnel_imports_bench?host=/var/run/postgresql'
    python bench/import_export.py --rows 20000 --format excel      # quick
    python bench/import_export.py --rows 200000 --format excel --web   # a big web import
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialfunnel import fakedata  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.setup import install_defaults  # noqa: E402

from bench.world_flags import COUNT, check  # noqa: E402

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
    from models.org.users import create_user
    from models.schema import Customer
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
            del row["name_key"]         # the column's default makes it from the name
            rows.append(row)
        session.execute(insert(Customer), rows)
    engine.dispose()


# ------------------------------------------------------------------------------------------
# the import, in a child process

def peak_kb(pid: int | str = "self") -> int:
    """A process's peak resident memory (VmHWM). Not ru_maxrss: Linux keeps that across
    fork and exec, so a child would report the generating parent's peak."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def child_import(path: str, url: str) -> None:
    from models.imports import importer
    from models.imports import templates as import_templates
    from models.schema import ImportJob, ImportReportLine, User
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
    rss_before = peak_kb()
    wall, cpu = time.perf_counter(), time.process_time()
    importer.run_job(maker, job_id, path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with maker() as session:
        job = session.get(ImportJob, job_id)
        print(json.dumps(dict(
            status=job.status, error=job.error, rows=job.total_rows, imported=job.imported,
            duplicates=job.duplicates, rejected=job.rejected,
            warnings=session.scalar(select(func.count()).select_from(ImportReportLine).where(
                ImportReportLine.job_id == job_id, ImportReportLine.same_phone_as.is_not(None))),
            wall=wall, cpu=cpu, rss_before_mb=rss_before / 1024, peak_mb=peak_kb() / 1024)))
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
# the import through the web, while another user browses

OTHER_PAGES = ["/", "/customers/target", "/customers/reserve", "/imports", "/customers/potential"]
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def child_web(url: str, data_dir: str, port: str) -> None:
    """The web app on a threaded server (as `dialfunnel web` runs it) until killed."""
    from werkzeug.serving import make_server

    from admin import create_app
    from config.settings import Settings
    engine = make_engine(url)
    app = create_app(Settings(data_dir=Path(data_dir), secret_key="bench-secret"),
                     make_sessionmaker(engine))
    make_server("127.0.0.1", int(port), app, threaded=True).serve_forever()


class Browser:
    """A user's cookies and the page's CSRF token, over plain HTTP."""

    def __init__(self, base: str, username: str, password: str, *, follow: bool = True):
        self.base = base
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies)
        token = self.token("/login")
        self.request("/login", urllib.parse.urlencode(dict(
            username=username, password=password, csrf_token=token)).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"})
        if not follow:   # a redirect is answered as an HTTPError carrying its Location
            self.opener = urllib.request.build_opener(cookies, _NoRedirect())

    def request(self, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 600):
        """(status, body, seconds); a refusal or an error is a status, not an exception."""
        start = time.perf_counter()
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read()
        return status, data, time.perf_counter() - start

    def token(self, path: str = "/") -> str:
        return _TOKEN.search(self.request(path)[1].decode()).group(1)

    def upload(self, path: Path, fields: dict):
        """POST the file to /imports; (the redirect's Location, seconds). Needs follow=False."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in {**fields, "csrf_token": self.token("/imports")}.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                         f"\r\n\r\n{value}\r\n".encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{path.name}"\r\nContent-Type: application/octet-stream'
                     "\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        start = time.perf_counter()
        req = urllib.request.Request(self.base + "/imports", data=b"".join(parts), headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        try:
            self.opener.open(req, timeout=600).read()
            location = None
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location")
        return location, time.perf_counter() - start


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run_web_import(path: Path, url: str, work: Path) -> dict:
    """Upload `path` as tm, poll its job, and meanwhile browse as admin; the web's peak RSS."""
    from models.imports import templates as import_templates
    from models.schema import User
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        tm = session.scalar(select(User).where(User.username == "tm"))
        template_id = import_templates.save_template(session, tm, None, name="bench",
                                                     mapping=COLUMNS, header_rows=1).id
        tm_id = tm.id
    engine.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data_dir = work / "web-data"
    data_dir.mkdir(exist_ok=True)
    server = subprocess.Popen([sys.executable, __file__, "--child-web", url, str(data_dir),
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        tm = Browser(base, "tm", "bench-tm", follow=False)
        admin = Browser(base, "admin", "bench-admin")
        latencies: list[float] = []
        failures: list[int] = []
        done = threading.Event()

        def browse():
            i = 0
            while not done.is_set():
                status, _, seconds = admin.request(OTHER_PAGES[i % len(OTHER_PAGES)])
                latencies.append(seconds)
                if status != 200:
                    failures.append(status)
                i += 1

        other = threading.Thread(target=browse)
        other.start()
        wall = time.perf_counter()
        location, upload_s = tm.upload(path, dict(template=template_id, stage="reserve",
                                                  operator=tm_id, allow_duplicates="1",
                                                  import_valid_rows="1"))
        polls, poll_failures, poll_max, job = 0, 0, 0.0, {}
        rss_at: dict[str, int] = {"upload": rss_kb(server.pid)}   # the web's largest RSS per phase
        job_id = location.split("/")[3] if location and "/jobs/" in location else None
        while job_id:
            status, body, seconds = tm.request(f"/imports/jobs/{job_id}",
                                               headers={"Accept": "application/json"})
            polls += 1
            poll_max = max(poll_max, seconds)
            if status != 200:
                poll_failures += 1
            else:
                job = json.loads(body)
                rss_at[job["status"]] = max(rss_at.get(job["status"], 0), rss_kb(server.pid))
                if job["finished"]:
                    break
            time.sleep(0.5)
        wall = time.perf_counter() - wall
        report_status, report_body, report_s = tm.request(f"/imports/jobs/{job_id}/report") \
            if job_id else (None, b"", 0.0)
        rss_at["report"] = rss_kb(server.pid)
        done.set()
        other.join()
        web_peak_kb = peak_kb(server.pid)
    finally:
        server.terminate()
        server.wait()
    error = job.get("error") or (None if job_id else f"the upload was not accepted: {location}")
    return dict(status=job.get("status"), error=error, rows=job.get(
        "total_rows", 0), imported=job.get("imported", 0), wall=wall, upload=upload_s,
        polls=polls, poll_failures=poll_failures, poll_max=poll_max, pages=len(latencies),
        page_failures=len(failures), p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99), page_max=max(latencies, default=0.0),
        report=report_s, report_status=report_status, report_mb=len(report_body) / 2 ** 20,
        peak_mb=web_peak_kb / 1024,
        rss_mb={phase: round(kb / 1024) for phase, kb in rss_at.items()})


# ------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-url", help="also run on this PostgreSQL database "
                        "(e.g. postgresql+psycopg:///dialfunnel_imports_bench?host=/var/run/postgresql)")
    parser.add_argument("--format", choices=("excel", "openpyxl", "both"), default="both")
    parser.add_argument("--workdir", help="where the files and the SQLite database go")
    parser.add_argument("--web", action="store_true",
                        help="also import through the web app while another user browses")
    parser.add_argument("--web-only", action="store_true",
                        help="only the import through the web (no direct import, no export)")
    parser.add_argument("--child-import", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-web", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    check(parser, args, {"rows": COUNT})
    if args.child_import:
        child_import(*args.child_import)
        return
    if args.child_web:
        child_web(*args.child_web)
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

    databases = [] if args.web_only else [("SQLite", "sqlite:///" + str(work / "bench.db"))]
    if args.pg_url and not args.web_only:
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
    if args.web or args.web_only:
        url = "sqlite:///" + str(work / "bench.db")
        print()
        print("through the web on SQLite, another user browsing "
              f"({', '.join(OTHER_PAGES)}) — goals: pages < 1 s, no failed poll, < 400 MB")
        for kind, path in files.items():
            prepare(url, existing)
            r = run_web_import(path, url, work)
            print(f"{kind}: {r['status']} {r['imported']:,}/{r['rows']:,} rows in "
                  f"{r['wall']:.1f} s (upload answered in {r['upload']:.1f} s); polls "
                  f"{r['polls']} ({r['poll_failures']} failed, slowest {r['poll_max']:.2f} s); "
                  f"other user's pages {r['pages']} ({r['page_failures']} failed): p50 "
                  f"{r['p50']:.2f} s, p99 {r['p99']:.2f} s, max {r['page_max']:.2f} s; "
                  f"result report {r['report_mb']:.1f} MB in {r['report']:.1f} s "
                  f"(HTTP {r['report_status']}); web peak memory {r['peak_mb']:.0f} MB "
                  f"(MB by phase: {r['rss_mb']})")
            if r["status"] != "done":
                print(f"  error: {r['error']}")
    print(f"\nfiles and the SQLite database are in {work}")


if __name__ == "__main__":
    main()
