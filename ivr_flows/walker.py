"""The engine: walks a checked flow over an AGI channel.

The channel is anything with pyst2's AGI methods: `answer()`, `stream_file(name, escape)`,
`get_data(name, timeout_ms, max_digits)`, `wait_for_digit(timeout_ms)`,
`say_digits(digits, escape)`, `set_variable(name, value)`, `hangup()` - the FastAGI
AGIChannel in production, ConsoleChannel in `dialfunnel ivr try`, a stub in unit tests.

Hangups: pyst2 raises an AGIHangup subclass from whatever command the caller hung up in (a
media command answers `result=-1`, a later one `511`, a closed socket ends the stream). The
walker stops right there, at any step, and the result's outcome is HANGUP.

Database: each step that reads or writes (lookup, callback) ends its own transaction, so no
transaction (on SQLite: no write lock) stays open while the caller listens.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time

from asterisk.agi import AGIAppError, AGIHangup
from sqlalchemy.exc import SQLAlchemyError

from models.clock import SYSTEM_CLOCK

from . import say_zh
from .flows import DIGIT_KEYS, VAR_REF, FlowSet, PromptItem, Step

log = logging.getLogger("ivr_flows")

TRANSFER_VARIABLE = "DIALFUNNEL_TRANSFER"
VOICEMAIL_VARIABLE = "DIALFUNNEL_VOICEMAIL"
CUSTOMER_VARIABLE = "DIALFUNNEL_CUSTOMER_ID"
HANGUP = "HANGUP"
MAX_STEPS = 200


class FlowRuntimeError(RuntimeError):
    """The flow cannot go on (a loop that never listens, an unknown flow)."""


class _OptOut(Exception):
    """The callee pressed the flow's opt-out key."""


@dataclasses.dataclass
class WalkResult:
    flow: str
    started_at: dt.datetime
    outcome: str | None = None
    path: list[str] = dataclasses.field(default_factory=list)
    digits: list[list[str]] = dataclasses.field(default_factory=list)
    variables: dict[str, str] = dataclasses.field(default_factory=dict)
    customer_id: int | None = None
    exit_to: str | None = None
    callback: object | None = None          # models.telephony.ivr.CallbackResult
    error: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    step_starts: list[int] = dataclasses.field(default_factory=list)  # channel.commands then
    duration_ms: int = 0
    answers: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (question, key)
    agent_id: int | None = None       # the agent an `agent` step put the call through to


