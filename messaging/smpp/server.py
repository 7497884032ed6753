"""A small SMSC speaking SMPP 3.4 on a TCP port: the tests' and the demo's. It takes binds
(checking system_id and password), submit_sm (answering with a message id, keeping each part
and the concatenated texts), sends a delivery receipt for every part as deliver_sm (stored and
forwarded on the next bind when no session is bound), sends replies (mobile-originated
deliver_sm, long ones concatenated), answers enquire_link, and on command drops every bind
or throttles the next submits (ESME_RTHROTTLED)."""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable

from messaging.smpp import pdu as P
from models.sms.segments import split

log = logging.getLogger(__name__)


class _Session:
    def __init__(self, sock: socket.socket, address):
        self.sock, self.address = sock, address
        self.bound: str | None = None      # the bind's kind once bound
        self.system_id = ""
        self.lock = threading.Lock()

    def send(self, pdu: P.Pdu) -> None:
        data = P.encode(pdu)
        with self.lock:
            self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class SmppServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, system_id: str = "dialfunnel",
                 password: str = "secret", receipt_delay_s: float = 0.05,
                 auto_reply: Callable[[str, str], str | None] | None = None,
                 reply_delay_s: float = 0.2, own_number: str = "10690000"):
        self.host, self.port = host, port
        self.system_id, self.password = system_id, password
        self.receipt_delay_s, self.reply_delay_s = receipt_delay_s, reply_delay_s
        self.auto_reply, self.own_number = auto_reply, own_number
        self.undeliverable: dict[str, str] = {}        # number (digits) -> "stat err"
        self.submitted: list[dict] = []                # every submit_sm taken
        self.deliver_responses: list[int] = []         # the ESME's deliver_sm_resp statuses
        self.responses: list[str] = []                 # other responses of the ESME, by name
        self.binds = 0
        self.enquire_links = 0
        self._throttle = self._throttle_after = 0
        self._ids = itertools.count(0x5A000001)
        self._sequence = itertools.count(1)
        self._sessions: list[_Session] = []
        self._pending: list[P.Pdu] = []                # deliver_sm waiting for a bound session
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._listener: socket.socket | None = None

    # ---- life ----------------------------------------------------------------------------

    def start(self) -> "SmppServer":
        self._listener = socket.create_server((self.host, self.port))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="smsc-accept").start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        self.drop_binds()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, address = self._listener.accept()
            except OSError:
                return
            session = _Session(sock, address)
            with self._lock:
                self._sessions.append(session)
            threading.Thread(target=self._serve, args=(session,), daemon=True,
                             name="smsc-session").start()

    # ---- commands of a test or the demo ----------------------------------------------------

    def drop_binds(self) -> int:
        """Close every session's connection at once, as a restarting SMSC does."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        return len(sessions)

    def to_every_session(self, command_id: int) -> int:
        """Send enquire_link or unbind to every bound session (their responses are counted in
        `responses`)."""
        with self._lock:
            sessions = [s for s in self._sessions if s.bound]
        for session in sessions:
            session.send(P.Pdu(command_id, next(self._sequence)))
        return len(sessions)

    def throttle(self, count: int, *, after: int = 0) -> None:
        """Refuse `count` submit_sm with ESME_RTHROTTLED, once `after` more were taken."""
        with self._lock:
            self._throttle, self._throttle_after = count, after

    def reply(self, from_number: str, text: str, to_number: str | None = None) -> None:
        """A mobile user's SMS to us (mobile-originated), concatenated when long."""
        encoding, parts = split(text)
        reference = next(self._ids) & 0xFF
        for number, part in enumerate(parts, 1):
            coding, octets = P.encode_text(part, encoding)
            esm = 0
            if len(parts) > 1:
                octets, esm = P.udh_concat(reference, len(parts), number) + octets, P.ESM_UDHI
            self._deliver(P.Pdu(P.DELIVER_SM, 0, params=dict(
                source_addr_ton=1, source_addr_npi=1, source_addr=from_number.lstrip("+"),
                dest_addr_ton=0, destination_addr=to_number or self.own_number, esm_class=esm,
                data_coding=coding, short_message=octets)))

    def messages(self) -> list[dict]:
        """The texts taken, long ones joined from their parts: [{"to", "text", "ids"}]."""
        joined: dict[tuple, dict] = {}
        for part in self.submitted:
            key = (part["to"], part["concat"][0] if part["concat"] else part["message_id"])
            entry = joined.setdefault(key, {"to": part["to"], "parts": {}, "ids": []})
            entry["parts"][part["concat"][2] if part["concat"] else 1] = part["text"]
            entry["ids"].append(part["message_id"])
        return [{"to": e["to"], "text": "".join(e["parts"][i] for i in sorted(e["parts"])),
                 "ids": e["ids"]} for e in joined.values()]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
        return True

    # ---- a session -----------------------------------------------------------------------

    def _serve(self, session: _Session) -> None:
        try:
            while not self._stop.is_set():
                pdu = P.read_pdu(session.sock)
                if pdu is None:
                    break
                self._handle(session, pdu)
        except (OSError, P.PduError) as exc:
            log.debug("SMSC session %s ended: %s", session.address, exc)
        finally:
            with self._lock:
                if session in self._sessions:
                    self._sessions.remove(session)
                self._changed.notify_all()
            session.close()

    def _handle(self, session: _Session, pdu: P.Pdu) -> None:
        command = pdu.command_id
        if command in (P.BIND_TRANSCEIVER, P.BIND_TRANSMITTER, P.BIND_RECEIVER):
            self._bind(session, pdu)
        elif command == P.ENQUIRE_LINK:
            with self._lock:
                self.enquire_links += 1
            session.send(P.Pdu(P.ENQUIRE_LINK | P.RESP, pdu.sequence))
        elif command == P.UNBIND:
            session.send(P.Pdu(P.UNBIND | P.RESP, pdu.sequence))
            session.bound = None
        elif command == P.SUBMIT_SM:
            self._submit(session, pdu)
        elif command == P.DELIVER_SM | P.RESP:
            with self._lock:
                self.deliver_responses.append(pdu.status)
                self._changed.notify_all()
        elif command & P.RESP:
            with self._lock:
                self.responses.append(pdu.name)
                self._changed.notify_all()
            if command == P.UNBIND | P.RESP:
                session.bound = None
        else:
            session.send(P.Pdu(P.GENERIC_NACK, pdu.sequence, P.ESME_RINVCMDID))

    def _bind(self, session: _Session, pdu: P.Pdu) -> None:
        status = P.ESME_ROK
        if session.bound:
            status = P.ESME_RALYBND
        elif pdu.params.get("system_id") != self.system_id:
            status = P.ESME_RINVSYSID
        elif pdu.params.get("password") != self.password:
            status = P.ESME_RINVPASWD
        if status == P.ESME_ROK:   # bound before the client hears so (it may act at once)
            session.bound = P.NAMES[pdu.command_id]
            session.system_id = pdu.params["system_id"]
        session.send(P.Pdu(pdu.command_id | P.RESP, pdu.sequence, status,
                           params={"system_id": "dfsmsc"},
                           tlvs={P.TLV_SC_INTERFACE_VERSION: bytes((P.INTERFACE_VERSION,))}))
        if status != P.ESME_ROK:
            return
        with self._lock:
            self.binds += 1
            pending, self._pending = self._pending, []
            self._changed.notify_all()
        for deliver in pending:
            self._deliver(deliver)

    def _submit(self, session: _Session, pdu: P.Pdu) -> None:
        if session.bound not in ("bind_transceiver", "bind_transmitter"):
            session.send(P.Pdu(P.SUBMIT_SM | P.RESP, pdu.sequence, P.ESME_RINVBNDSTS))
            return
        with self._lock:
            throttled = self._throttle > 0 and self._throttle_after == 0
            self._throttle -= throttled
            self._throttle_after -= self._throttle_after > 0
        if throttled:
            session.send(P.Pdu(P.SUBMIT_SM | P.RESP, pdu.sequence, P.ESME_RTHROTTLED))
            return
        to = pdu.params.get("destination_addr", "")
        if not to.isdigit():
            session.send(P.Pdu(P.SUBMIT_SM | P.RESP, pdu.sequence, P.ESME_RINVDSTADR))
            return
        data, concat = pdu.params.get("short_message", b""), None
        if pdu.params.get("esm_class", 0) & P.ESM_UDHI:
            concat, data = P.split_udh(data)
        message_id = "%08X" % next(self._ids)
        text = P.decode_text(data, pdu.params.get("data_coding", 0))
        submitted = dt.datetime.now(dt.timezone.utc).strftime("%y%m%d%H%M")
        with self._lock:
            self.submitted.append({"message_id": message_id, "to": to, "text": text,
                                   "concat": concat, "data_coding": pdu.params.get("data_coding"),
                                   "esm_class": pdu.params.get("esm_class", 0),
                                   "registered_delivery": pdu.params.get("registered_delivery")})
            self._changed.notify_all()
        session.send(P.Pdu(P.SUBMIT_SM | P.RESP, pdu.sequence,
                           params={"message_id": message_id}))
        if pdu.params.get("registered_delivery", 0) & 0x03:
            stat, _, err = self.undeliverable.get(to, "DELIVRD 000").partition(" ")
            receipt = P.receipt_text(message_id, stat, err, submitted, submitted, text)
            state = {v: k for k, v in P.MESSAGE_STATES.items()}[stat]
            self._later(self.receipt_delay_s, P.Pdu(P.DELIVER_SM, 0, params=dict(
                source_addr_ton=1, source_addr_npi=1, source_addr=to, dest_addr_ton=0,
                destination_addr=pdu.params.get("source_addr", ""), esm_class=P.ESM_RECEIPT,
                data_coding=0, short_message=receipt.encode("ascii", "replace")), tlvs={
                P.TLV_RECEIPTED_MESSAGE_ID: message_id.encode() + b"\0",
                P.TLV_MESSAGE_STATE: bytes((state,))}))
        if self.auto_reply is not None and (concat is None or concat[2] == concat[1]):
            answer = self.auto_reply(to, text)
            if answer:
                timer = threading.Timer(self.reply_delay_s, self.reply, args=("+" + to, answer))
                timer.daemon = True
                timer.start()

    def _later(self, delay: float, pdu: P.Pdu) -> None:
        timer = threading.Timer(delay, self._deliver, args=(pdu,))
        timer.daemon = True
        timer.start()

    def _deliver(self, pdu: P.Pdu) -> None:
        """Send a deliver_sm to a bound session that receives, else keep it for the next bind."""
        with self._lock:
            receivers = [s for s in self._sessions if s.bound in ("bind_transceiver",
                                                                  "bind_receiver")]
            if not receivers:
                self._pending.append(pdu)
                return
            pdu.sequence = next(self._sequence)
        try:
            receivers[0].send(pdu)
        except OSError:
            with self._lock:
                self._pending.append(pdu)
