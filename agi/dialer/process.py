"""The dialer as a process: ``dialfunnel dialer`` (and a thread of ``dialfunnel run``)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import socket
import threading
import time

from agi.ami.client import AMIClient, AMIError
from agi.dialer.click_to_call import ClickToCall
from agi.dialer import queue_members
from agi.console.spy import SpyRunner
from agi.console.commands import CommandRunner, run_forever
from agi.dialer.engine import Dialer
from agi.dialer.servers import PBX
from agi.early_media.hook import EarlyMediaHook, references_with_stored
from agi.early_media.server import EarlyMediaServer
from agi.dialer.fax_sender import FaxSender
from agi.dialer.fax_sender import run_forever as send_faxes
from faxdocs.store import store_for
from models.dialer.dialing import dead_causes_for

log = logging.getLogger(__name__)
EARLY_MEDIA_CONTEXT = "dialfunnel-early-media"
EVENT_CLASSES = "call,user"
# Every broadcast event a part of the dialer process hears (the dialer, click-to-call,
# listen/whisper/barge, the fax sender): the dialfunnel-dialer user's eventfilter lines
# (dialplan/manager_dialfunnel.conf; a test keeps them equal). Action answers (CoreShowChannel,
# QueueMember, ConfbridgeList...) are sent to their session unfiltered.
HEARD = ("Hangup", "OriginateResponse", "UserEvent", "DialBegin", "Newstate", "DialState",
         "DialEnd", "ChanSpyStart")


def dialer_id(settings) -> str:
    """Stable across restarts (a restarted dialer takes over its own calls in flight); two
    dialers on one host need their own ``dialer_id`` setting."""
    return settings.dialer_id or socket.gethostname()


def start_dialer(settings, maker, *, port: int, secret: str, clock=None,
                 route_answers: bool = False, hear=None,
                 username: str = "") -> tuple[Dialer, threading.Thread]:
    """Connect to AMI and run a Dialer in a thread. ``route_answers``: connect answered calls to
    agents here (the PBX simulator runs no dialplan); with a real Asterisk the dialplan's
    ``outbound`` AGI handler does it. ``hear``: the early-media listener runs even with
    early_media_port 0 (then on a free port) and ``hear(address)`` learns where before the
    first call (the demo points the PBX simulator's carrier at it). With several ``servers``
    each AMI action goes to its server: a dialer call to that of the agents it is dialled for
    (agentless: the most free trunk lines); click-to-call, queue members, listen/whisper/barge
    and the call bar's controls to that of the agent's phone; a fax to the server up with the
    most free trunk lines; the early-media listener's hangups to the call's server. Every
    server's events are heard."""
    holder: list[Dialer] = []
    configs = settings.ami_servers
    if not settings.servers:   # the one server: the caller's port and secret (--ami-port, --demo)
        configs = [dataclasses.replace(configs[0], ami_port=port, ami_secret=secret)]
    servers = [PBX(c.name, AMIClient(c.ami_host, c.ami_port, username or c.ami_username, c.ami_secret,
                                     events=EVENT_CLASSES,
                                     on_connect=lambda _client: holder and holder[0].request_reconcile()),
                   c.trunk_lines, c.extensions) for c in configs]
    ami = servers[0].ami
    kwargs = {"clock": clock} if clock is not None else {}
    listen = {}
    if settings.early_media_port or hear is not None:   # the carrier (dialplan/README.md)
        hook = EarlyMediaHook(ami)
        listener = EarlyMediaServer(hook, host=settings.early_media_host,
                                    port=settings.early_media_port,
                                    references=references_with_stored(maker)).start()
        if hear is not None:
            hear(listener.address)
        listen = {"early_media": hook, "context": EARLY_MEDIA_CONTEXT}
    click = ClickToCall(maker, ami, dialer_id=dialer_id(settings), servers=servers, **kwargs)
    dialer = Dialer(maker, ami, dialer_id=dialer_id(settings), trunk=settings.dialer_trunk,
                    route_answers=route_answers, click_to_call=click, servers=servers,
                    dead_causes=dead_causes_for(settings.dead_causes, settings.dialer_trunk), **kwargs,
                    **listen)
    holder.append(dialer)
    if listen:
        listen["early_media"].ami_for = dialer.ami_for_channel   # hang up on the call's server
    dialer.attach()
    click.attach()
    queue_members.start(maker, servers, settings)
    spies = SpyRunner(maker, ami, dialer_id=dialer.dialer_id, servers=servers,
                      **kwargs).attach()  # listen/whisper/barge
    faxes = FaxSender(maker, ami, store_for(settings), trunk=settings.dialer_trunk,
                      lines=settings.fax_lines, servers=servers, used=lambda: dialer.lines.on_server,
                      retry_wait=dt.timedelta(minutes=settings.fax_retry_minutes), **kwargs).attach()
    ami.connect()
    for pbx in servers[1:]:   # a server down at start joins when it comes up
        threading.Thread(target=connect_when_up, args=(pbx, dialer._stop), name=f"ami-{pbx.name}",
                         daemon=True).start()
    click.settle_lost()
    spies.start()

    def run():
        try:
            dialer.run()
        except Exception:
            log.exception("dialer stopped on an error")
            raise
        finally:
            spies.stop()
            for pbx in servers:
                pbx.ami.close()
    thread = threading.Thread(target=run, name="dialer", daemon=True)
    thread.start()
    runner = CommandRunner(maker, ami, runner_id=dialer.dialer_id, servers=servers,
                           **kwargs)   # the call bar's controls
    threading.Thread(target=run_forever, args=(runner, dialer._stop), name="console", daemon=True).start()
    threading.Thread(target=send_faxes, args=(faxes, dialer._stop), name="fax-sender", daemon=True).start()
    return dialer, thread


def connect_when_up(pbx: PBX, stop: threading.Event, wait: float = 5.0) -> None:
    """Log in to a server, trying every ``wait`` seconds until it answers (or the dialer stops);
    the client reconnects by itself after that."""
    while not stop.is_set():
        try:
            pbx.ami.connect()
            return
        except AMIError as exc:
            log.warning("dialer: server %s not reachable yet: %s", pbx.name, exc)
            time.sleep(wait)