class Walker:
    """One call through the flows.

        result = Walker(flows, agi, session=session, clock=clock,
                        variables={"caller_id": "13800138000"}).run("main")
        result.outcome    # TRANSFER, VOICEMAIL, CALLBACK, FAX, COMPLETED, FAILED, HANGUP...
    """

    def __init__(self, flows: FlowSet, channel, *, session=None, clock=SYSTEM_CLOCK,
                 variables: dict | None = None, answer: bool = True,
                 max_steps: int = MAX_STEPS, speak_text=None):
        """`speak_text(text) -> prompt id`: the prompt a `text` item is spoken by (the IVR
        handler's: recordings.prompts.spoken_prompt in the prompts folder); None: not spoken."""
        self.flows = flows
        self.speak_text = speak_text
        self.channel = channel
        self.session = session
        self.clock = clock
        self.vars: dict[str, str] = {k: "" if v is None else str(v)
                                     for k, v in (variables or {}).items()}
        self.answer = answer
        self.max_steps = max_steps
        self.result: WalkResult | None = None
        self._pending: str | None = None      # outcome a later hangup step reports (CALLBACK)
        self._next_open: dt.datetime | None = None
        self._flow = ""
        self._home = ""
        self._flow_hung_up = False
        self._opted_out = False

    # -- running -------------------------------------------------------------------------

    def run(self, flow_name: str) -> WalkResult:
        self.result = WalkResult(flow=flow_name, started_at=self.clock.now())
        self.result.variables = self.vars
        self.vars.setdefault("flow", flow_name)
        started = time.monotonic()
        try:
            if flow_name not in self.flows.flows:
                raise FlowRuntimeError(f"no flow {flow_name!r}")
            self._home = self._flow = flow_name
            step_name = self.flows.flow(flow_name).start
            if self.answer:
                self.channel.answer()
            for _count in range(self.max_steps):
                if getattr(self.channel, "hungup", False):
                    raise AGIHangup("the caller hung up")
                step = self.flows.flows[self._flow].steps[step_name]
                self.result.path.append(self._label(step))
                self.result.step_starts.append(getattr(self.channel, "commands", 0))
                try:
                    target = getattr(self, "_" + step.kind)(step)
                except _OptOut:
                    target = self._opt_out()
                if target is None:
                    break
                self._flow, step_name = self.flows.resolve(self._flow, target)
            else:
                raise FlowRuntimeError(f"more than {self.max_steps} steps: a loop that never "
                                       "waits for the caller?")
        except AGIHangup as exc:
            self.result.outcome = "OPTOUT" if self._opted_out else HANGUP
            log.debug("caller hung up at %s: %s", self.result.path[-1:] or "start", exc)
        except Exception as exc:
            self.result.outcome = "DBERROR" if isinstance(exc, SQLAlchemyError) else "ERROR"
            self.result.error = f"{type(exc).__name__}: {exc}"[:300]
            raise
        finally:
            self.result.duration_ms = int((time.monotonic() - started) * 1000)
            if self.result.outcome is None:
                self.result.outcome = "ERROR"
        if getattr(self.channel, "hungup", False) and not (self._flow_hung_up or self._opted_out):
            # Asterisk said HANGUP while the last step ran (it set a variable for the dialplan,
            # say): the transfer / fax / voicemail will not happen.
            self.result.outcome = HANGUP
        if self.result.error is None and self.result.notes:
            self.result.error = "; ".join(self.result.notes)[:300]
        return self.result

    def _label(self, step: Step) -> str:
        return step.name if step.flow == self._home else f"{step.flow}:{step.name}"

    def _finish(self, outcome: str, exit_to: str | None = None) -> None:
        self.result.outcome = outcome
        if exit_to is not None:
            self.result.exit_to = exit_to
        return None

    def interp(self, template: str) -> str:
        return VAR_REF.sub(lambda m: self.vars.get(m.group(1), ""), template)

    # -- media ---------------------------------------------------------------------------

    def _stream(self, name: str, escape: str) -> str:
        try:
            return self.channel.stream_file(name, escape) or ""
        except AGIHangup:
            raise
        except AGIAppError as exc:  # result=-1 and no hangup: a missing sound file
            self.result.notes.append(f"cannot play {name}")
            log.warning("cannot play %s: %s", name, exc)
            return ""

    def _say_digits(self, digits: str, escape: str = "") -> str:
        digits = re.sub(r"[^0-9*#]", "", digits)
        if not digits:
            return ""
        try:
            return self.channel.say_digits(digits, escape) or ""
        except AGIHangup:
            raise
        except AGIAppError as exc:
            self.result.notes.append("cannot say digits")
            log.warning("cannot say digits: %s", exc)
            return ""

    def play(self, items, escape: str = "") -> str:
        """Play prompts in order; the first key among `escape` stops them and is returned."""
        for item in items or ():
            if item.kind == "prompt":
                digit = self._stream(self.flows.prompts.sound(item.value), escape)
            elif item.kind == "sound":
                digit = self._stream(item.value, escape)
            elif item.kind == "digits":
                digit = self._say_digits(self.interp(item.value), escape)
            elif item.kind == "text":
                digit = self._say_text(self.interp(item.value), escape)
            else:
                digit = self._say_value(item.kind, self.interp(item.value), escape)
            if digit:
                return digit
        return ""

    def _say_text(self, text: str, escape: str) -> str:
        """A text no prompt holds (a name): the prompt `speak_text` makes of it, if any."""
        text = text.strip()
        if not text or self.speak_text is None:
            return ""
        try:
            prompt_id = self.speak_text(text)
        except Exception as exc:      # no speech here: the call goes on without the name
            self.result.notes.append(f"cannot speak {text!r}")
            log.warning("cannot speak %r: %s", text, exc)
            return ""
        return self._stream(self.flows.prompts.sound(prompt_id), escape)

    def _say_value(self, kind: str, value: str, escape: str) -> str:
        """A value in Mandarin, segment by segment (ivr_flows/say_zh.py)."""
        try:
            names = say_zh.speak(kind, value)
        except ValueError:
            self.result.notes.append(f"cannot say {value!r} as {kind}")
            return ""
        for name in names:
            digit = self._stream(self.flows.prompts.sound(name), escape)
            if digit:
                return digit
        return ""

    def _opt_out_key(self) -> str:
        return self.flows.flows[self._flow].opt_out_key

    def _listen(self, items) -> None:
        """Play a message the opt-out key may stop."""
        key = self._opt_out_key()
        if self.play(items, key) and key:
            raise _OptOut()

    def _wait(self, seconds: float) -> str:
        try:
            return self.channel.wait_for_digit(int(seconds * 1000)) or ""
        except AGIHangup:
            raise
        except AGIAppError:
            return ""

    def _keys(self, step: Step, keys: str) -> None:
        self.result.digits.append([self._label(step), keys])

    # -- the kinds -----------------------------------------------------------------------

    def _prompt(self, step: Step):
        self._listen(step.main)
        return step.get("next")

    _say = _prompt

    def _menu(self, step: Step):
        matches: dict = step.get("match")
        for _attempt in range(step.get("tries")):
            digit = self.play(step.main, DIGIT_KEYS) or self._wait(step.get("timeout"))
            if digit and digit == self._opt_out_key():
                raise _OptOut()
            self._keys(step, digit)
            if digit in matches:
                if step.get("answer"):
                    self.result.answers.append((step.get("answer"), digit))
                return matches[digit]
            self.play(step.get("invalid") if digit else (step.get("no_input") or step.get("invalid")))
        return step.get("on_fail") or self._finish("FAILED")

    def _collect(self, step: Step):
        regex = step.get("valid")
        low, _high = step.get("digits")
        for _attempt in range(step.get("tries")):
            typed = self._read_digits(step)
            self._keys(step, typed)
            if typed and len(typed) >= low and (regex is None or regex.fullmatch(typed)):
                self.vars[step.get("into")] = typed
                return step.get("next")
            self.play(step.get("invalid") if typed else (step.get("no_input") or step.get("invalid")))
        return step.get("on_fail") or self._finish("FAILED")

    def _read_digits(self, step: Step) -> str:
        _low, high = step.get("digits")
        terminator = step.get("terminator")
        timeout = step.get("timeout")
        prompts: tuple[PromptItem, ...] = step.main
        digit = ""
        if terminator == "#" and prompts[-1].kind != "digits":
            # GET DATA: Asterisk plays the last prompt and collects up to `high` keys, ended by
            # '#' or `timeout` of silence. Earlier prompts are plain interruptible playback.
            digit = self.play(prompts[:-1], DIGIT_KEYS)
            if not digit:
                last = prompts[-1]
                name = self.flows.prompts.sound(last.value) if last.kind == "prompt" else last.value
                try:
                    value = self.channel.get_data(name, int(timeout * 1000), high) or ""
                except AGIHangup:
                    raise
                except AGIAppError as exc:
                    self.result.notes.append(f"cannot play {name}")
                    log.warning("GET DATA %s failed: %s", name, exc)
                    value = ""
                return re.sub(r"[^0-9*#]", "", value)[:high]
        else:
            digit = self.play(prompts, DIGIT_KEYS)
        # Key by key (any terminator, or keys pressed during an earlier prompt).
        if not digit:
            digit = self._wait(timeout)
        typed = ""
        while digit and digit != terminator:
            typed += digit
            if len(typed) >= high:
                break
            digit = self._wait(timeout)
        return typed

    def _hours(self, step: Step):
        table = step.main
        now = self.clock.now()
        if table.is_open(now):
            return step.get("open")
        self._next_open = table.next_open(now)
        if self._next_open is not None:
            self.vars["next_open"] = self._next_open.isoformat()
        return step.get("closed")

    def _db_step(self, step: Step, work):
        """Run `work()` in its own transaction; on a database error go to `on_error` (after
        noting it) or let the error end the call."""
        if self.session is None:
            raise FlowRuntimeError(f"{step.where}: a {step.kind} step needs a database")
        try:
            value = work()
            self.session.commit()
            return value, None
        except SQLAlchemyError as exc:
            try:
                self.session.rollback()
            except Exception:  # the connection may be gone as well
                log.debug("rollback failed", exc_info=True)
            if not step.get("on_error"):
                raise
            self.result.notes.append(f"{self._label(step)}: {type(exc).__name__}")
            log.warning("%s failed (%s): going to %s", self._label(step), exc, step.get("on_error"))
            return None, step.get("on_error")

    def _lookup(self, step: Step):
        from models.telephony import ivr as rules

        def work():
            if step.main == "order_by_number":
                status = rules.order_status(self.session, self.interp(step.get("number")))
                # the call is about that order's customer (a transfer pops it)
                return (status.customer_id, [status]) if status else (None, [])
            customer, statuses = rules.orders_for_caller(
                self.session, self.vars.get("caller_id"), limit=step.get("limit"))
            return customer.id if customer else None, statuses

        value, error_target = self._db_step(step, work)
        if error_target:
            return error_target
        customer_id, statuses = value
        if customer_id and self.result.customer_id is None:
            self.result.customer_id = customer_id
            self.vars["customer_id"] = str(customer_id)
        self.vars["order_count"] = str(len(statuses))
        if not statuses:
            return step.get("not_found")
        for status in statuses:
            self.play((PromptItem("prompt", "order-number-is"),))
            self._say_digits(status.digits)
            self.play([PromptItem("prompt", "order-status-is")]
                      + [PromptItem("prompt", "order-" + word) for word in status.words])
        return step.get("found")

    def _set(self, step: Step):
        for name, template in (step.main or {}).items():
            self.vars[name] = self.interp(template)
        for name, template in (step.get("channel") or {}).items():
            self.channel.set_variable(name, self.interp(template))
        return step.get("next")

    def _callback(self, step: Step):
        from models.phones import normalize_phone
        from models.telephony import ivr as rules

        number = self.interp(step.main)
        if not normalize_phone(number):
            return step.get("no_number")
        at = self.clock.now() + dt.timedelta(minutes=step.get("delay_minutes"))
        if step.get("at_next_open") and self._next_open is not None and self._next_open > at:
            at = self._next_open
        linkedid = self.call_linkedid()

        def work():
            return rules.request_callback(self.session, number, at=at, flow=self._flow,
                                          caller_name=self.vars.get("caller_name"),
                                          linkedid=linkedid, clock=self.clock)

        done, error_target = self._db_step(step, work)
        if error_target:
            return error_target
        if done is None:
            return step.get("no_number")
        self.result.callback = done
        if done.customer is not None and self.result.customer_id is None:
            self.result.customer_id = done.customer.id
            self.vars["customer_id"] = str(done.customer.id)
        self.vars["callback_number"] = done.number
        self._pending = "CALLBACK"
        return step.get("next")

    def call_linkedid(self) -> str | None:
        """The call the channel is part of (Asterisk's linkedid): here its own uniqueid; the
        FastAGI walker asks the channel (agi/handlers/ivr.py)."""
        return self.vars.get("uniqueid") or None

    def _exit_variables(self, name: str, value: str) -> None:
        self.channel.set_variable(name, value)
        if self.result.customer_id is not None:
            self.channel.set_variable(CUSTOMER_VARIABLE, str(self.result.customer_id))

    def _transfer(self, step: Step):
        target = self.interp(step.main)
        self.play(step.get("prompt"))
        self._exit_variables(TRANSFER_VARIABLE, target)
        return self._finish("TRANSFER", target)

    def _voicemail(self, step: Step):
        box = self.interp(step.main)
        self.play(step.get("prompt"))
        self._exit_variables(VOICEMAIL_VARIABLE, box)
        return self._finish("VOICEMAIL", box)

    def _end(self, step: Step):
        self.play(step.get("prompt"))
        return self._finish(step.main)

    def _agent(self, step: Step):
        """Press 1 to talk: a ready agent of the call's campaign team (DIALFUNNEL_TRANSFER=
        agent:<extension>, with the screen pop), else `none_free`."""
        from models.dialer.voice import connect_agent

        attempt = self.vars.get("attempt_id", "")
        if not attempt.isdigit():
            return step.get("none_free")
        agent, error_target = self._db_step(
            step, lambda: connect_agent(self.session, int(attempt), clock=self.clock))
        if error_target:
            return error_target
        if agent is None:
            return step.get("none_free")
        self.result.agent_id = agent.id
        self.play(step.get("prompt"))
        target = f"agent:{agent.extension}"
        self._exit_variables(TRANSFER_VARIABLE, target)
        return self._finish("TRANSFER", target)

    def _opt_out(self):
        """The callee asked not to be called again: the number goes on the do-not-call list,
        a voice says so, the call ends (OPTOUT)."""
        from models.dialer.voice import opt_out

        number = self.vars.get("customer_number") or self.vars.get("caller_id") or ""
        self.result.path.append("opt_out")
        self.result.digits.append(["opt_out", self._opt_out_key()])
        if self.session is None:
            raise FlowRuntimeError("the opt-out needs a database")
        try:
            opt_out(self.session, number, clock=self.clock)
            self.session.commit()
        except SQLAlchemyError:
            self.session.rollback()
            raise
        self._opted_out = True      # a hangup during the confirmation changes nothing
        self.play(self.flows.flows[self._flow].opt_out_prompt)
        self.channel.hangup()
        self._flow_hung_up = True
        return self._finish("OPTOUT")

    def _hangup(self, step: Step):
        self.play(step.main)
        outcome = step.get("outcome") or self._pending or "COMPLETED"
        self.channel.hangup()
        self._flow_hung_up = True
        return self._finish(outcome)
