"""Run one AGI session: route it to its handler, give the handler one database session, and
hand the call back to the dialplan with DIALFUNNEL_STATUS set. Shared by the FastAGI server
and the classic stdin entry point.

A handler (wazo-agid style) is `def handler(agi, session, args)`:
  * `agi` is an AGIChannel (pyst2's command methods; `agi.env`, `agi.query`, `agi.args`),
  * `session` a SQLAlchemy Session of its own: committed when the handler returns, rolled back
    when it raises, always closed. It connects on first use only. Commit yourself before long
    media (prompts, recordings) if you have written something, so no transaction (and, on
    SQLite, no write lock) stays open while the caller listens.
  * `args` the dialplan arguments (agi_arg_1..N) in order.
It may return a status word (e.g. "TRANSFER"); None means OK.

DIALFUNNEL_STATUS, set on every call whose connection is still open (SET VARIABLE works on a
dead channel, see fastagi-hangup.txt):
  OK        the handler finished
  HANGUP    the caller hung up during the call
  ERROR     the handler raised (a bug, or an AGI protocol error)
  DBERROR   the database failed or was too slow (pool / connect / statement timeouts)
  NOHANDLER no handler has that name
and, for the log and the server's stats only (the connection is closed, nothing is sent):
  TIMEOUT   Asterisk did not answer a command within its bound (agi/fastagi/reply_timeouts.py)
"""
from __future__ import annotations

import dataclasses
import logging
import re
import time
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

from agi.fastagi.channel import AGIChannel
from agi.fastagi.protocol import AGIError, AGIHangup

STATUS_VARIABLE = "DIALFUNNEL_STATUS"
OK, HANGUP, ERROR, DBERROR, NOHANDLER = "OK", "HANGUP", "ERROR", "DBERROR", "NOHANDLER"
TIMEOUT = "TIMEOUT"

log = logging.getLogger("agi.call")

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_STATUS = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")

Handler = Callable[[AGIChannel, object, list], object]


class Registry:
    """Handlers by name. `register("name", func)`, `register(func)`, or as a decorator:
    `@register` / `@register("name")`."""

    def __init__(self):
        self._handlers: dict[str, Handler] = {}

    def register(self, name_or_func=None, func: Handler | None = None):
        if callable(name_or_func) and func is None:
            return self._add(name_or_func.__name__, name_or_func)
        if func is not None:
            return self._add(name_or_func, func)

        def decorate(f: Handler) -> Handler:
            return self._add(name_or_func or f.__name__, f)
        return decorate

    def _add(self, name: str, func: Handler) -> Handler:
        if not _NAME.match(name or ""):
            raise ValueError(f"bad handler name {name!r}")
        if self._handlers.get(name, func) is not func:
            raise ValueError(f"handler {name!r} is already registered")
        self._handlers[name] = func
        return func

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def __contains__(self, name: str) -> bool:
        return name in self._handlers


@dataclasses.dataclass
class CallReport:
    uniqueid: str
    handler: str
    status: str
    duration: float
    commands: int
    status_sent: bool
    peer: str = ""
    error: str = ""

    def logline(self) -> str:
        fields = [("uniqueid", self.uniqueid), ("handler", self.handler), ("status", self.status),
                  ("duration", f"{self.duration:.3f}"), ("commands", self.commands),
                  ("status_sent", "yes" if self.status_sent else "no")]
        if self.peer:
            fields.append(("peer", self.peer))
        if self.error:
            fields.append(("error", self.error))
        return "call " + " ".join(f"{k}={logfmt(v)}" for k, v in fields)


def logfmt(value) -> str:
    text = str(value)
    if text and not re.search(r'[\s"=\\]', text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def run_call(channel: AGIChannel, registry: Registry, sessionmaker, *, peer: str = "") -> CallReport:
    started = time.monotonic()
    handler = registry.get(channel.script)
    error = ""
    if handler is None:
        status = NOHANDLER
    else:
        status, error = _run_handler(handler, channel, sessionmaker)
    if channel.timed_out:
        status = TIMEOUT
    elif channel.hungup and status == OK:
        status = HANGUP
    sent = set_status(channel, status)
    report = CallReport(channel.uniqueid, channel.script, status, time.monotonic() - started,
                        channel.commands, sent, peer, error)
    level = logging.WARNING if status in (ERROR, DBERROR, NOHANDLER, TIMEOUT) else logging.INFO
    log.log(level, report.logline())
    return report


def _run_handler(handler: Handler, channel: AGIChannel, sessionmaker) -> tuple[str, str]:
    session = None
    try:
        session = sessionmaker()
        returned = handler(channel, session, channel.args)
        session.commit()
        if returned is None:
            return OK, ""
        if isinstance(returned, str) and _STATUS.match(returned):
            return returned, ""
        return ERROR, f"handler returned {returned!r}, not a status word"
    except AGIHangup as exc:
        _quietly(session, "rollback")
        channel.hungup = True
        return HANGUP, f"{type(exc).__name__}: {exc}"
    except SQLAlchemyError as exc:
        _quietly(session, "rollback")
        return DBERROR, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    except AGIError as exc:
        _quietly(session, "rollback")
        return ERROR, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug in a handler must not take the server down
        _quietly(session, "rollback")
        log.exception("handler %r failed (uniqueid=%s)", channel.script, channel.uniqueid)
        return ERROR, f"{type(exc).__name__}: {exc}"
    finally:
        _quietly(session, "close")


def _quietly(session, method: str) -> None:
    if session is None:
        return
    try:
        getattr(session, method)()
    except Exception:  # a dead database may fail the rollback/close too; the pool recovers
        log.debug("session.%s failed", method, exc_info=True)


def set_status(channel: AGIChannel, status: str) -> bool:
    """SET VARIABLE DIALFUNNEL_STATUS, unless the connection is gone. True if Asterisk took it."""
    if channel.closed:
        return False
    try:
        channel.set_variable(STATUS_VARIABLE, status)
        return True
    except (AGIError, OSError, ValueError):
        return False
