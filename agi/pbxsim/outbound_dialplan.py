"""The dialplan's ``dialfunnel-outbound`` context, played by the PBX simulator.

When an Originate into ``dialfunnel-outbound`` is answered and the AMIServer knows a FastAGI
address, the answered channel runs here, on its own thread, what dialplan/
extensions_dialfunnel.conf makes a real Asterisk do (event order of tests/fixtures/asterisk/
real-run-2026-12/ami-a5):

  MixMonitor (with r() and t(): the two sides apart) and HangupHandlerPush of
  dialfunnel-recording-done, then AGI(outbound) over
  FastAGI with the far side's audio (``FAR_SIDE_AUDIO``: RECORD FILE lasts the audio's time on
  the scheduler's clock), then what the handler left:
  TRANSFER agent:<ext>  Dial(PJSIP/<ext>): DialBegin, the phone rings ``agent_ring`` s,
                        DialEnd ANSWER, bridge; the customer hangs up ``talk_time`` s later
  MACHINE               Playback of DIALFUNNEL_MESSAGE (``message_time`` s) if any, Hangup()
  DIALFUNNEL_IVR=<flow> the ``ivr`` extension: AGI(ivr?flow=<flow>) over FastAGI (each prompt
                        played to its end lasts ``prompt_time`` s, else 1 s; nobody presses
                        a key), then dialfunnel-route: an agent for TRANSFER agent:<ext>,
                        else Hangup()
  anything else         UserEvent DialfunnelAbandon, Playback of the abandon message, Hangup()
  and at the end the hangup handler: StopMixMonitor, AGI(recording_done) over FastAGI with the
  channel's variables, and only then the channel's Hangup event.

A person (outcome ``answer``) says a short greeting and waits; a machine (``machine``) talks on,
so the real AMD (agi/handlers/amd.py) decides as it would. With ``recordings_incoming`` the simulator
writes the call's MixMonitor files (``<Uniqueid>.wav``, short, and its ``-r``/``-t`` sides) there and lets RECORD FILE write
there (``write_recordings=False``: only RECORD FILE's); without it nothing is written (AMD
then hears nothing: "unsure", put through as a person).
The thread counts as an activity of the scheduler (``Scheduler.activity``): under a fake clock
the driver moves time only while it waits in ``Scheduler.sleep``.
"""
from __future__ import annotations

import functools
import logging
import math
import random
import struct
import threading
import wave
from pathlib import Path

from agi.fastagi.protocol import parse_args
from agi.pbxsim import agi_driver

log = logging.getLogger(__name__)

CONTEXT = "dialfunnel-outbound"
# the dialer's Originate when it listens to early media: once answered, the dialplan goes on to
# CONTEXT (dialplan/extensions_dialfunnel.conf, dialfunnel-early-media)
EARLY_MEDIA_CONTEXT = "dialfunnel-early-media"
ANSWERED_INTO = (CONTEXT, EARLY_MEDIA_CONTEXT)
MONITOR_DIR = "/var/spool/asterisk/monitor/dialfunnel"   # the dialplan's MixMonitor folder
RATE = 8000
TIMING = {"agent_ring": 2.0, "message_time": 3.0}         # defaults of the scenario's answer timing


class _Gone(Exception):
    """The call was hung up from outside (AMI Hangup action) while the dialplan ran."""


def _voice(seconds: float, seed: int) -> bytes:
    """Something webrtcvad takes for a voice: a gliding 130 Hz harmonic tone, syllable-modulated."""
    rng = random.Random(seed)
    samples = []
    for i in range(int(seconds * RATE)):
        t = i / RATE
        f0 = 130 + 20 * math.sin(2 * math.pi * 0.7 * t)
        level = 0.55 + 0.45 * math.sin(2 * math.pi * 3.5 * t)
        s = sum(math.sin(2 * math.pi * f0 * k * t) / k for k in range(1, 20))
        samples.append(int(max(-32767, min(32767, 6000 * level * s + rng.gauss(0, 30)))))
    return struct.pack("<%dh" % len(samples), *samples)


def _beep(seconds: float, hz: float = 1000.0) -> bytes:
    n = int(seconds * RATE)
    return struct.pack("<%dh" % n, *(int(8000 * math.sin(2 * math.pi * hz * i / RATE)) for i in range(n)))


