"""The web app under gunicorn with gevent workers (`dialfunnel web`, systemd unit dialfunnel-web).

An open SSE stream (screen pops, reminders, the live campaign view) holds a greenlet, not an OS
thread, so a worker keeps hundreds of them open while it serves pages.

`dialfunnel web` migrates the database, then replaces itself with this module
(`python -m dialfunnel.webserver [--config FILE]`): the gunicorn master imports neither the app
nor psycopg, and each worker loads them only after gevent has patched the standard library.
psycopg chooses its wait function when it is imported: imported before the patch, every query
would block the worker's whole event loop.

Bind address, workers and timeouts come from the settings (web_*); a gunicorn config file
(deploy/gunicorn.conf.py, installed as /etc/dialfunnel/gunicorn.conf.py) may add to them."""
from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys

from gunicorn.app.base import BaseApplication

from config.settings import Settings, SettingsError, load_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def bind_address(settings: Settings) -> str:
    host = settings.web_host
    return f"[{host}]:{settings.web_port}" if ":" in host else f"{host}:{settings.web_port}"


def _when_ready(server) -> None:
    for listener in server.LISTENERS:
        print(f"web on {listener}/ (gunicorn, {server.cfg.workers} gevent workers)", flush=True)


def gunicorn_options(settings: Settings) -> dict:
    return {
        "bind": [bind_address(settings)],
        "workers": settings.web_workers,
        "worker_class": "gevent",
        "worker_connections": settings.web_worker_connections,
        # A stopping worker lets pages finish for this long, then cuts the SSE streams left
        # (each browser's EventSource reconnects with Last-Event-ID and loses nothing).
        "graceful_timeout": settings.web_graceful_timeout,
        # The master restarts a worker whose event loop gave no sign of life for this long: a
        # request computing without yielding (an upload's check, a large report) holds it.
        "timeout": 120,
        "loglevel": settings.log_level.lower(),
        "errorlog": "-",
        "accesslog": None,
        "proc_name": "dialfunnel-web",
        "when_ready": _when_ready,
    }


def wsgi_app(settings: Settings):
    """The Flask app on its own engine (one per worker process)."""
    from admin import create_app
    from models.db import make_engine, make_sessionmaker
    return create_app(settings, make_sessionmaker(make_engine(settings.db_url, pgbouncer=settings.database_pgbouncer)))


class WebServer(BaseApplication):
    def __init__(self, settings: Settings, config_file: str | None = None):
        self.settings = settings
        self.config_file = config_file
        super().__init__(prog="dialfunnel web")

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)
        if self.config_file:
            for key, value in runpy.run_path(self.config_file).items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

    def load(self):
        logging.basicConfig(level=self.settings.log_level, format=LOG_FORMAT)
        logging.getLogger("weasyprint").setLevel(logging.WARNING)
        return wsgi_app(self.settings)


def exec_gunicorn(config_file: str | None) -> None:
    """Replace this process (same pid, for systemd and signals) with the gunicorn master."""
    argv = [sys.executable, "-m", "dialfunnel.webserver"]
    if config_file:
        argv += ["--config", os.path.abspath(config_file)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dialfunnel.webserver", description=__doc__)
    parser.add_argument("--config", help="a gunicorn config file read after the settings")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"dialfunnel: {exc}")
    if args.config and not os.path.isfile(args.config):
        sys.exit(f"dialfunnel web: no gunicorn config file {args.config}")
    WebServer(settings, args.config).run()


if __name__ == "__main__":
    main()
