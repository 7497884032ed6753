"""`popup`: a screen pop from the dialplan, for PBXs where the AMI listener is not wanted.

    same => n,AGI(agi://127.0.0.1:4573/popup,8001&8002)    ; before Dial(PJSIP/8001&PJSIP/8002)
    same => n,AGI(agi://127.0.0.1:4573/popup?queue=sales,${QUEUE_MEMBERS})

Arguments: the agents' extensions (one argument each, or joined with `&` or `,`; a dial
string such as `PJSIP/8001` is reduced to its extension). The caller is the channel's caller
ID (`agi_callerid`, `agi_calleridname`); the call is `agi_uniqueid`. Each extension that
belongs to an active user gets the same pop as the AMI listener makes (models.telephony.popups).
Sets DIALFUNNEL_POPS to how many pops were made. Status: OK, or NOAGENT when none matched.

Loaded with `python -m agi.fastagi.server --import agi.handlers.popup` (or imported by the package).
Use either this handler or the AMI listener for a given call path, not both: the listener
pops only when the phone really rings (and knows which queue member it was).
"""
from __future__ import annotations

import re

from agi.ami.listener import agent_endpoint
from agi.handlers.registry import register
from models.telephony.popups import create_pop_event, user_for_extension

_SPLIT = re.compile(r"[&,\s]+")


def extensions(args: list[str]) -> list[str]:
    out: list[str] = []
    for arg in args:
        for part in _SPLIT.split(arg or ""):
            if not part:
                continue
            endpoint = agent_endpoint(part)
            ext = endpoint[0] if endpoint else part
            if ext not in out:
                out.append(ext)
    return out


@register("popup")
def popup(agi, session, args):
    env = agi.env
    made = 0
    call = dict(uniqueid=env.get("agi_uniqueid"), linkedid=env.get("agi_uniqueid"),
                queue=agi.query.get("queue"), direction=agi.query.get("direction", "inbound"),
                source="agi")
    for ext in extensions(args)[:50]:
        agent = user_for_extension(session, ext)
        if agent is None:
            continue
        create_pop_event(session, agent, env.get("agi_callerid"),
                         caller_name=env.get("agi_calleridname"), call=call)
        made += 1
    session.commit()
    agi.set_variable("DIALFUNNEL_POPS", str(made))
    return None if made else "NOAGENT"
