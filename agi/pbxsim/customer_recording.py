"""The recording of an agent's own call, on the customer's channel, as a real Asterisk 22 runs
dialplan/extensions_dialfunnel.conf's ``dialfunnel-trunk-out``:

  Dial(PJSIP/<number>@<trunk>,60,gTb(dialfunnel-record-customer^s^1(<agent>,<number>)))

* b() is the callee's pre-dial handler (apps/app_dial.c): a Gosub on the customer's channel
  after it was requested (its Newchannel) and before ast_call() (its DialBegin). It sets
  DIALFUNNEL_AGENT / DIALFUNNEL_PEER there, and dialfunnel-record starts MixMonitor
  (apps/app_mixmonitor.c: VarSet MIXMONITOR_FILENAME, MixMonitorStart) and pushes the hangup
  handler (HangupHandlerPush).
* The recording belongs to that channel: it goes on through hold, transfers and the three-way
  room, whichever agent is with the customer then, and ends when the customer's channel hangs up.
  Its hangup handler (HangupHandlerRun, StopMixMonitor, MixMonitorStop, AGI(recording_done))
  runs before the channel's Hangup event (main/pbx_hangup_handler.c; real-run-2026-12).

With ``AMIServer(fastagi=...)`` AGI(recording_done) is called over FastAGI with the channel's
variables; with ``recordings_incoming`` the WAV (``<Uniqueid>.wav``) is written there first.
"""
from __future__ import annotations

import logging
import struct
import wave
from pathlib import Path

from agi.pbxsim import agi_driver

log = logging.getLogger(__name__)

MONITOR_DIR = "/var/spool/asterisk/monitor/dialfunnel"
PRE_DIAL = "dialfunnel-record-customer"
RECORD = "dialfunnel-record"
DONE = "dialfunnel-recording-done"
KIND = "agent"
RATE = 8000
MAX_WAV_SECONDS = 3.0      # the written file is short, whatever the call's length


def _app(call, leg: str, context: str, priority: int, app: str, data: str = "") -> None:
    call.legs[leg].update(Context=context, Exten="s", Priority=str(priority))
    call.execute("Newexten", leg, {"app": app, "data": data, "priority": priority})


def _setvar(call, leg: str, recording: dict, name: str, value: str) -> None:
    """Set on the channel: VarSet, and what recording_done's GET VARIABLE will read."""
    recording["variables"][name] = value
    call.execute("VarSet", leg, {"variable": name, "value": value})


def pre_dial(call, leg: str) -> None:
    """The b() Gosub on the customer's channel ``leg`` of an agent's own call."""
    agent, number = call.exten, call.fields["orig_exten"]
    incoming = call.server.recordings_incoming
    uniqueid = call.legs[leg]["Uniqueid"]
    path = f"{incoming or MONITOR_DIR}/{uniqueid}.wav"
    recording = call.recordings[leg] = {"file": path, "variables": {}, "started": call.t}
    where = {k: call.legs[leg][k] for k in ("Context", "Exten", "Priority")}
    _app(call, leg, PRE_DIAL, 1, "Set", f"DIALFUNNEL_AGENT={agent}")
    _setvar(call, leg, recording, "DIALFUNNEL_AGENT", agent)
    _app(call, leg, PRE_DIAL, 2, "Set", f"DIALFUNNEL_PEER={number}")
    _setvar(call, leg, recording, "DIALFUNNEL_PEER", number)
    _app(call, leg, PRE_DIAL, 3, "Gosub", f"{RECORD},s,1({KIND},b)")
    _app(call, leg, RECORD, 1, "GotoIf", "0?done")
    _app(call, leg, RECORD, 2, "MixMonitor", f"{path},b")
    _setvar(call, leg, recording, "MIXMONITOR_FILENAME", path)
    call.execute("MixMonitorStart", leg, {})
    _app(call, leg, RECORD, 3, "Set", f"DIALFUNNEL_RECORDING={path}")
    _setvar(call, leg, recording, "DIALFUNNEL_RECORDING", path)
    handler = f"{DONE},s,1({path},{KIND})"
    _app(call, leg, RECORD, 4, "Set", f"CHANNEL(hangup_handler_push)={handler}")
    call.execute("HangupHandlerPush", leg, {"extra": [("Handler", handler)]})
    _app(call, leg, RECORD, 5, "Return")
    _app(call, leg, PRE_DIAL, 4, "Return")
    call.legs[leg].update(where)


def hangup_handler(call, leg: str) -> None:
    """dialfunnel-recording-done on the customer's channel, just before its Hangup event."""
    recording = call.recordings.pop(leg)
    path, uniqueid = recording["file"], call.legs[leg]["Uniqueid"]
    where = {k: call.legs[leg][k] for k in ("Context", "Exten", "Priority")}
    handler = f"{DONE},s,1({path},{KIND})"
    call.execute("HangupHandlerRun", leg, {"extra": [("Handler", handler)]})
    _app(call, leg, DONE, 1, "NoOp", f"dialfunnel: recording {path} ({KIND}) of {uniqueid} is complete")
    _app(call, leg, DONE, 2, "StopMixMonitor")
    call.execute("MixMonitorStop", leg, {})
    if call.legs[leg]["ChannelState"] == "6":      # MixMonitor b: no audio, no file
        _write(call, path, call.t - recording["started"])
    _app(call, leg, DONE, 3, "Set", "DIALFUNNEL_STATUS=")
    _setvar(call, leg, recording, "DIALFUNNEL_STATUS", "")
    fastagi = call.server.fastagi
    if fastagi:
        host, port = fastagi
        _app(call, leg, DONE, 4, "AGI", f"agi://{host}:{port}/recording_done,{path},{KIND}")
        result = _recording_done(call, leg, recording, fastagi)
        if result.status is not None:
            _setvar(call, leg, recording, "DIALFUNNEL_STATUS", result.status)
        call.execute("VarSet", leg, {"variable": "AGISTATUS", "value": result.agistatus})
    _app(call, leg, DONE, 5, "Return")
    call.legs[leg].update(where)       # the Gosub returns: the Hangup event shows the old place


def _recording_done(call, leg: str, recording: dict, fastagi: tuple[str, int]):
    channel = call.legs[leg]
    scenario = agi_driver.Scenario(hangup_before=0, variables=recording["variables"],
                                   linkedid=channel["Linkedid"])
    env = {"agi_uniqueid": channel["Uniqueid"], "agi_channel": channel["Channel"],
           "agi_context": DONE, "agi_extension": "s", "agi_priority": "4"}
    result = agi_driver.run_call(fastagi[0], fastagi[1], "recording_done",
                                 args=(recording["file"], KIND),
                                 callerid=channel["CallerIDNum"], env=env, scenario=scenario)
    if result.error:
        log.warning("pbxsim: recording_done of %s: %s", channel["Uniqueid"], result.error)
    return result


def _write(call, path: str, seconds: float) -> None:
    """MixMonitor's file, closed by StopMixMonitor (quiet audio, at most a few seconds)."""
    if not call.server.recordings_incoming or not call.server.write_recordings:
        return
    frames = int(max(0.1, min(seconds, MAX_WAV_SECONDS)) * RATE)
    with wave.open(str(Path(path)), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack("<%dh" % frames, *([0] * frames)))
