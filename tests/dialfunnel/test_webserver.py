"""`dialfunnel web` in production: gunicorn with gevent workers, run as a real process on a
free port (bench/web_load.py's HTTP client talks to it)."""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings
from models.clock import SYSTEM_CLOCK
from models.schema import Event

from tests.repo_paths import ROOT


_spec = importlib.util.spec_from_file_location("web_load", ROOT / "bench" / "web_load.py")
web_load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(web_load)


def start_web(db_url, tmp_path, **settings) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "DIALFUNNEL_DATABASE_URL": db_url,
           "DIALFUNNEL_DATA_DIR": str(tmp_path), "DIALFUNNEL_WEB_PORT": "0",
           **{f"DIALFUNNEL_{k.upper()}": str(v) for k, v in settings.items()}}
    env.pop("DIALFUNNEL_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "dialfunnel.cli", "web"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.match(r"web on http://127\.0\.0\.1:(\d+)/", line)
        if match:
            return proc, int(match.group(1))
    stop_group(proc)
    raise AssertionError("the web did not start:\n" + "".join(lines))


def stop_group(proc: subprocess.Popen) -> None:
    """Whatever the test left: the server and every process it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def logged_in(port: int, username: str, password: str):
    deadline = time.monotonic() + 60  # the worker loads the app after it has started
    while True:
        client = web_load.Client(port)
        try:
            client.login(username, password)
            return client
        except (ConnectionError, RuntimeError):
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_until(sock, marker: bytes, timeout: float) -> bytes:
    sock.setblocking(True)
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_gunicorn_serves_pages_while_many_streams_stay_open(db_url, Session, users, tmp_path):
    """One gevent worker holds 60 open event streams without a thread each, answers a page
    at once meanwhile, streams an event to its user, and stops cleanly on SIGTERM."""
    proc, port = start_web(db_url, tmp_path, web_workers=1, web_graceful_timeout=2,
                           log_level="WARNING")
    streams = []
    try:
        agent = logged_in(port, "tm", "pw-tm")
        other = logged_in(port, "tm2", "pw-tm2")
        (worker,) = [pid for pid in group_pids(proc.pid) if pid != proc.pid]
        for n in range(60):
            streams.append(web_load.open_stream(port, (agent if n % 2 else other).cookie))
        assert threads_of(worker) < 5, f"{threads_of(worker)} threads: an open stream must not hold one"

        started = time.monotonic()
        status, page = agent.request("GET", "/")
        assert status == 200 and "李红光" in page
        assert time.monotonic() - started < 2.0, "a page waited behind the open streams"

        with Session() as s:
            s.add(Event(kind="reminder", user_id=users["tm"].id, payload={"record_id": 7},
                        created_at=SYSTEM_CLOCK.now()))
            s.commit()
        got = read_until(streams[1], b"event: reminder", timeout=10)
        assert b"event: reminder" in got and b'"record_id": 7' in got
        assert b"event: reminder" not in read_until(streams[0], b"\n\n", timeout=1)

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert time.monotonic() - started < 10, "the open streams held the stop up"
        assert group_pids(proc.pid) == [], "a worker outlived the master"
        assert "Traceback" not in out, out
    finally:
        for sock in streams:
            sock.close()
        stop_group(proc)


def test_threaded_server_stays_available(db_url, Session, users, tmp_path):
    """web_server = "threaded": werkzeug's server in the `dialfunnel web` process itself."""
    proc, port = start_web(db_url, tmp_path, web_server="threaded", log_level="WARNING")
    try:
        assert group_pids(proc.pid) == [proc.pid]
        client = logged_in(port, "tm", "pw-tm")
        assert client.request("GET", "/")[0] == 200
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
    finally:
        stop_group(proc)


def test_web_settings_are_checked():
    settings = load_settings({"DIALFUNNEL_WEB_WORKERS": "3"})
    assert (settings.web_server, settings.web_workers) == ("gunicorn", 3)
    with pytest.raises(SettingsError, match="web_server must be one of gunicorn, threaded"):
        load_settings({"DIALFUNNEL_WEB_SERVER": "uwsgi"})
    with pytest.raises(SettingsError, match="web_workers must be at least 1"):
        load_settings({"DIALFUNNEL_WEB_WORKERS": "0"})


def test_the_deploy_config_file_is_read_over_the_settings():
    from dialfunnel.webserver import WebServer
    settings = load_settings({"DIALFUNNEL_WEB_HOST": "::1", "DIALFUNNEL_WEB_PORT": "8123",
                              "DIALFUNNEL_WEB_WORKERS": "3"})
    cfg = WebServer(settings, str(ROOT / "deploy" / "gunicorn.conf.py")).cfg
    assert cfg.bind == ["[::1]:8123"] and cfg.workers == 3
    assert cfg.worker_class_str == "gevent" and cfg.keepalive == 75 and cfg.timeout == 120
    assert cfg.forwarded_allow_ips == ["127.0.0.1", "::1"]


def test_the_unit_and_provision_use_one_gunicorn_config_path():
    unit = (ROOT / "deploy" / "systemd" / "dialfunnel-web.service").read_text()
    provision = (ROOT / "deploy" / "provision.sh").read_text()
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", unit, re.M)
    path = re.fullmatch(r"/opt/dialfunnel/\.venv/bin/dialfunnel web --gunicorn-config (\S+)",
                        exec_start).group(1)
    assert path == "/etc/dialfunnel/gunicorn.conf.py"
    assert "GUNICORN_CONF=$CONF_DIR/gunicorn.conf.py\n" in provision
    assert 'install -o root -g dialfunnel -m 0640 "$SRC/deploy/gunicorn.conf.py" "$GUNICORN_CONF"' \
        in provision
    assert "KillMode=mixed" in unit


def test_the_gunicorn_master_imports_neither_the_app_nor_psycopg():
    """psycopg picks its wait function on import: the workers must import it after gevent's
    patch, so the master (which forks them) must not have imported it."""
    code = ("import sys, dialfunnel.webserver\n"
            "print(sorted(m for m in ('psycopg', 'admin', 'models', 'sqlalchemy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
