"""`ivr`: walk an IVR flow of ivr_flows/ (SPEC T2).

    same => n,Answer()
    same => n,AGI(agi://127.0.0.1:4573/ivr?flow=main)
    same => n,GotoIf($["${DIALFUNNEL_STATUS}" = "TRANSFER"]?transfer)
    same => n,GotoIf($["${DIALFUNNEL_STATUS}" = "VOICEMAIL"]?voicemail)
    same => n,GotoIf($["${DIALFUNNEL_STATUS}" = "FAX"]?fax)
    same => n,Hangup()
    same => n(transfer),Queue(${CUT(DIALFUNNEL_TRANSFER,:,2)})     ; queue:sales -> sales
    same => n(voicemail),VoiceMail(${DIALFUNNEL_VOICEMAIL},u)
    same => n(fax),SendFAX(/var/lib/dialfunnel/fax/${DIALFUNNEL_FAX_DOCUMENT}.tif)

The flow comes from `?flow=NAME` (default main); other query parameters become flow
variables. DIALFUNNEL_STATUS is the flow's outcome: TRANSFER, VOICEMAIL, CALLBACK, FAX (an
`end` step's word), COMPLETED, FAILED, HANGUP, NOFLOW, or ERROR / DBERROR. Every call, however
it ends, leaves one row in ivr_calls (path, keys, outcome, duration), committed before the call
goes back to the dialplan; concurrent calls share that transaction (agi/fastagi/group_commit.py), and
lookups read without taking SQLite's write lock (measured: bench/agi_load.py, README).

Outbound flows (`outbound: true`, voice campaigns T9): the channel's DIALFUNNEL_ATTEMPT (set by
the dialer's Originate) names the dial attempt; its customer's data become flow variables
(models.dialer.voice.call_variables) and what the call came to is kept per attempt
(voice_results, survey answers, a contact record on the customer) before the call goes back.

`make_ivr_handler(flows_dir=..., clock=..., on_result=...)` builds the same handler over other
flow files or a fake clock (tests, the PBX simulator).
"""
from __future__ import annotations

import logging
import time

from agi.fastagi.group_commit import GroupCommit
from agi.handlers.registry import register
from ivr_flows import FlowError, FlowLibrary, Walker
from ivr_flows.flows import BUILTIN_VARS, CUSTOMER_VARS, VAR_NAME
from models.clock import SYSTEM_CLOCK
from models.db import begin_read
from models.dialer import voice
from models.telephony.ivr import insert_ivr_calls, ivr_call_values
from recordings.prompts import spoken_prompt

log = logging.getLogger("agi.ivr")

UNKNOWN_CALLER = {"", "unknown", "anonymous", "restricted", "private", "withheld"}
DEFAULT_FLOW = "main"


def call_variables(agi) -> dict[str, str]:
    """The built-in flow variables of a call, from the AGI environment and the query."""
    env = agi.env
    caller = (env.get("agi_callerid") or "").strip()
    variables = {
        "caller_id": "" if caller.lower() in UNKNOWN_CALLER else caller,
        "caller_name": env.get("agi_calleridname", ""),
        "uniqueid": env.get("agi_uniqueid", ""),
        "extension": env.get("agi_extension", ""),
        "dnid": env.get("agi_dnid", ""),
        "language": env.get("agi_language", ""),
        "channel": env.get("agi_channel", ""),
    }
    for key, value in (agi.query or {}).items():
        if key != "flow" and VAR_NAME.match(key) and key not in BUILTIN_VARS | CUSTOMER_VARS:
            variables[key] = value
    return variables


ATTEMPT_VARIABLE = "DIALFUNNEL_ATTEMPT"


def attempt_variables(agi, session) -> tuple[int | None, dict[str, str]]:
    """(attempt id, flow variables of its customer) of an outbound call; (None, {}) when the
    channel names no attempt the database knows."""
    raw = (agi.get_variable(ATTEMPT_VARIABLE) or "").strip()
    if not raw.isdigit():
        return None, {}
    begin_read(session)
    try:
        found = voice.call_variables(session, int(raw))
    finally:
        session.rollback()
    return (int(raw), found) if found is not None else (None, {})


def keep_voice_call(session, attempt_id: int, flow: str, result, clock) -> None:
    call = voice.CallOutcome(flow=flow, outcome=result.outcome or "ERROR",
                             heard_to_end=result.outcome == "COMPLETED", keys=result.digits,
                             path=result.path, answers=result.answers)
    voice.record_call(session, attempt_id, call, clock=clock)
    session.commit()


