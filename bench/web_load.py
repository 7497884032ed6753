"""Web load benchmark: agents' SSE streams held open while clients load pages.

Starts `dialfunnel web` on a fresh demo database (a temporary data folder, SQLite unless
--database-url is given) with the chosen server: gunicorn with gevent workers (production) or
werkzeug's threaded server (the demo's). Then it logs in --streams extra agents and opens each
one's event stream (/events/stream: reminders and screen pops), and --clients clients logged in
as the demo's users load pages in a loop (the dashboard, a customer list) for --duration
seconds. It prints the pages' latency p50 / p99 / max, the errors, the streams still open at
the end and the web's memory (the summed RSS of the server's processes), then stops the server.

Run it from the project root, in the project's venv, with nothing else busy on the machine:

    python bench/web_load.py --server gunicorn                 # 200 streams, 20 clients, 30 s
    python bench/web_load.py --server threaded
    python bench/web_load.py --server gunicorn --workers 4 --streams 400 --duration 60

Only loopback addresses are used; every loop is bounded by --duration.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("/", "/customers/target", "/customers/potential")


class Client:
    """One logged-in browser: a keep-alive connection and the session cookie."""

    def __init__(self, port: int, timeout: float = 30):
        self.port = port
        self.timeout = timeout
        self.cookie = ""
        self.conn = None

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text

    def login(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/login")
        token = TOKEN.search(page)
        if status != 200 or not token:
            raise RuntimeError(f"no login form ({status})")
        status, _ = self.request("POST", "/login", urlencode(
            {"username": username, "password": password, "csrf_token": token.group(1)}))
        if status != 302:
            raise RuntimeError(f"login as {username} refused ({status})")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def open_stream(port: int, cookie: str, timeout: float = 30) -> socket.socket:
    """An event stream whose response head and first message (its retry and id) were read."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(f"GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    data = b""
    while b"retry:" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"stream closed before its first message: {data[:200]!r}")
        data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream refused: {data[:200]!r}")
    sock.setblocking(False)
    return sock


