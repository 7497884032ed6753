"""recording_done: the dialplan's hangup handler says a MixMonitor file is complete.

    same => n,AGI(agi://127.0.0.1:4573/recording_done,${MIXMONITOR_FILENAME},<kind>)

<kind> is one of models.schema.recordings.DIRECTIONS: inbound (dialfunnel-inbound), outbound
(a dialer call, dialfunnel-outbound) or agent (an agent's own call, dialfunnel-trunk-out: the
customer's channel, recorded by Dial's pre-dial handler, so it outlives hold and transfers).
The WAV is compressed into the recording store, its waveform and (from the -r/-t files of the
two sides, when there) its talk figures kept (recordings/analysis.py), all three removed from
the incoming folder, and the
Recording row linked to what the channel's variables say of the call (read with GET VARIABLE;
the channel is already down, which these commands allow):
  * CHANNEL(linkedid): the call (all its legs);
  * a dialer call: DIALFUNNEL_ATTEMPT / DIALFUNNEL_CAMPAIGN, the attempt giving customer,
    dialled number and agent (agi_callerid is the company's own caller ID there);
  * an agent's call: DIALFUNNEL_AGENT (the agent's extension) and DIALFUNNEL_PEER (the number
    dialled; agi_callerid is the extension or the company's caller ID);
  * an inbound call: agi_callerid is the customer's number;
  * who answered: DIALEDPEERNAME (after Dial), MEMBERINTERFACE / MEMBERNAME (after Queue),
    else DIALFUNNEL_TRANSFER=agent:<ext> (models.telephony.channels.answered_extensions).
The contact record follows by models.crm.recordings.belongs (now, or when the agent writes it).

Statuses: STORED; SKIPPED when the call's recording is already stored (the links it lacks are
filled in) or the file is not there; REFUSED when the file name could leave the incoming
folder (recordings/store.py; one WARNING line with the name cut short); ERROR without a file.
"""
from __future__ import annotations

import logging

from agi.handlers.registry import register
from models.clock import SYSTEM_CLOCK
from models.schema.recordings import DIRECTIONS
from models.telephony.channels import answered_extensions
from models.telephony.popups import extension_user
from recordings.analysis import remove_legs
from recordings.store import RecordingStore, UnsafePath, incoming_name, shown

log = logging.getLogger(__name__)
_config: dict = {"store": None, "clock": SYSTEM_CLOCK}


def configure(store: RecordingStore | None, clock=SYSTEM_CLOCK) -> None:
    """Use this store instead of the one the settings name, and this clock (tests,
    embedding); configure(None) goes back to the settings and the system clock."""
    _config.update(store=store, clock=clock)


def _settings_store() -> RecordingStore:
    from config.settings import load_settings
    settings = load_settings()
    return RecordingStore(settings.recordings_path, settings.recordings_incoming_path)


def _variable(agi, name: str) -> str | None:
    value = (agi.get_variable(name) or "").strip()
    return value or None


def _number(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _user_id(session, extensions: list[str]) -> int | None:
    for extension in extensions:
        user = extension_user(session, extension)
        if user is not None:
            return user.id
    return None


def call_facts(agi, session, kind: str) -> dict:
    """What the channel's variables say of the recorded call (RecordingJob fields)."""
    facts = dict(linkedid=(agi.get_full_variable("${CHANNEL(linkedid)}") or "").strip() or None)
    if kind == "agent":
        agent = _variable(agi, "DIALFUNNEL_AGENT")
        facts.update(number=_variable(agi, "DIALFUNNEL_PEER"),
                     user_id=_user_id(session, [agent] if agent else []))
        return facts
    facts.update(
        attempt_id=_number(_variable(agi, "DIALFUNNEL_ATTEMPT")),
        campaign_id=_number(_variable(agi, "DIALFUNNEL_CAMPAIGN")),
        user_id=_user_id(session, answered_extensions(
            dialed_peer=_variable(agi, "DIALEDPEERNAME"),
            member_interface=_variable(agi, "MEMBERINTERFACE"),
            member_name=_variable(agi, "MEMBERNAME"),
            transfer=_variable(agi, "DIALFUNNEL_TRANSFER"))))
    if kind == "inbound":
        caller = agi.env.get("agi_callerid")
        facts["number"] = None if caller in (None, "", "unknown") else caller
    return facts


@register("recording_done")
def recording_done(agi, session, args):
    from agi.ami.listener import RecordingJob, ingest_recording
    if not args or not args[0]:
        return "ERROR"
    try:
        incoming_name(args[0])
    except UnsafePath:
        log.warning("recording_done %s: refused the file name %s", shown(agi.uniqueid, 64),
                    shown(args[0]))
        return "REFUSED"
    kind = args[1] if len(args) > 1 else ""
    if kind not in DIRECTIONS:
        log.warning("recording_done %s: unknown kind %s, stored as inbound",
                    shown(agi.uniqueid, 64), shown(kind))
        kind = "inbound"
    store = _config["store"] or _settings_store()
    job = RecordingJob(uniqueid=agi.uniqueid, filename=args[0], direction=kind,
                       **call_facts(agi, session, kind))
    recording = ingest_recording(session, store, job, clock=_config["clock"])
    session.commit()
    if recording is None:
        return "SKIPPED"
    store.remove_incoming(args[0])
    remove_legs(store, args[0])
    return "STORED"
