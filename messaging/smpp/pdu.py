"""SMPP 3.4 PDUs as the specification lays them out: a 16-octet header (command_length,
command_id, command_status, sequence_number, big-endian) and a body of C-octet strings,
integers and TLVs. Only the operations dialfunnel uses."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from models.sms.segments import GSM_BASIC, GSM_EXTENDED

GENERIC_NACK = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x00000001, 0x00000002, 0x00000009
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x00000004, 0x00000005, 0x00000006, 0x00000015
RESP = 0x80000000

NAMES = {BIND_RECEIVER: "bind_receiver", BIND_TRANSMITTER: "bind_transmitter",
         BIND_TRANSCEIVER: "bind_transceiver", SUBMIT_SM: "submit_sm", DELIVER_SM: "deliver_sm",
         UNBIND: "unbind", ENQUIRE_LINK: "enquire_link", GENERIC_NACK: "generic_nack"}

# command_status values (SMPP 3.4 §5.1.3)
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RSUBMITFAIL = 0x45
ESME_RTHROTTLED = 0x58
STATUS_NAMES = {v: k for k, v in globals().items() if k.startswith("ESME_R")}
TEMPORARY = {ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RSYSERR}

ESM_UDHI = 0x40            # esm_class: the short message starts with a user data header
ESM_RECEIPT = 0x04         # esm_class bits 2-5: SMSC delivery receipt
DC_DEFAULT, DC_UCS2 = 0x00, 0x08
TLV_RECEIPTED_MESSAGE_ID, TLV_MESSAGE_STATE = 0x001E, 0x0427
TLV_SC_INTERFACE_VERSION = 0x0210
INTERFACE_VERSION = 0x34
MAX_PDU = 64 * 1024

# the receipt's message_state TLV (§5.3.2.35)
MESSAGE_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
                  6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}


class PduError(ValueError):
    """A PDU that does not follow the specification."""


@dataclass
class Pdu:
    command_id: int
    sequence: int
    status: int = ESME_ROK
    params: dict = field(default_factory=dict)
    tlvs: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        base = NAMES.get(self.command_id & ~RESP, hex(self.command_id))
        return base + "_resp" if self.command_id & RESP and self.command_id != GENERIC_NACK else base


# body layouts: (name, kind) with kind "c<max>" a C-octet string of at most max octets with
# its NUL, "i1" one octet, "sm" the short message after its sm_length octet
_BIND = (("system_id", "c16"), ("password", "c9"), ("system_type", "c13"),
         ("interface_version", "i1"), ("addr_ton", "i1"), ("addr_npi", "i1"),
         ("address_range", "c41"))
_SM = (("service_type", "c6"), ("source_addr_ton", "i1"), ("source_addr_npi", "i1"),
       ("source_addr", "c21"), ("dest_addr_ton", "i1"), ("dest_addr_npi", "i1"),
       ("destination_addr", "c21"), ("esm_class", "i1"), ("protocol_id", "i1"),
       ("priority_flag", "i1"), ("schedule_delivery_time", "c17"), ("validity_period", "c17"),
       ("registered_delivery", "i1"), ("replace_if_present_flag", "i1"), ("data_coding", "i1"),
       ("sm_default_msg_id", "i1"), ("short_message", "sm"))
LAYOUTS = {BIND_RECEIVER: _BIND, BIND_TRANSMITTER: _BIND, BIND_TRANSCEIVER: _BIND,
           SUBMIT_SM: _SM, DELIVER_SM: _SM}
for _bind in (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER):
    LAYOUTS[_bind | RESP] = (("system_id", "c16"),)
LAYOUTS[SUBMIT_SM | RESP] = (("message_id", "c65"),)
LAYOUTS[DELIVER_SM | RESP] = (("message_id", "c65"),)


def encode(pdu: Pdu) -> bytes:
    body = bytearray()
    layout = LAYOUTS.get(pdu.command_id, ())
    # a refused response carries no body (§3.3: "the body ... is not returned")
    if not (pdu.command_id & RESP and pdu.status != ESME_ROK):
        for name, kind in layout:
            value = pdu.params.get(name)
            if kind == "i1":
                body.append(int(value or 0) & 0xFF)
            elif kind == "sm":
                data = bytes(value or b"")
                if len(data) > 254:
                    raise PduError("short_message longer than 254 octets")
                body.append(len(data))
                body += data
            else:
                data = str(value or "").encode("ascii")
                if len(data) >= int(kind[1:]):
                    raise PduError(f"{name} longer than {int(kind[1:]) - 1} octets")
                body += data + b"\0"
        for tag, value in pdu.tlvs.items():
            body += struct.pack(">HH", tag, len(value)) + value
    return struct.pack(">IIII", 16 + len(body), pdu.command_id, pdu.status, pdu.sequence) + body


def decode(data: bytes) -> Pdu:
    """One whole PDU (its 16-octet header included)."""
    if len(data) < 16:
        raise PduError("a PDU is at least 16 octets")
    length, command_id, status, sequence = struct.unpack(">IIII", data[:16])
    if length != len(data):
        raise PduError("command_length does not match the PDU")
    pdu = Pdu(command_id, sequence, status)
    pos = 16
    for name, kind in LAYOUTS.get(command_id, ()):
        if pos >= len(data):
            break          # a refused response, or optional trailing fields left out
        if kind == "i1":
            pdu.params[name] = data[pos]
            pos += 1
        elif kind == "sm":
            size = data[pos]
            pdu.params[name] = bytes(data[pos + 1:pos + 1 + size])
            pos += 1 + size
        else:
            end = data.find(b"\0", pos)
            if end < 0 or end - pos >= int(kind[1:]):
                raise PduError(f"{name} is not a C-octet string of at most {int(kind[1:])} octets")
            pdu.params[name] = data[pos:end].decode("ascii", "replace")
            pos = end + 1
    while pos + 4 <= len(data):
        tag, size = struct.unpack(">HH", data[pos:pos + 4])
        pdu.tlvs[tag] = bytes(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return pdu


def read_pdu(sock) -> Pdu | None:
    """The next PDU from a socket; None when the peer closed it."""
    header = _read(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    if not 16 <= length <= MAX_PDU:
        raise PduError(f"bad command_length {length}")
    rest = _read(sock, length - 4)
    if rest is None:
        return None
    return decode(header + rest)


def _read(sock, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---- the text of a short message ----------------------------------------------------------

_GSM_CODE = {ch: i for i, ch in enumerate(GSM_BASIC) if ch != "\x1b"}
_GSM_EXT_CODE = dict(zip(GSM_EXTENDED, (0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65,
                                        0x0A)))
_GSM_EXT_CHAR = {code: ch for ch, code in _GSM_EXT_CODE.items()}


def encode_text(text: str, encoding: str) -> tuple[int, bytes]:
    """(data_coding, octets): UCS-2 as UTF-16BE; GSM-7 one septet an octet (unpacked)."""
    if encoding == "ucs2":
        return DC_UCS2, text.encode("utf-16-be")
    out = bytearray()
    for ch in text:
        if ch in _GSM_EXT_CODE:
            out += bytes((0x1B, _GSM_EXT_CODE[ch]))
        else:
            out.append(_GSM_CODE[ch])
    return DC_DEFAULT, bytes(out)


def decode_text(data: bytes, data_coding: int) -> str:
    if data_coding == DC_UCS2:
        return data.decode("utf-16-be", "replace")
    if data_coding in (0x01, 0x03):      # IA5 / Latin-1
        return data.decode("latin-1")
    out, escape = [], False
    for octet in data:
        if escape:
            out.append(_GSM_EXT_CHAR.get(octet, " "))
            escape = False
        elif octet == 0x1B:
            escape = True
        elif octet < 128:
            out.append(GSM_BASIC[octet])
    return "".join(out)


def udh_concat(reference: int, total: int, number: int) -> bytes:
    """The 8-bit reference concatenation header (IEI 0x00)."""
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, number))


def split_udh(data: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """((reference, total, number) or None, the text's octets) of a message with UDHI set."""
    if not data:
        return None, data
    size = data[0]
    header, body = data[1:1 + size], data[1 + size:]
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2:pos + 2 + length]
        if iei == 0x00 and length == 3:
            return (value[0], value[1], value[2]), body
        if iei == 0x08 and length == 4:
            return ((value[0] << 8) | value[1], value[2], value[3]), body
        pos += 2 + length
    return None, body


def parse_receipt(text: str) -> dict:
    """The fields of a delivery receipt's text (SMPP 3.4 Appendix B): id, sub, dlvrd,
    submit date, done date, stat, err, text."""
    fields, rest = {}, text
    for key in ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err"):
        marker = key + ":"
        start = rest.lower().find(marker)
        if start < 0:
            continue
        value_start = start + len(marker)
        end = rest.find(" ", value_start)
        fields[key] = rest[value_start:end if end >= 0 else len(rest)]
    lower = text.lower()
    if "text:" in lower:
        fields["text"] = text[lower.index("text:") + 5:]
    return fields


def receipt_text(message_id: str, stat: str, err: str, submitted: str, done: str,
                 text: str = "") -> str:
    return (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{submitted} done date:{done} stat:{stat} err:{err} text:{text[:20]}")
