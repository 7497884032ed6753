"""A throwaway PgBouncer (Debian's `pgbouncer` binary) on loopback in front of a PostgreSQL
URL, in transaction pooling as deploy/pgbouncer.ini sets it up: for the tests and
bench/agi_load.py, never for production.

    with LocalPgBouncer(postgres_url) as bouncer:
        engine = make_engine(bouncer.url, pgbouncer=True)

Clients log in without a password (auth_type = any, loopback only); PgBouncer logs in to
PostgreSQL as the URL says. Run as root, PgBouncer refuses to start unless told to switch user:
it then runs as the owner of PostgreSQL's socket directory and logs in as that role (peer
authentication on the socket)."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

BINARY = "pgbouncer"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def find_binary() -> str | None:
    return shutil.which(BINARY, path=SEARCH_PATH)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LocalPgBouncer:
    def __init__(self, postgres_url: str, *, pool_size: int = 20, statement_timeout_ms: int = 5000):
        self.target = make_url(postgres_url)
        if not self.target.drivername.startswith("postgresql"):
            raise ValueError("PgBouncer goes in front of PostgreSQL, not " + self.target.drivername)
        self.pool_size = pool_size
        self.statement_timeout_ms = statement_timeout_ms
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.dir: Path | None = None

    @property
    def url(self) -> str:
        """The URL clients use: the same database name, through PgBouncer."""
        url = self.target.set(host="127.0.0.1", port=self.port, password=None,
                              query={k: v for k, v in self.target.query.items() if k != "host"})
        return url.render_as_string(hide_password=False)

    def _server_params(self, run_as: str | None) -> str:
        host = self.target.query.get("host") or self.target.host or "/var/run/postgresql"
        if isinstance(host, tuple):
            host = host[0]
        params = {"host": host, "dbname": self.target.database or "",
                  "user": run_as or self.target.username or pwd.getpwuid(os.getuid()).pw_name}
        if self.target.port:
            params["port"] = str(self.target.port)
        if self.target.password and not run_as:
            params["password"] = self.target.password
        ms = int(self.statement_timeout_ms)
        params["connect_query"] = f"SET statement_timeout = {ms}; SET lock_timeout = {ms}"
        return " ".join(f"{k}={_quote(v)}" for k, v in params.items())

    def start(self, timeout: float = 10.0) -> "LocalPgBouncer":
        binary = find_binary()
        if binary is None:
            raise FileNotFoundError("pgbouncer is not installed (apt-get install pgbouncer)")
        run_as = None
        if os.geteuid() == 0:
            host = self.target.query.get("host") or self.target.host or "/var/run/postgresql"
            host = host[0] if isinstance(host, tuple) else host
            if not host.startswith("/"):
                raise RuntimeError("as root, PgBouncer must reach PostgreSQL by its socket")
            run_as = pwd.getpwuid(os.stat(host).st_uid).pw_name
        self.dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.port = _free_port()
        name = self.target.database or "postgres"
        (self.dir / "pgbouncer.ini").write_text(f"""\
[databases]
{name} = {self._server_params(run_as)}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {self.pool_size}
max_client_conn = 2000
ignore_startup_parameters = extra_float_digits
logfile = {self.dir / 'pgbouncer.log'}
""")
        cmd = [binary, "-q", str(self.dir / "pgbouncer.ini")]
        if run_as:
            user = pwd.getpwnam(run_as)
            os.chmod(self.dir, 0o755)
            for path in (self.dir, self.dir / "pgbouncer.ini"):
                os.chown(path, user.pw_uid, user.pw_gid)
            cmd[1:1] = ["-u", run_as]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("pgbouncer exited: " + self.log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("pgbouncer did not listen within %g s: %s" % (timeout, self.log()))

    def log(self) -> str:
        text = ""
        if self.dir and (self.dir / "pgbouncer.log").exists():
            text = (self.dir / "pgbouncer.log").read_text(errors="replace")
        if self.proc and self.proc.poll() is not None and self.proc.stderr:
            text += self.proc.stderr.read().decode(errors="replace")
        return text[-2000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "LocalPgBouncer":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
