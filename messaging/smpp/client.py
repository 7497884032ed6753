"""An SMPP 3.4 transceiver (ESME): binds as transceiver, submits messages (long ones as
concatenated parts with a UDH, Chinese as UCS-2, data_coding 8), takes deliver_sm (delivery
receipts and replies), keeps the link alive with enquire_link and binds again after the link
drops. A throttled submit (ESME_RTHROTTLED) is retried after a pause; the first part's is
handed back to the sender (GatewayError retry=True) to try later."""
from __future__ import annotations

import itertools
import logging
import random
import socket
import threading
import time

from messaging.gateway import Gateway, GatewayError, Receipt, Reply
from messaging.smpp import pdu as P
from models.clock import SYSTEM_CLOCK
from models.sms.segments import split

log = logging.getLogger(__name__)
INTERMEDIATE = ("ENROUTE", "ACCEPTD")


class _Link:
    """One bound TCP connection: requests wait for their response by sequence number."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.send_lock = threading.Lock()
        self.pending: dict[int, list] = {}     # sequence -> [event, response]
        self.closed = threading.Event()
        self.last_seen = time.monotonic()

    def send(self, pdu: P.Pdu) -> None:
        data = P.encode(pdu)
        with self.send_lock:
            self.sock.sendall(data)

    def request(self, pdu: P.Pdu, timeout: float) -> P.Pdu | None:
        slot = [threading.Event(), None]
        self.pending[pdu.sequence] = slot
        try:
            self.send(pdu)
            slot[0].wait(timeout)
        except OSError:
            self.close()
        finally:
            self.pending.pop(pdu.sequence, None)
        return slot[1]

    def answered(self, pdu: P.Pdu) -> bool:
        slot = self.pending.get(pdu.sequence)
        if slot is None:
            return False
        slot[1] = pdu
        slot[0].set()
        return True

    def close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            for slot in list(self.pending.values()):
                slot[0].set()


class SmppClient(Gateway):
    name = "smpp"

    def __init__(self, host: str, port: int, system_id: str, password: str, *,
                 system_type: str = "", source_addr: str = "", enquire_link_s: float = 30.0,
                 timeout: float = 10.0, reconnect_s: float = 2.0, throttle_retries: int = 3,
                 throttle_wait_s: float = 1.0, clock=SYSTEM_CLOCK):
        self.host, self.port = host, port
        self.system_id, self.password, self.system_type = system_id, password, system_type
        self.source_addr = source_addr
        self.enquire_link_s, self.timeout, self.reconnect_s = enquire_link_s, timeout, reconnect_s
        self.throttle_retries, self.throttle_wait_s = throttle_retries, throttle_wait_s
        self.clock = clock
        self._sequence = itertools.count(1)
        self._link: _Link | None = None
        self._link_lock = threading.Lock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._on_receipt = self._on_reply = None
        self._parts: dict[tuple, dict[int, str]] = {}   # a long reply's parts so far
        self._reference = random.randrange(256)
        self.binds = 0

    # ---- the link ------------------------------------------------------------------------

    def _next(self) -> int:
        return next(self._sequence) % 0x7FFFFFFF or next(self._sequence)

    def _bind(self) -> _Link:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.settimeout(None)
        link = _Link(sock)
        threading.Thread(target=self._read, args=(link,), daemon=True,
                         name="smpp-reader").start()
        resp = link.request(P.Pdu(P.BIND_TRANSCEIVER, self._next(), params=dict(
            system_id=self.system_id, password=self.password, system_type=self.system_type,
            interface_version=P.INTERFACE_VERSION)), self.timeout)
        if resp is None or resp.status != P.ESME_ROK:
            link.close()
            why = "no response" if resp is None else P.STATUS_NAMES.get(resp.status,
                                                                         hex(resp.status))
            raise GatewayError(f"SMPP bind refused: {why}", retry=True)
        self.binds += 1
        log.info("SMPP bound to %s:%s as %s", self.host, self.port, self.system_id)
        return link

    def _bound(self) -> _Link:
        with self._link_lock:
            if self._link is None or self._link.closed.is_set():
                try:
                    self._link = self._bind()
                except OSError as exc:
                    raise GatewayError(f"SMPP connection failed: {exc}", retry=True) from None
            return self._link

    def start(self, on_receipt, on_reply) -> None:
        self._on_receipt, self._on_reply = on_receipt, on_reply
        try:
            self._bound()
        except GatewayError as exc:
            log.warning("%s; binding again in %ss", exc, self.reconnect_s)
        self._keeper = threading.Thread(target=self._keep, daemon=True, name="smpp-keeper")
        self._keeper.start()

    def _keep(self) -> None:
        """Bind again after a drop; enquire_link when the link has been quiet."""
        while not self._stop.wait(min(self.reconnect_s, self.enquire_link_s) / 2):
            link = self._link
            if link is None or link.closed.is_set():
                try:
                    self._bound()
                except GatewayError as exc:
                    log.warning("%s", exc)
                    self._stop.wait(self.reconnect_s)
                continue
            if time.monotonic() - link.last_seen >= self.enquire_link_s:
                resp = link.request(P.Pdu(P.ENQUIRE_LINK, self._next()), self.timeout)
                if resp is None:
                    log.warning("SMPP enquire_link unanswered: closing the link")
                    link.close()

    def close(self) -> None:
        self._stop.set()
        link = self._link
        if link is not None and not link.closed.is_set():
            link.request(P.Pdu(P.UNBIND, self._next()), min(self.timeout, 2.0))
            link.close()
        if self._keeper is not None:
            self._keeper.join(5)

    # ---- what the SMSC sends ---------------------------------------------------------------

    def _read(self, link: _Link) -> None:
        try:
            while not link.closed.is_set():
                pdu = P.read_pdu(link.sock)
                if pdu is None:
                    break
                link.last_seen = time.monotonic()
                if pdu.command_id & P.RESP:
                    link.answered(pdu)
                elif pdu.command_id == P.DELIVER_SM:
                    status = self._delivered(pdu)
                    link.send(P.Pdu(P.DELIVER_SM | P.RESP, pdu.sequence, status,
                                    params={"message_id": ""}))
                elif pdu.command_id == P.ENQUIRE_LINK:
                    link.send(P.Pdu(P.ENQUIRE_LINK | P.RESP, pdu.sequence))
                elif pdu.command_id == P.UNBIND:
                    link.send(P.Pdu(P.UNBIND | P.RESP, pdu.sequence))
                    break
                else:
                    link.send(P.Pdu(P.GENERIC_NACK, pdu.sequence, P.ESME_RINVCMDID))
        except (OSError, P.PduError) as exc:
            if not link.closed.is_set():
                log.warning("SMPP link lost: %s", exc)
        finally:
            link.close()

    def _delivered(self, pdu: P.Pdu) -> int:
        """Hand a receipt or a reply on; an error status makes the SMSC deliver it again."""
        try:
            if pdu.params.get("esm_class", 0) & 0x3C == P.ESM_RECEIPT:
                receipt = self._receipt(pdu)
                if receipt is not None and self._on_receipt is not None:
                    self._on_receipt(receipt)
            else:
                reply = self._reply(pdu)
                if reply is not None and self._on_reply is not None:
                    self._on_reply(reply)
            return P.ESME_ROK
        except Exception:   # the handler's database write: the SMSC retries the deliver_sm
            log.exception("SMPP deliver_sm not stored")
            return P.ESME_RSYSERR

    def _receipt(self, pdu: P.Pdu) -> Receipt | None:
        text = P.decode_text(pdu.params.get("short_message", b""), pdu.params.get("data_coding", 0))
        fields = P.parse_receipt(text)
        message_id = pdu.tlvs.get(P.TLV_RECEIPTED_MESSAGE_ID, b"").rstrip(b"\0").decode(
            "ascii", "replace") or fields.get("id", "")
        state = pdu.tlvs.get(P.TLV_MESSAGE_STATE)
        stat = P.MESSAGE_STATES.get(state[0], "UNKNOWN") if state else fields.get("stat",
                                                                                  "UNKNOWN")
        if stat in INTERMEDIATE or not message_id:
            return None
        if stat == "DELIVRD":
            return Receipt(message_id, "delivered", None, self.clock.now())
        return Receipt(message_id, "failed", f"{stat} err:{fields.get('err', '')}",
                       self.clock.now())

    def _reply(self, pdu: P.Pdu) -> Reply | None:
        data = pdu.params.get("short_message", b"")
        coding = pdu.params.get("data_coding", 0)
        source = pdu.params.get("source_addr", "")
        concat = None
        if pdu.params.get("esm_class", 0) & P.ESM_UDHI:
            concat, data = P.split_udh(data)
        text = P.decode_text(data, coding)
        if concat is not None and concat[1] > 1:
            reference, total, number = concat
            parts = self._parts.setdefault((source, reference), {})
            parts[number] = text
            if len(parts) < total:
                return None
            del self._parts[(source, reference)]
            text = "".join(parts[i] for i in sorted(parts))
        # addresses as the SMSC gives them: record_reply reads them as E.164 numbers
        return Reply(source, pdu.params.get("destination_addr", ""), text, self.clock.now())

    # ---- submitting ----------------------------------------------------------------------

    def submit(self, to_e164: str, text: str, *, template_code=None, params=None) -> list[str]:
        encoding, parts = split(text)
        self._reference = (self._reference + 1) % 256
        ids = []
        for number, part in enumerate(parts, 1):
            coding, octets = P.encode_text(part, encoding)
            esm = 0
            if len(parts) > 1:
                octets = P.udh_concat(self._reference, len(parts), number) + octets
                esm = P.ESM_UDHI
            ids.append(self._submit_part(P.Pdu(P.SUBMIT_SM, 0, params=dict(
                source_addr_ton=5 if self.source_addr and not self.source_addr.isdigit() else 0,
                source_addr=self.source_addr, dest_addr_ton=1, dest_addr_npi=1,
                destination_addr=to_e164.lstrip("+"), esm_class=esm, registered_delivery=1,
                data_coding=coding, short_message=octets)), first=number == 1))
        return ids

    def _submit_part(self, pdu: P.Pdu, *, first: bool) -> str:
        for attempt in itertools.count():
            link = self._bound()
            pdu.sequence = self._next()
            resp = link.request(pdu, self.timeout)
            if resp is None:
                link.close()
                raise GatewayError("SMPP: no submit_sm_resp (link lost)", retry=True)
            if resp.status == P.ESME_ROK:
                return resp.params.get("message_id", "")
            name = P.STATUS_NAMES.get(resp.status, hex(resp.status))
            if resp.status in P.TEMPORARY:
                if first or attempt >= self.throttle_retries:
                    raise GatewayError(name, retry=True)
                time.sleep(self.throttle_wait_s * (attempt + 1))
                continue
            raise GatewayError(name)
        raise AssertionError("unreachable")

