"""The `dialfunnel` command."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from sqlalchemy import func, select

from config.settings import SettingsError, load_settings
from models.clock import SYSTEM_CLOCK
from models.crm.contact_records import emit_due_reminders
from models.crm.dashboard import dashboard_counts
from models.db import make_engine, make_sessionmaker
from models.errors import DomainError
from models.migrate import upgrade
from models.schema import STAGES, User
from models.setup import install_defaults

log = logging.getLogger("dialfunnel")


def open_database(settings):
    """Engine and sessionmaker on an up-to-date schema with the default rows."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url, pgbouncer=settings.database_pgbouncer)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    with maker.begin() as session:
        install_defaults(session)
    return engine, maker


def cmd_db_upgrade(settings, args):
    engine, _ = open_database(settings)
    print(f"database is up to date: {engine.url.render_as_string(hide_password=True)}")


def load_demo_if_empty(maker, seed: int, customers: int, settings=None) -> dict | None:
    """The demo data, if the database has no users; with ``settings``, also the demo's
    recorded calls to review (into the settings' recordings folder)."""
    from .demo import load_demo
    with maker() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
        summary = load_demo(session, seed=seed, customers=customers, clock=SYSTEM_CLOCK)
        session.commit()
        if settings is not None:
            from recordings.store import RecordingStore

            from .demo_recordings import add_demo_recordings
            store = RecordingStore(settings.recordings_path, settings.recordings_incoming_path)
            summary["recordings"] = add_demo_recordings(session, store, SYSTEM_CLOCK, seed=seed)
        return summary


LOGINS_FILE = "demo-logins.json"