class Streams:
    """Open event streams, drained by one thread (each is a browser tab's EventSource)."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.open = 0
        self.closed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)

    def add(self, sock: socket.socket) -> None:
        self.selector.register(sock, selectors.EVENT_READ)
        self.open += 1

    def _drain(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.selector.select(0.5):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(key.fileobj)
                    key.fileobj.close()
                    self.open -= 1
                    self.closed += 1

    def close_all(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, ()))
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def tree_rss_kib(pid: int) -> int:
    """Summed VmRSS of a process and its descendants (the gunicorn master and workers)."""
    total = 0
    for current in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants that live."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for child in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def create_stream_users(env: dict, count: int) -> tuple[list[str], str]:
    """`count` extra telemarketers (load001...), one password for all of them."""
    code = (
        "import sys\n"
        "from models.db import make_engine, make_sessionmaker\n"
        "from models.org.auth import hash_password\n"
        "import models.org.users as users\n"
        "from config.settings import load_settings\n"
        "hashed = hash_password(sys.argv[2])\n"
        "users.hash_password = lambda _p: hashed\n"
        "maker = make_sessionmaker(make_engine(load_settings().db_url))\n"
        "with maker.begin() as s:\n"
        "    for n in range(1, int(sys.argv[1]) + 1):\n"
        "        users.create_user(s, f'load{n:03d}', f'Load {n}', sys.argv[2], 'telemarketer')\n")
    password = "load-" + os.urandom(6).hex()
    subprocess.run([sys.executable, "-c", code, str(count), password], env=env, cwd=ROOT,
                   check=True)
    return [f"load{n:03d}" for n in range(1, count + 1)], password


def import_export_module():
    """bench/import_export.py: its file writer and its browser with uploads."""
    import importlib.util
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("import_export", ROOT / "bench" / "import_export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare_import(env: dict, data_dir: Path, rows: int, username: str) -> tuple[Path, dict]:
    """An Excel-style file of `rows` customers, and the form's choices: the template
    `username` made, and `username` as the new customers' operator."""
    import datetime as dt
    ie = import_export_module()
    path = data_dir / "web-load-import.xlsx"
    ie.write_excel_style(path, ie.customer_rows(rows, dt.datetime.now(dt.timezone.utc))[0])
    code = (
        "import sys, json\n"
        "from sqlalchemy import select\n"
        "from models.imports import templates as import_templates\n"
        "from models.db import make_engine, make_sessionmaker\n"
        "from models.schema import User\n"
        "from config.settings import load_settings\n"
        "maker = make_sessionmaker(make_engine(load_settings().db_url))\n"
        "with maker.begin() as s:\n"
        "    user = s.scalar(select(User).where(User.username == sys.argv[1]))\n"
        "    print(import_templates.save_template(s, user, None, name='web-load',\n"
        "          mapping=json.loads(sys.argv[2]), header_rows=1).id, user.id)\n")
    out = subprocess.run([sys.executable, "-c", code, username, json.dumps(ie.COLUMNS)],
                         env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    template_id, user_id = out.split()[-2:]
    return path, {"template": template_id, "operator": user_id}


def run_import(port: int, user: dict, path: Path, choices: dict, stop_at: float) -> dict:
    """Upload the file as `user`, then poll its job until it ends (or the run does)."""
    ie = import_export_module()
    browser = ie.Browser(f"http://127.0.0.1:{port}", user["username"], user["password"],
                         follow=False)
    started = time.monotonic()
    location, upload_s = browser.upload(path, dict(choices, stage="reserve",
                                                   allow_duplicates="1", import_valid_rows="1"))
    if not location or "/jobs/" not in location:
        return {"error": f"the upload was not accepted ({location})"}
    poll = urlsplit(location).path.removesuffix("/view")   # the progress bar's JSON
    job = {}
    while time.monotonic() < stop_at + 600:
        status, body, _ = browser.request(poll)
        if status == 200:
            job = json.loads(body)
            if job["finished"]:
                break
        time.sleep(0.5)
    return {"status": job.get("status"), "imported": job.get("imported"),
            "upload_s": round(upload_s, 1), "wall_s": round(time.monotonic() - started, 1)}


def wait_for_app(port: int, deadline: float) -> None:
    """gunicorn says it listens before its workers have loaded the app."""
    while True:
        client = Client(port, timeout=10)
        try:
            if client.request("GET", "/login")[0] == 200:
                return
        except OSError:
            pass
        finally:
            client.close()
        if time.monotonic() > deadline:
            raise RuntimeError("the web app did not answer /login")
        time.sleep(0.2)


def start_web(env: dict, timeout: float = 120) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "dialfunnel.cli", "web"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    output = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        match = re.match(r"web on http://[^:]+:(\d+)/", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            port = int(match.group(1))
            wait_for_app(port, deadline)
            return proc, port
    proc.kill()
    raise RuntimeError("the web did not start:\n" + "".join(output))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args) -> dict:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="web-load-"))
    env = {**os.environ, "DIALFUNNEL_DATA_DIR": str(data_dir),
           "DIALFUNNEL_WEB_SERVER": args.server, "DIALFUNNEL_WEB_WORKERS": str(args.workers),
           "DIALFUNNEL_WEB_HOST": "127.0.0.1", "DIALFUNNEL_WEB_PORT": str(free_port()),
           "DIALFUNNEL_LOG_LEVEL": "WARNING"}
    if args.database_url:
        env["DIALFUNNEL_DATABASE_URL"] = args.database_url
    env.pop("DIALFUNNEL_CONFIG", None)
    try:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "dialfunnel.cli", "demo", "--customers",
                        str(args.customers)], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        demo_users = json.loads((data_dir / "demo-logins.json").read_text())
        stream_users, password = create_stream_users(env, args.streams)
        importer = None
        if args.import_rows:
            importer = next(u for u in demo_users if u["role"] == "telemarketer")
            importer["file"], importer["choices"] = prepare_import(
                env, data_dir, args.import_rows, importer["username"])
        print(f"demo ({args.customers} customers) and {args.streams} agents: "
              f"{time.monotonic() - started:.1f} s", flush=True)
        web, port = start_web(env)
        try:
            return measure(args, web, port, demo_users, stream_users, password, importer)
        finally:
            web.send_signal(signal.SIGTERM)
            try:
                web.wait(30)
            except subprocess.TimeoutExpired:
                web.kill()
                web.wait()
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def measure(args, web, port, demo_users, stream_users, password, importer=None) -> dict:
    streams = Streams()

    def stream_for(username: str) -> socket.socket:
        client = Client(port)
        client.login(username, password)
        client.close()
        return open_stream(port, client.cookie)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for sock in pool.map(stream_for, stream_users):
            streams.add(sock)
    streams.thread.start()
    print(f"{streams.open} streams open in {time.monotonic() - started:.1f} s; "
          f"web RSS {tree_rss_kib(web.pid) / 1024:.0f} MiB", flush=True)

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + args.duration

    def client_loop(n: int) -> None:
        user = demo_users[n % len(demo_users)]
        client = Client(port)
        try:
            client.login(user["username"], user["password"])
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            with lock:
                errors.append(f"login {user['username']}: {exc}")
            return
        i = n
        pause = random.Random(n)
        if args.think > 0:   # people do not start together
            time.sleep(pause.uniform(0, args.think))
        while time.monotonic() < stop_at:
            path = PAGES[i % len(PAGES)]
            i += 1
            t0 = time.monotonic()
            try:
                status, _ = client.request("GET", path)
            except Exception as exc:  # noqa: BLE001
                status, exc_text = None, repr(exc)
            elapsed = time.monotonic() - t0
            with lock:
                if status == 200:
                    latencies.append(elapsed)
                else:
                    errors.append(f"GET {path}: {status or exc_text}")
            if args.think > 0:   # a person's pause varies: exponential, mean --think
                time.sleep(pause.expovariate(1.0 / args.think))
        client.close()

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True)
               for n in range(args.clients)]
    imported: dict = {}
    if importer:
        threads.append(threading.Thread(daemon=True, target=lambda: imported.update(run_import(
            port, importer, importer["file"], importer["choices"], stop_at))))
    rss_peak = 0
    cpu_before, wall_before = tree_cpu_s(web.pid), time.monotonic()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads) or time.monotonic() < stop_at:
        rss_peak = max(rss_peak, tree_rss_kib(web.pid))
        time.sleep(0.5)
    cpu = (tree_cpu_s(web.pid) - cpu_before) / (time.monotonic() - wall_before)
    result = {
        "server": args.server, "workers": args.workers if args.server == "gunicorn" else None,
        "streams": args.streams, "streams_open_at_end": streams.open,
        "streams_closed": streams.closed, "clients": args.clients, "duration_s": args.duration,
        "pages": len(latencies), "pages_per_s": round(len(latencies) / args.duration, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "errors": len(errors), "rss_mib": round(rss_peak / 1024, 1),
        "web_cpu_percent": round(cpu * 100), "load_average": os.getloadavg()[0],
        "import": imported or None,
    }
    streams.close_all()
    for error in sorted(set(errors))[:10]:
        print(f"  error: {error}")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=("gunicorn", "threaded"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--streams", type=int, default=200, help="agents' event streams open")
    parser.add_argument("--clients", type=int, default=20, help="clients loading pages")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of page loads")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a client waits between two pages (exponential); "
                             "0: each client loads pages back to back")
    parser.add_argument("--customers", type=int, default=2000, help="demo customers")
    parser.add_argument("--import-rows", type=int, default=0,
                        help="meanwhile a telemarketer imports an Excel file of this many rows")
    parser.add_argument("--database-url", help="default: SQLite in the data folder")
    parser.add_argument("--data-dir", help="kept after the run (default: a temporary folder)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.world_flags import COUNT, NATURAL, NON_NEGATIVE, POSITIVE, check
    check(parser, args, {"workers": COUNT, "streams": NATURAL, "clients": COUNT,
                         "duration": POSITIVE, "think": NON_NEGATIVE, "customers": NATURAL,
                         "import_rows": NATURAL})
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"\n{result['server']}" + (f" ({result['workers']} workers)" if result["workers"] else "")
          + f": {result['streams']} streams ({result['streams_open_at_end']} open at the end), "
          f"{result['clients']} clients, {result['duration_s']:g} s")
    print(f"  pages: {result['pages']} ({result['pages_per_s']}/s)  p50 {result['p50_ms']} ms  "
          f"p99 {result['p99_ms']} ms  max {result['max_ms']} ms  errors {result['errors']}")
    print(f"  web memory (RSS, all processes, peak): {result['rss_mib']} MiB; web CPU "
          f"{result['web_cpu_percent']}% of one core; load average {result['load_average']:.1f}")
    if result["import"]:
        print(f"  import of {args.import_rows} rows meanwhile: {result['import']}")


if __name__ == "__main__":
    main()