CALL_LOG = GroupCommit(insert_ivr_calls, one_statement=True)  # one INSERT for many calls' rows
FLOWS_RECHECK = 1.0  # seconds between looks at the flow files (stat() of each: 6% of a call)


class IVRWalker(Walker):
    """Lookups run in a read transaction (on SQLite no write lock, so they never queue behind
    another call's write); callback requests keep BEGIN IMMEDIATE: they read, then write."""

    def _db_step(self, step, work):
        if step.kind != "lookup":
            return super()._db_step(step, work)

        def read():
            begin_read(self.session)
            return work()
        return super()._db_step(step, read)

    def call_linkedid(self) -> str | None:
        """CHANNEL(linkedid): the IVR runs on a Local channel's ;2 half, not the call's first
        channel (one command, only for a callback request). pyst2 answers "hangup" when the
        caller has gone: the uniqueid stands in then."""
        value = (self.channel.get_full_variable("${CHANNEL(linkedid)}") or "").strip()
        return value if value not in ("", "hangup") else super().call_linkedid()


def make_ivr_handler(*, flows_dir=None, library: FlowLibrary | None = None,
                     clock=SYSTEM_CLOCK, answer: bool = True, on_result=None,
                     speak_text="settings"):
    """The `ivr` handler over `flows_dir` (default ivr_flows/). `on_result(agi, result)` is
    called with each finished walk's WalkResult (metrics, tests). A flow's `text` items (a
    name) are spoken by `speak_text(text) -> prompt id`; by default a prompt made when first
    needed in the settings' prompts_path (the folder Asterisk plays the prompts from); None:
    not spoken."""
    library = library or FlowLibrary(flows_dir)
    checked = {"at": 0.0, "flows": None}

    def current_flows():
        """The library's flows, looked at again once FLOWS_RECHECK has passed (and on every
        call while none has loaded: its error is then the call's)."""
        now = time.monotonic()
        if checked["flows"] is None or now - checked["at"] >= FLOWS_RECHECK:
            checked["flows"] = library.get()
            checked["at"] = now
        return checked["flows"]

    if speak_text == "settings":
        def speak_text(text: str) -> str:
            from config.settings import load_settings
            return spoken_prompt(load_settings().prompts_path, text)

    def ivr(agi, session, args):
        flow = (agi.query or {}).get("flow") or DEFAULT_FLOW
        variables = call_variables(agi)
        started = clock.now()

        def log_call(outcome, *, error=None, result=None):
            fields = dict(uniqueid=agi.uniqueid, flow=flow, outcome=outcome,
                          started_at=started, duration_ms=0, caller_id=variables["caller_id"],
                          error=error)
            if result is not None:
                fields.update(started_at=result.started_at, duration_ms=result.duration_ms,
                              customer_id=result.customer_id, path=result.path,
                              digits=result.digits, exit_to=result.exit_to,
                              callback=result.callback, error=result.error or error)
            CALL_LOG.write(session, [ivr_call_values(**fields)])

        try:
            flows = current_flows()
        except FlowError as exc:
            log.error("ivr: flows do not load: %s", exc)
            log_call("ERROR", error=f"flows do not load: {exc.errors[0] if exc.errors else exc}")
            return "ERROR"
        if flow not in flows.flows:
            log.warning("ivr: no flow %r (uniqueid=%s)", flow, agi.uniqueid)
            log_call("NOFLOW", error=f"no flow {flow!r}")
            return "NOFLOW"
        attempt_id = None
        if flows.flow(flow).outbound:
            attempt_id, customer = attempt_variables(agi, session)
            variables.update(customer)
        walker = IVRWalker(flows, agi, session=session, clock=clock, variables=variables,
                           answer=answer, speak_text=speak_text)
        try:
            result = walker.run(flow)
            if result.customer_id is None and variables.get("customer_id", "").isdigit():
                result.customer_id = int(variables["customer_id"])
            if attempt_id is not None:
                keep_voice_call(session, attempt_id, flow, result, clock)
        except Exception:
            # The call log still gets its row (ERROR / DBERROR) when the database allows.
            try:
                session.rollback()
                if attempt_id is not None and walker.result is not None:
                    keep_voice_call(session, attempt_id, flow, walker.result, clock)
                log_call(walker.result.outcome if walker.result else "ERROR",
                         result=walker.result)
                session.commit()
            except Exception:
                log.debug("could not log the failed IVR call", exc_info=True)
                session.rollback()
            raise
        log_call(result.outcome, result=result)
        if on_result is not None:
            on_result(agi, result)
        return result.outcome

    ivr.library = library
    return ivr


ivr = register("ivr", make_ivr_handler())