def _quiet(seconds: float, seed: int) -> bytes:
    rng = random.Random(seed)
    n = int(seconds * RATE)
    return struct.pack("<%dh" % n, *(int(rng.gauss(0, 20)) for _ in range(n)))


@functools.lru_cache(maxsize=None)
def far_side_audio(outcome: str) -> bytes:
    """What the far side says from the answer on: a person "喂?" (0.8 s) and waits; a machine
    talks for 6 s, then beeps (0.4 s at 1 kHz) and records (16-bit 8 kHz PCM)."""
    if outcome == "machine":
        return _quiet(0.5, 1) + _voice(6.0, 2) + _beep(0.4) + _quiet(3.0, 5)
    return _quiet(0.5, 1) + _voice(0.8, 3) + _quiet(6.0, 4)


class OutboundCall:
    def __init__(self, call, fastagi: tuple[str, int], incoming: str | Path | None,
                 write_recordings: bool = True):
        self.call, self.server = call, call.server
        self.scheduler = call.server.scheduler
        self.host, self.port = fastagi
        self.incoming = Path(incoming) if incoming else None
        self.write_recordings = write_recordings
        self.o1 = call.legs["o1"]
        self.uid = self.o1["Uniqueid"]
        self.variables = dict(v.partition("=")[::2] for v in call.msg.get_all("Variable"))
        folder = str(self.incoming) if self.incoming else MONITOR_DIR
        self.recording = f"{folder}/{self.uid}.wav"
        self.transfer = ""
        self.peer = ""

    def start(self) -> None:
        """From the scheduler's thread (so a settle() cannot slip in before the thread counts)."""
        self.scheduler.activity()
        threading.Thread(target=self._run, name=f"pbxsim-outbound-{self.uid}", daemon=True).start()

    def _run(self) -> None:
        try:
            self._play()
        except _Gone:
            pass
        except Exception:
            log.exception("pbxsim: the outbound dialplan of %s failed", self.uid)
        finally:
            if not self.call.done:
                self.call.finish()
            self.scheduler.done()

    # --- helpers -----------------------------------------------------------------------------
    def timing(self, name: str) -> float:
        return float(self.call.durations.get(name, TIMING.get(name, 0.0)))

    def wait(self, seconds: float) -> None:
        if seconds > 0 and not self.scheduler.sleep(seconds):
            raise _Gone()  # the simulator stopped
        self.check()

    def check(self) -> None:
        if self.call.done:
            raise _Gone()

    def emit(self, kind: str, leg, **args) -> None:
        self.check()
        self.call.t = self.scheduler.now()
        self.call.execute(kind, leg, args)

    def app(self, exten: str, priority: int, app: str, data: str = "", context: str = CONTEXT) -> None:
        self.o1.update(Context=context, Exten=exten, Priority=str(priority))
        self.emit("Newexten", "o1", app=app, data=data, priority=priority)

    def setvar(self, name: str, value: str, leg: str = "o1") -> None:
        if leg == "o1":
            self.variables[name] = value
        self.emit("VarSet", leg, variable=name, value=value)

    def set_app(self, exten: str, priority: int, name: str, value: str, context: str = CONTEXT) -> None:
        self.app(exten, priority, "Set", f"{name}={value}", context)
        self.setvar(name, value)

    def agi(self, script: str, args=(), audio: bytes | None = None, **scenario) -> agi_driver.CallResult:
        env = {"agi_channel": self.o1["Channel"], "agi_type": self.o1["Channel"].split("/", 1)[0],
               "agi_uniqueid": self.uid, "agi_callerid": self.call.fields["cid_num"],
               "agi_calleridname": self.call.fields["cid_name"], "agi_context": self.o1["Context"],
               "agi_extension": self.o1["Exten"], "agi_priority": self.o1["Priority"]}
        variables = {**self.variables, "CHANNEL(linkedid)": self.o1["Linkedid"]}
        scenario = agi_driver.Scenario(
            audio=audio, record_dir=self.incoming, answered=True, realtime=True,
            sleep=self.scheduler.sleep, variables=variables, **scenario)
        result = agi_driver.run_call(self.host, self.port, script, args, env=env, scenario=scenario)
        if self.server.on_agi is not None:
            self.server.on_agi(script, result)
        self.check()
        if result.error:
            log.warning("pbxsim: AGI %s of %s: %s", script, self.uid, result.error)
        for command in result.commands:  # res_agi's VarSet of each SET VARIABLE, in order
            argv = parse_args(command)
            if len(argv) >= 4 and [w.upper() for w in argv[:2]] == ["SET", "VARIABLE"]:
                self.setvar(argv[2], argv[3])
        self.variables.update(result.variables)
        return result

    # --- the dialplan --------------------------------------------------------------------------
    def _play(self) -> None:
        cid = self.call.fields["cid_num"]
        campaign = self.variables.get("DIALFUNNEL_CAMPAIGN", "")
        attempt = self.variables.get("DIALFUNNEL_ATTEMPT", "")
        self.app("s", 1, "NoOp", f"dialfunnel outbound: {cid} answered, campaign {campaign} attempt {attempt}")
        self.app("s", 2, "Gosub", "dialfunnel-config,s,1")
        self.app("s", 3, "Gosub", "dialfunnel-record,s,1(outbound)")
        self.app("s", 1, "GotoIf", "0?done", context="dialfunnel-record")
        stem = self.recording[:-4]
        self.app("s", 2, "MixMonitor", f"{self.recording},r({stem}-r.wav)t({stem}-t.wav)",
                 context="dialfunnel-record")
        self.setvar("MIXMONITOR_FILENAME", self.recording)
        self.emit("MixMonitorStart", "o1")
        self.set_app("s", 3, "DIALFUNNEL_RECORDING", self.recording, context="dialfunnel-record")
        handler = f"dialfunnel-recording-done,s,1({self.recording},outbound)"
        self.app("s", 4, "Set", f"CHANNEL(hangup_handler_push)={handler}", context="dialfunnel-record")
        self.emit("HangupHandlerPush", "o1", extra=[("Handler", handler)])
        self.app("s", 5, "Return", "", context="dialfunnel-record")
        for priority, name in enumerate(("DIALFUNNEL_STATUS", "DIALFUNNEL_TRANSFER", "DIALFUNNEL_IVR",
                                         "DIALFUNNEL_MESSAGE"), start=4):
            self.set_app("s", priority, name, "")
        self.app("s", 8, "AGI", f"agi://{self.host}:{self.port}/outbound")
        result = self.agi("outbound", audio=far_side_audio(self.call.outcome))
        self.setvar("AGISTATUS", result.agistatus)
        status = self.variables.get("DIALFUNNEL_STATUS") or ""
        self.transfer = self.variables.get("DIALFUNNEL_TRANSFER") or ""
        kind, _, target = self.transfer.partition(":")
        self.app("s", 9, "GotoIf", f"{int(status == 'HANGUP')}?dialfunnel-route,hangup,1")
        if status == "HANGUP":
            return self._hang_up_o1()
        self.app("s", 10, "GotoIf", f"{int(status == 'MACHINE')}?machine,1")
        if status == "MACHINE":
            return self._machine()
        flow = self.variables.get("DIALFUNNEL_IVR") or ""
        self.app("s", 11, "GotoIf", f"{int(bool(flow))}?ivr,1")
        if flow:
            return self._ivr(flow)
        self.app("s", 12, "GotoIf", f"{int(kind == 'agent')}?toagent,1")
        agent = "".join(ch for ch in target if ch.isdigit())
        if kind == "agent" and agent:
            return self._to_agent(agent)
        # toqueue (Queue) is not simulated: such a call goes to the abandon message
        self.app("s", 13, "GotoIf", "0?toqueue,1")
        self.app("s", 14, "Goto", "abandon,1")
        self._abandon()

    def _ivr(self, flow: str) -> None:
        name = "".join(ch for ch in flow if ch in "abcdefghijklmnopqrstuvwxyz0123456789_")
        self.set_app("ivr", 1, "DF_FLOW", name)
        for priority, var in enumerate(("DIALFUNNEL_STATUS", "DIALFUNNEL_TRANSFER", "DIALFUNNEL_FAX",
                                        "DIALFUNNEL_FAX_DOCUMENT", "DIALFUNNEL_VOICEMAIL"), start=2):
            self.set_app("ivr", priority, var, "")
        self.app("ivr", 7, "AGI", f"agi://{self.host}:{self.port}/ivr?flow={name}")
        sound = round(self.timing("prompt_time") * RATE) if "prompt_time" in self.call.durations \
            else agi_driver.DEFAULT_SOUND
        keys = self.server.scenario.keys_for(self.call.exten, self.call.rng)
        result = self.agi(f"ivr?flow={name}", media_realtime=True, default_sound=sound, keys=keys)
        self.setvar("AGISTATUS", result.agistatus)
        self.app("ivr", 8, "Goto", "dialfunnel-route,s,1")
        status = self.variables.get("DIALFUNNEL_STATUS") or ""
        self.transfer = self.variables.get("DIALFUNNEL_TRANSFER") or ""
        kind, _, target = self.transfer.partition(":")
        agent = "".join(ch for ch in target if ch.isdigit())
        self.app("s", 1, "NoOp", f"dialfunnel route: STATUS={status}", context="dialfunnel-route")
        if status == "TRANSFER" and kind == "agent" and agent:
            return self._to_agent(agent)
        # queues, voicemail and fax after an outbound flow are not simulated: the call ends
        self._hang_up_o1()

    def _to_agent(self, ext: str) -> None:
        self.set_app("toagent", 1, "DF_AGENT", ext)
        self.app("toagent", 2, "GotoIf", "0?abandon,1")
        self.app("toagent", 3, "Dial", f"PJSIP/{ext},20,t")
        self.setvar("DIALSTATUS", "")
        call = self.call
        seq = self.server.next_channel_seq()
        call.legs["p1"] = {
            "Channel": f"PJSIP/{ext}-{seq:08x}", "ChannelState": "0",
            "CallerIDNum": ext, "CallerIDName": "<unknown>",
            "ConnectedLineNum": call.fields["cid_num"], "ConnectedLineName": call.fields["cid_name"],
            "Language": "en", "AccountCode": "", "Context": "dialfunnel-agents", "Exten": "s",
            "Priority": "1", "Uniqueid": self.server.new_uniqueid(self.scheduler.now()),
            "Linkedid": self.o1["Linkedid"], "alive": False}
        self.emit("Newchannel", "p1")
        self.emit("DialBegin", "p1", caller="o1", dialstring=ext)
        self.emit("Newstate", "p1", state=5)
        self.emit("DialState", "p1", caller="o1", status="RINGING")
        self.wait(self.timing("agent_ring"))
        self.emit("Newstate", "p1", state=6)
        self.setvar("DIALSTATUS", "ANSWER")
        self.peer = call.legs["p1"]["Channel"]
        self.setvar("DIALEDPEERNAME", self.peer)
        self.setvar("DIALEDPEERNUMBER", ext)
        self.emit("DialEnd", "p1", caller="o1", status="ANSWER")
        self.emit("BridgeEnter", "p1", count=1)
        self.emit("BridgeEnter", "o1", count=2)
        self.setvar("BRIDGEPEER", self.o1["Channel"], leg="p1")
        self.setvar("BRIDGEPEER", self.peer)
        self.wait(self.timing("talk_time"))
        # the customer hangs up; Dial() returns and the channel is torn down
        self.emit("Newexten", "o2", app="Hangup", data="16")
        self.emit("SoftHangupRequest", "o2", cause=16)
        self.emit("HangupRequest", "o1", cause=16)
        self.emit("Hangup", "o2", cause=16)
        self.setvar("BRIDGEPEER", "")
        self.setvar("BRIDGEPEER", "", leg="p1")
        self.emit("BridgeLeave", "o1", count=1)
        self.emit("BridgeLeave", "p1", count=0)
        self.setvar("DIALSTATUS", "ANSWER")
        self.emit("SoftHangupRequest", "o1", cause=16)
        self._hangup_handler(after_start=["p1"])
        self.emit("Hangup", "o1", cause=16)
        self.emit("DeviceStateChange", None, state="NOT_INUSE")

    def _machine(self) -> None:
        message = "".join(ch for ch in self.variables.get("DIALFUNNEL_MESSAGE", "")
                          if ch.isalnum() or ch in "_-")
        self.app("machine", 1, "NoOp", f"dialfunnel: answering machine, message {message}")
        self.set_app("machine", 2, "DF_MESSAGE", message)
        self.app("machine", 3, "GotoIf", f"{int(not message)}?done")
        if message:
            self._playback("machine", 4, f"dialfunnel/{message}")
        self._hang_up_o1("machine", 5)

    def _abandon(self) -> None:
        status = self.variables.get("DIALFUNNEL_STATUS") or ""
        campaign = self.variables.get("DIALFUNNEL_CAMPAIGN", "")
        attempt = self.variables.get("DIALFUNNEL_ATTEMPT", "")
        self.app("abandon", 1, "NoOp", f"dialfunnel: abandoned outbound call, status {status}")
        self.app("abandon", 2, "UserEvent", f"DialfunnelAbandon,Campaign: {campaign},Attempt: {attempt}")
        self.emit("UserEvent", "o1", extra=[("UserEvent", "DialfunnelAbandon"), ("Campaign", campaign),
                                            ("Attempt", attempt)])
        message = "".join(ch for ch in self.variables.get("DIALFUNNEL_MESSAGE", "")
                          if ch.isalnum() or ch in "_-")
        self.set_app("abandon", 3, "DF_MESSAGE", message)
        self.app("abandon", 4, "GotoIf", f"{int(bool(message))}?play")
        if not message:
            message = "abandon"
            self.set_app("abandon", 5, "DF_MESSAGE", message)
        self._playback("abandon", 6, f"dialfunnel/{message}")
        self._hang_up_o1("abandon", 7)

    def _playback(self, exten: str, priority: int, prompt: str) -> None:
        self.app(exten, priority, "Playback", prompt)
        self.wait(self.timing("message_time"))
        self.setvar("PLAYBACKSTATUS", "SUCCESS")

    def _hang_up_o1(self, exten: str | None = None, priority: int | None = None) -> None:
        """Hangup() on our channel: the hangup handler first, then the far side, then ours."""
        if exten is not None:
            self.app(exten, priority, "Hangup", "")
        self.emit("SoftHangupRequest", "o1", cause=16)
        self._hangup_handler()
        self.emit("HangupRequest", "o2", cause=16)
        self.emit("SoftHangupRequest", "o2", cause=16)
        self.emit("Hangup", "o2", cause=16)
        self.emit("Hangup", "o1", cause=16)
        self.emit("DeviceStateChange", None, state="NOT_INUSE")

    def _hangup_handler(self, after_start=()) -> None:
        """dialfunnel-recording-done: runs before the channel's Hangup event. Other legs still up
        (the agent's phone) go down while its AGI runs (ami-a5)."""
        handler = f"dialfunnel-recording-done,s,1({self.recording},outbound)"
        self.emit("HangupHandlerRun", "o1", extra=[("Handler", handler)])
        self.app("s", 1, "NoOp",
                 f"dialfunnel: recording {self.recording} (outbound) of {self.uid} is complete",
                 context="dialfunnel-recording-done")
        self.app("s", 2, "StopMixMonitor", "", context="dialfunnel-recording-done")
        self.emit("MixMonitorStop", "o1")
        self._write_recording()
        self.set_app("s", 3, "DIALFUNNEL_STATUS", "", context="dialfunnel-recording-done")
        self.app("s", 4, "AGI", f"agi://{self.host}:{self.port}/recording_done,{self.recording},outbound",
                 context="dialfunnel-recording-done")
        for leg in after_start:
            if self.call.legs[leg]["alive"]:
                self.emit("Hangup", leg, cause=16)
        result = self.agi("recording_done", args=[self.recording, "outbound"])
        self.setvar("AGISTATUS", result.agistatus)
        self.app("s", 5, "Return", "", context="dialfunnel-recording-done")

    def _write_recording(self) -> None:
        """MixMonitor's files, closed by StopMixMonitor: a short WAV of the greeting, and the
        two directions of the r() and t() options: -r what the far side said, -t what it was
        sent (the line's quiet)."""
        if self.incoming is None or not self.write_recordings:
            return
        heard = far_side_audio(self.call.outcome)[:RATE * 2]
        stem = self.recording[:-4]
        for path, pcm in ((self.recording, heard), (f"{stem}-r.wav", heard),
                          (f"{stem}-t.wav", _quiet(len(heard) / 2 / RATE, 5))):
            with wave.open(path, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(pcm)