def save_logins(settings, summary: dict) -> None:
    """Keep the demo users' passwords beside the demo database (data_dir, never in git), so
    that every start of the demo can print them; readable by this user only."""
    path = settings.data_dir / LOGINS_FILE
    users = [{k: u[k] for k in ("username", "password", "role")} for u in summary["users"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(users, fh, ensure_ascii=False)


def saved_logins(settings) -> list[dict] | None:
    try:
        return json.loads((settings.data_dir / LOGINS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def print_logins(users: list[dict] | None) -> None:
    if not users:
        print("\nDemo users: their passwords were not kept; set one with "
              "`dialfunnel users reset-password USERNAME`.")
        return
    print("\nDemo users (username / password / role; as set when the demo was created, "
          "`dialfunnel users reset-password USERNAME` sets a new one):")
    for user in users:
        print(f"  {user['username']:<10} {user['password']:<14} {user['role']}")


def cmd_demo(settings, args):
    engine, maker = open_database(settings)
    summary = load_demo_if_empty(maker, args.seed, args.customers, settings)
    if summary is None:
        print("the database already holds users; no demo data loaded")
        return
    save_logins(settings, summary)
    print(f"demo data loaded into {engine.url.render_as_string(hide_password=True)}")
    for key, value in summary.items():
        if key != "users":
            print(f"  {key}: {value}")
    print_logins(summary["users"])


def cmd_reset_password(settings, args):
    """A new password for a user (a forgotten one, or the demo's): typed, else generated."""
    import secrets

    from models.org.users import reset_password
    _, maker = open_database(settings)
    password = args.password or secrets.token_urlsafe(9)
    with maker() as session:
        user = session.scalar(select(User).where(User.username == args.username))
        if user is None:
            sys.exit(f"dialfunnel: no user named {args.username!r}")
        try:
            reset_password(session, user.id, password)
        except DomainError as exc:
            sys.exit(f"dialfunnel: {exc.message('en')}")
        session.commit()
    users = saved_logins(settings)
    if users and any(u["username"] == args.username for u in users):
        for u in users:
            if u["username"] == args.username:
                u["password"] = password
        save_logins(settings, {"users": users})
    print(f"{args.username}: new password {password}" if not args.password
          else f"{args.username}: password changed")


def print_grid(session, user, period: str) -> None:
    grid = dashboard_counts(session, user, period=period)
    print(f"\n{user.full_name} ({user.username}) — {period}")
    print(f"  {'stage':<12}{'callback now':>14}{'callback next':>15}{'contacted':>11}")
    for stage in reversed(STAGES):
        row = grid[stage]
        print(f"  {stage:<12}{row['callback_now']:>14}{row['callback_next']:>15}"
              f"{row['contacted']:>11}")


def cmd_dashboard(settings, args):
    _, maker = open_database(settings)
    with maker() as session:
        user = session.scalar(select(User).where(User.username == args.username))
        if user is None:
            sys.exit(f"no such user: {args.username}")
        print_grid(session, user, args.period)


def cmd_ivr_try(settings, args):
    from ivr_flows.try_cli import main as try_main
    _, maker = open_database(settings)
    sys.exit(try_main(args.rest, sessionmaker=maker))


def cmd_prompts_generate(settings, args):
    from ivr_flows.flows import prompt_texts
    from recordings.prompts import generate_prompts
    texts, voice = prompt_texts()
    report = generate_prompts(settings.prompts_path, texts, voice=voice, force=args.force)
    print(f"prompts in {settings.prompts_path}: {len(report.generated)} generated, "
          f"{len(report.unchanged)} unchanged, {len(report.uploaded)} uploaded kept")


def reminder_loop(maker, stop: threading.Event, interval: float) -> None:
    """Turn due callback reminders into events (the web streams them to the agent)."""
    while not stop.is_set():
        try:
            with maker.begin() as session:
                sent = emit_due_reminders(session)
            if sent:
                log.info("reminders sent: %d", sent)
        except Exception:  # a dead database must not kill the worker; retry next round
            log.exception("reminder round failed")
        stop.wait(interval)


def cmd_run(settings, args):
    engine, maker = open_database(settings)
    if args.demo:
        summary = load_demo_if_empty(maker, args.seed, args.customers, settings)
        if summary:
            save_logins(settings, summary)
        print_logins(saved_logins(settings))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"database: {engine.url.render_as_string(hide_password=True)}")
    web = start_web(settings, maker)
    print(f"started: web on http://{settings.web_host}:{web.server_port}/ (log in as a demo user)")
    stoppers = [web.shutdown]
    shared: dict = {}  # start_fastagi's address, for the PBX simulator's dialplan
    for starter in (start_fastagi, start_pbx_and_listener, start_retention, start_birthdays,
                    start_sms, start_sampling):
        for line, stopper in starter(settings, maker, stop, simulate=args.demo, shared=shared):
            print(f"started: {line}")
            stoppers.append(stopper)
    print(f"started: reminder worker (every {args.interval:g} s)", flush=True)
    print("stop: Ctrl-C", flush=True)
    reminder_loop(maker, stop, args.interval)
    for stopper in reversed(stoppers):
        stopper()
    print("stopped")


def start_fastagi(settings, maker, stop, simulate, shared=None):
    from agi.fastagi.server import FastAGIServer, server_options
    from agi.handlers import registry
    server = FastAGIServer(registry, maker, settings.agi_host, settings.agi_port,
                           **server_options(settings)).start()
    if shared is not None:
        host = settings.agi_host if settings.agi_host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        shared["fastagi"] = (host, server.port)
    yield (f"FastAGI server on {settings.agi_host}:{server.port} "
           f"(handlers: {', '.join(sorted(registry.names()))})", lambda: server.shutdown(5))


def start_pbx_and_listener(settings, maker, stop, simulate, dialer=True, shared=None):
    """With --demo a PBX simulator stands in for Asterisk on the AMI port; the screen-pop
    listener connects to whichever answers there. With the FastAGI server started before it
    (``shared["fastagi"]``), the simulator runs the dialplan's outbound context against it, as
    Asterisk would (AMD and the agent in the ``outbound`` handler, recordings through
    ``recording_done``); otherwise the dialer connects answered calls itself."""
    import secrets

    from agi.ami.listener import ScreenPopListener
    from recordings.store import RecordingStore
    secret = settings.ami_secret
    port = settings.ami_port
    fastagi = (shared or {}).get("fastagi") if simulate else None
    if simulate:
        from agi.pbxsim.ami_scenarios import demo_scenario
        from agi.pbxsim.ami_server import AMIServer
        secret = secret or secrets.token_hex(16)
        incoming = None
        if fastagi:
            from agi.handlers.outbound import spool_dir
            incoming = spool_dir()
            incoming.mkdir(parents=True, exist_ok=True)
        scenario = demo_scenario()
        if dialer:   # the carrier announces its failures before it clears them
            from agi.pbxsim.early_media import CARRIER_TIMING
            scenario.timing.update(CARRIER_TIMING)
        pbx = AMIServer(settings.ami_host, port, users={settings.ami_username: secret},
                        scenario=scenario, fastagi=fastagi, recordings_incoming=incoming).start()
        port = pbx.port
        yield f"PBX simulator (AMI) on {settings.ami_host}:{port}", pbx.stop
        if fastagi:
            yield start_demo_faxes(settings, maker, stop, fastagi)
    # one listener per Asterisk server (settings.servers), else the one of the ami_* keys
    targets = [(settings.ami_host, port, settings.ami_username, secret)]
    if settings.servers and not simulate:
        targets = [(c.ami_host, c.ami_port, c.ami_username, c.ami_secret) for c in settings.servers]
    if not all(target[3] for target in targets):
        log.warning("ami_secret is not set: screen pops are off")
        return
    for host, ami_port, username, ami_secret in targets:
        apart = settings.call_log_process
        pops_user = settings.ami_listener_username if apart and not simulate else ""
        listener = ScreenPopListener(maker, host=host, port=ami_port,
                                     username=pops_user or username, secret=ami_secret,
                                     store=RecordingStore(settings.recordings_path,
                                                          settings.recordings_incoming_path),
                                     call_log=not apart, asterisk_filters=bool(pops_user)).start()
        yield f"screen-pop listener on AMI {host}:{ami_port}", listener.stop
        if apart:
            from agi.ami.call_log_process import CallLogProcess
            own_user = settings.ami_call_log_username if not simulate else ""
            writer = CallLogProcess(settings.db_url, host=host, port=ami_port,
                                    username=own_user or username, secret=ami_secret,
                                    pgbouncer=settings.database_pgbouncer,
                                    log_level=settings.log_level,
                                    asterisk_filters=bool(own_user)).start()
            yield f"call log writer (a process of its own) on AMI {host}:{ami_port}", writer.stop
    if dialer:
        from agi.dialer.process import start_dialer
        heard: list = []
        engine_, _ = start_dialer(settings, maker, port=port, secret=secret,
                                  route_answers=simulate and not fastagi,
                                  hear=(lambda address: demo_carrier(pbx, address, heard))
                                  if simulate else None)
        yield (f"predictive dialer on AMI {settings.ami_host}:{port} (id {engine_.dialer_id})",
               engine_.stop)
        for host, early_port in heard:
            yield (f"early-media listener on {host}:{early_port} (the simulator plays the "
                   f"carrier's 空号/关机/忙 announcements to it)", lambda: None)


DEMO_RECORDINGS = 3      # announcements of each kind the demo's carrier plays (made once)


def demo_carrier(pbx, address, heard: list) -> None:
    """The demo's PBX simulator plays its failing calls' early media to the dialer's
    listener at ``address`` (docs/early_media.md)."""
    from agi.pbxsim.early_media import EarlyMediaPlayer
    pbx.early_media = EarlyMediaPlayer(address, variants=DEMO_RECORDINGS)
    heard.append(address)


def start_demo_faxes(settings, maker, stop, fastagi):
    """The simulator's incoming faxes (agi/pbxsim/fax.py), from the demo customers' fax numbers."""
    from sqlalchemy import select

    from agi.pbxsim.fax import DemoFaxes
    from models.schema import Customer
    with maker() as session:
        numbers = list(session.scalars(select(Customer.fax_e164).where(Customer.fax_e164.is_not(None))
                                       .order_by(Customer.id).limit(50)))
    faxes = DemoFaxes(fastagi, settings.fax_spool_path, numbers)
    threading.Thread(target=faxes.run, args=(stop,), name="demo-faxes", daemon=True).start()
    return f"simulated incoming faxes every {faxes.every:g} s into {settings.fax_spool_path}", lambda: None


def start_retention(settings, maker, stop, simulate, shared=None):
    from dialfunnel.retention import retention_loop
    from recordings.store import RecordingStore
    store = RecordingStore(settings.recordings_path, settings.recordings_incoming_path)
    thread = threading.Thread(target=retention_loop, args=(maker, store, stop),
                              name="retention", daemon=True)
    thread.start()
    yield "recording retention job (hourly)", lambda: None


def start_birthdays(settings, maker, stop, simulate, shared=None):
    names = settings.birthday_campaign_names
    if not names:
        return
    from dialfunnel.birthdays import birthday_loop
    threading.Thread(target=birthday_loop, args=(maker, names, stop), name="birthdays",
                     daemon=True).start()
    yield f"birthday greetings into {', '.join(names)} (hourly)", lambda: None


def start_sms(settings, maker, stop, simulate, shared=None):
    """The SMS sender on the configured gateway. With --demo a local SMSC (SMPP on a free
    port) stands in for the operator's: it delivers every message and the customer answers."""
    from messaging.setup import gateway_from_settings, start_sender
    gateway = gateway_from_settings(settings)
    if simulate:
        import secrets

        from messaging.smpp.client import SmppClient
        from messaging.smpp.server import SmppServer
        password = secrets.token_hex(4)
        smsc = SmppServer("127.0.0.1", 0, system_id="dialfunnel", password=password,
                          receipt_delay_s=1.0, reply_delay_s=3.0,
                          own_number=settings.sms_source_addr or "10690000",
                          auto_reply=lambda to, text: "收到，谢谢！").start()
        yield f"SMS gateway simulator (SMPP) on 127.0.0.1:{smsc.port}", smsc.stop
        gateway = SmppClient("127.0.0.1", smsc.port, "dialfunnel", password,
                             source_addr=smsc.own_number, enquire_link_s=settings.sms_enquire_link_s)
    if gateway is None:
        return
    sender, _ = start_sender(settings, maker, stop, gateway)
    yield f"SMS sender over {gateway.name} (id {sender.sender_id})", gateway.close


def cmd_sms(settings, args):
    """The SMS sender alone on the configured gateway (sms_gateway)."""
    from messaging.setup import gateway_from_settings, start_sender
    gateway = gateway_from_settings(settings)
    if gateway is None:
        sys.exit("dialfunnel sms: sms_gateway is not set (DIALFUNNEL_SMS_GATEWAY=smpp, aliyun "
                 "or tencent)")
    _, maker = open_database(settings)
    stop = _wait_for_signal()
    sender, thread = start_sender(settings, maker, stop, gateway)
    print(f"SMS sender {sender.sender_id} over {gateway.name}", flush=True)
    stop.wait()
    thread.join(10)
    gateway.close()


def start_sampling(settings, maker, stop, simulate, shared=None):
    from dialfunnel.sampling import sampling_loop
    threading.Thread(target=sampling_loop, args=(maker, stop), name="review-sampling",
                     daemon=True).start()
    yield "weekly review sample (hourly check)", lambda: None


def _wait_for_signal() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_web(settings, args):
    """The web app alone (systemd unit dialfunnel-web): under gunicorn with gevent workers
    (dialfunnel.webserver), or with web_server = "threaded" on werkzeug's threaded server."""
    engine, maker = open_database(settings)
    if settings.web_server == "gunicorn":
        engine.dispose()
        from .webserver import exec_gunicorn
        exec_gunicorn(args.gunicorn_config)
    elif args.gunicorn_config:
        sys.exit("dialfunnel web: --gunicorn-config needs web_server = \"gunicorn\"")
    stop = _wait_for_signal()
    web = start_web(settings, maker)
    print(f"web on http://{settings.web_host}:{web.server_port}/", flush=True)
    stop.wait()
    web.shutdown()


def cmd_worker(settings, args):
    """Reminders, recording retention and the screen-pop listener on the configured
    Asterisk (systemd unit dialfunnel-worker)."""
    _, maker = open_database(settings)
    stop = _wait_for_signal()
    stoppers = []
    for starter in (start_pbx_and_listener, start_retention, start_birthdays, start_sampling):
        kwargs = {"dialer": False} if starter is start_pbx_and_listener else {}
        for line, stopper in starter(settings, maker, stop, simulate=False, **kwargs):
            print(f"started: {line}", flush=True)
            stoppers.append(stopper)
    from agi.ami.collector import calm_collector
    calm_collector()
    reminder_loop(maker, stop, args.interval)
    for stopper in reversed(stoppers):
        stopper()


def cmd_dialer(settings, args):
    """The predictive dialer on the configured Asterisk (systemd unit dialfunnel-dialer)."""
    from agi.dialer.process import start_dialer
    if not all(server.ami_secret for server in settings.ami_servers):
        sys.exit("dialfunnel dialer: ami_secret is not set (DIALFUNNEL_AMI_SECRET)")
    _, maker = open_database(settings)
    stop = _wait_for_signal()
    dialer, thread = start_dialer(settings, maker, port=args.ami_port or settings.ami_port,
                                  secret=settings.ami_secret, route_answers=args.route_answers,
                                  username=settings.ami_dialer_username)
    print(f"dialer {dialer.dialer_id} on AMI {settings.ami_host}:{args.ami_port or settings.ami_port}",
          flush=True)
    if args.sms:
        for line, _ in start_sms(settings, maker, stop, simulate=False):
            print(f"started: {line}", flush=True)
    from agi.ami.collector import calm_collector
    calm_collector()
    while not stop.wait(0.5):
        if not thread.is_alive():
            sys.exit("dialfunnel dialer: stopped on an error (see the log)")
    dialer.stop()
    thread.join(10)


def quiet_request_handler():
    """Werkzeug's request handler, logging each request at DEBUG through `dialfunnel.web` in
    plain text (its own logs every request, static files too, at INFO with colour codes)."""
    from werkzeug.serving import WSGIRequestHandler

    web_log = logging.getLogger("dialfunnel.web")

    class Handler(WSGIRequestHandler):
        def log_request(self, code="-", size="-"):
            web_log.debug('%s "%s" %s %s', self.address_string(), self.requestline, code, size)

        def log(self, type, message, *args):
            getattr(web_log, type if type in ("info", "warning", "error") else "info")(
                "%s %s", self.address_string(), message % args)
    return Handler


def start_web(settings, maker):
    """The web app on a threaded WSGI server in the background (the demo's; `dialfunnel web`
    runs it under gunicorn)."""
    from werkzeug.serving import make_server

    from admin import create_app
    server = make_server(settings.web_host, settings.web_port, create_app(settings, maker),
                         threaded=True, request_handler=quiet_request_handler())
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    return server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dialfunnel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)

    for name, func_, text in (("demo", cmd_demo, "load the demo company into an empty database"),
                              ("run", cmd_run, "start the system")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--seed", type=int, default=2026)
        p.add_argument("--customers", type=int, default=5000)
        p.set_defaults(func=func_)
    run = sub.choices["run"]
    run.add_argument("--demo", action="store_true", help="load demo data if the database is empty")
    run.add_argument("--interval", type=float, default=15.0)

    ivr = sub.add_parser("ivr", help="IVR flows")
    ivr_sub = ivr.add_subparsers(dest="ivr_command", required=True)
    ivr_try = ivr_sub.add_parser("try", help="walk a flow from the terminal by typing digits",
                                 add_help=False)
    ivr_try.add_argument("rest", nargs=argparse.REMAINDER)
    ivr_try.set_defaults(func=cmd_ivr_try)

    prompts = sub.add_parser("prompts", help="IVR prompt audio")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    gen = prompts_sub.add_parser("generate", help="speak ivr_flows/prompts.yaml into sound files")
    gen.add_argument("--force", action="store_true")
    gen.set_defaults(func=cmd_prompts_generate)

    web = sub.add_parser("web", help="serve the web app only (gunicorn, gevent workers)")
    web.add_argument("--gunicorn-config", metavar="FILE",
                     help="a gunicorn config file read after the settings (deploy/gunicorn.conf.py)")
    web.set_defaults(func=cmd_web)
    worker = sub.add_parser("worker", help="reminders, retention and screen pops only")
    worker.add_argument("--interval", type=float, default=15.0)
    worker.set_defaults(func=cmd_worker)

    dialer = sub.add_parser("dialer", help="the predictive dialer only")
    dialer.add_argument("--ami-port", type=int, default=None)
    dialer.add_argument("--route-answers", action="store_true",
                        help="connect answered calls here (a PBX simulator; Asterisk runs the "
                             "outbound AGI handler instead)")
    dialer.add_argument("--sms", action="store_true",
                        help="run the SMS sender in this process too (sms_gateway)")
    dialer.set_defaults(func=cmd_dialer)
    sms = sub.add_parser("sms", help="the SMS sender only (sms_gateway)")
    sms.set_defaults(func=cmd_sms)

    users = sub.add_parser("users", help="user accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    reset = users_sub.add_parser("reset-password", help="set a user's password (generated "
                                 "and printed unless --password is given)")
    reset.add_argument("username")
    reset.add_argument("--password", help="the new password (else a random one is printed)")
    reset.set_defaults(func=cmd_reset_password)

    dash = sub.add_parser("dashboard", help="print a user's sales main line grid")
    dash.add_argument("username")
    dash.add_argument("--period", choices=("day", "week", "month"), default="day")
    dash.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"dialfunnel: {exc}")
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # it logs every CSS step at INFO
    args.func(settings, args)


if __name__ == "__main__":
    main()
