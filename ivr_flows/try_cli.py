"""`dialfunnel ivr try FLOW`: walk an IVR flow from the terminal with the real engine.

    dialfunnel ivr try main --caller 13800138000
    dialfunnel ivr try main --at "2026-11-28 20:00"      # Saturday evening: after hours
    dialfunnel ivr try --check                           # only check the flow files

Prompts are printed as their Chinese text; when the flow listens you type keys and Enter
(several at once is type-ahead: `1` then `202611260001#`); an empty line is a timeout; `q` or
end of input hangs up. Lookups read the configured database. What the walk writes (callback
contact records, the ivr_calls row) is rolled back unless --commit.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from zoneinfo import ZoneInfo

from asterisk.agi import AGIHangup

from .flows import DEFAULT_DIR, DIGIT_KEYS, FlowError, check_directory
from .walker import Walker


class ConsoleHangup(AGIHangup):
    """The person at the terminal hung up (q or end of input)."""


class ConsoleChannel:
    """The AGI commands the engine uses, on a terminal: prompts are printed, keys are read."""

    def __init__(self, prompts, stdin=None, stdout=None):
        self.prompts = prompts
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.buffer = ""
        self.variables: dict[str, str] = {}
        self.hungup = False
        self.commands = 0

    def _print(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def _check(self) -> None:
        self.commands += 1
        if self.hungup:
            raise ConsoleHangup("the call is over")

    def _read(self, ask: str) -> str:
        if self.buffer:
            keys, self.buffer = self.buffer, ""
            return keys
        self.stdout.write(ask)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line or line.strip().lower() in ("q", "quit", "hangup"):
            self._print("（来电者挂机 caller hung up）")
            self.hungup = True
            raise ConsoleHangup("caller hung up")
        if not self.stdin.isatty():
            self._print(line.rstrip("\n"))  # echo scripted input so the transcript reads well
        return "".join(ch for ch in line if ch in DIGIT_KEYS)

    def _say(self, name: str) -> None:
        prefix = self.prompts.sound_dir + "/" if self.prompts.sound_dir else ""
        prompt_id = name[len(prefix):] if prefix and name.startswith(prefix) else name
        text = self.prompts.texts.get(prompt_id)
        self._print(f"♪ [{prompt_id}] {text}" if text else f"♪ <{name}>")

    # -- AGI methods ---------------------------------------------------------------------

    def answer(self):
        self._check()

    def stream_file(self, name, escape_digits="", sample_offset=0):
        self._check()
        self._say(name)
        if escape_digits and self.buffer and self.buffer[0] in escape_digits:
            digit, self.buffer = self.buffer[0], self.buffer[1:]
            return digit
        return ""

    def get_data(self, name, timeout=2000, max_digits=255):
        self._check()
        self._say(name)
        keys = self._read(f"  按键 （最多 {max_digits} 位， # 结束， 回车 = 超时 {timeout / 1000:g}s）> ")
        typed, _, rest = keys.partition("#")
        self.buffer = rest + self.buffer
        if len(typed) > int(max_digits):
            typed, extra = typed[:int(max_digits)], typed[int(max_digits):]
            self.buffer = extra + self.buffer
        return typed

    def wait_for_digit(self, timeout=2000):
        self._check()
        keys = self._read(f"  按键 （回车 = 超时 {int(timeout) / 1000:g}s）> ")
        if not keys:
            return ""
        self.buffer = keys[1:] + self.buffer
        return keys[0]

    def say_digits(self, digits, escape_digits=""):
        self._check()
        self._print(f"🔢 {' '.join(str(digits))}")
        return ""

    def set_variable(self, name, value):
        self.commands += 1
        self.variables[name] = str(value)
        self._print(f"  SET {name}={value}")

    def hangup(self, channel=""):
        self._check()
        self._print("（系统挂机 hang up）")
        self.hungup = True


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dialfunnel ivr try",
                                description="walk an IVR flow from the terminal")
    p.add_argument("flow", nargs="?", default="main", help="flow name (default: main)")
    p.add_argument("--caller", default="", help="caller ID (default: unknown)")
    p.add_argument("--flows", default=None, help=f"flow directory (default: {DEFAULT_DIR})")
    p.add_argument("--at", default=None,
                   help="pretend it is this local time (Asia/Shanghai), e.g. '2026-11-28 20:00'")
    p.add_argument("--database-url", default=None, help="default: setting database_url")
    p.add_argument("--commit", action="store_true",
                   help="keep what the walk writes (callbacks, the ivr_calls row)")
    p.add_argument("--check", action="store_true", help="only check the flow files")
    return p


def _clock_at(text: str):
    from models.clock import FakeClock

    when = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return FakeClock(when.astimezone(dt.timezone.utc))


def _open_database(url: str | None):
    from models.db import make_engine, make_sessionmaker
    from models.migrate import upgrade
    from models.setup import install_defaults

    if url is None:
        from config.settings import load_settings
        settings = load_settings()
        if settings.db_url.startswith("sqlite") and not settings.database_url:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.db_url
    engine = make_engine(url)
    upgrade(engine)
    maker = make_sessionmaker(engine)
    with maker.begin() as session:
        install_defaults(session)
    return engine, maker


def main(argv: list[str] | None = None, *, stdin=None, stdout=None, sessionmaker=None,
         clock=None) -> int:
    from sqlalchemy.orm import Session

    from models.clock import SYSTEM_CLOCK
    from models.telephony.ivr import log_ivr_call

    out = stdout or sys.stdout
    opts = _parser().parse_args(argv)
    flows, issues = check_directory(opts.flows)
    for issue in issues:
        print(str(issue), file=out)
    if flows is None:
        print(f"flows do not load: {len([i for i in issues if i.severity == 'error'])} error(s)",
              file=out)
        return 1
    if opts.check:
        print(f"ok: {', '.join(sorted(flows.flows))} ({len(issues)} warning(s))", file=out)
        return 0
    if opts.flow not in flows.flows:
        print(f"no flow {opts.flow!r} (flows: {', '.join(sorted(flows.flows))})", file=out)
        return 2
    try:
        clock = clock or (_clock_at(opts.at) if opts.at else SYSTEM_CLOCK)
    except ValueError:
        print(f"bad --at {opts.at!r}: write e.g. '2026-11-28 20:00'", file=out)
        return 2
    engine = None
    if sessionmaker is None:
        engine, sessionmaker = _open_database(opts.database_url)
    bind = sessionmaker.kw["bind"]
    connection = bind.connect()
    outer = connection.begin()
    session = Session(bind=connection, expire_on_commit=False,
                      join_transaction_mode="create_savepoint")
    channel = ConsoleChannel(flows.prompts, stdin, out)
    caller = opts.caller.strip()
    variables = {"caller_id": caller, "caller_name": caller, "uniqueid": f"try-{time.time():.6f}",
                 "extension": "s", "language": "zh"}
    print(f"== {opts.flow} (caller {caller or 'unknown'}, "
          f"{clock.now().astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %a %H:%M} Asia/Shanghai)",
          file=out)
    try:
        result = Walker(flows, channel, session=session, clock=clock,
                        variables=variables).run(opts.flow)
        log_ivr_call(session, uniqueid=variables["uniqueid"], flow=opts.flow,
                     outcome=result.outcome, started_at=result.started_at,
                     duration_ms=result.duration_ms, caller_id=caller,
                     customer_id=result.customer_id, path=result.path, digits=result.digits,
                     exit_to=result.exit_to, callback=result.callback, error=result.error)
        session.commit()
        if opts.commit:
            outer.commit()
        else:
            outer.rollback()
    finally:
        session.close()
        if outer.is_active:
            outer.rollback()
        connection.close()
        if engine is not None:
            engine.dispose()
    print(f"== outcome: {result.outcome}", file=out)
    print(f"   path:    {' > '.join(result.path)}", file=out)
    print(f"   keys:    {' '.join(f'{s}={k or chr(8709)}' for s, k in result.digits) or '-'}",
          file=out)
    if result.exit_to:
        print(f"   exit:    {result.exit_to}", file=out)
    if channel.variables:
        print("   channel: " + ", ".join(f"{k}={v}" for k, v in channel.variables.items()),
              file=out)
    if result.callback is not None:
        cb = result.callback
        who = (f"reminder for {cb.operator.full_name} ({cb.operator.username})"
               if cb.record is not None else "no operator: listed as an unassigned callback")
        print(f"   callback: {cb.number} at {cb.at.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M}"
              f" - {who}", file=out)
    if result.error:
        print(f"   notes:   {result.error}", file=out)
    if not opts.commit:
        print("   (nothing saved; --commit keeps the callback and the call log)", file=out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FlowError as exc:
        sys.exit(str(exc))
