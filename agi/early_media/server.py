"""The early-media listener: audio of unanswered dialer calls in, what the carrier said out.

    server = EarlyMediaServer(on_verdict, host="127.0.0.1", port=4574).start()
    ...
    server.stop()

Each connection carries one call in Asterisk's AudioSocket framing (res_audiosocket: a type
byte, a 16-bit big-endian length, the payload): 0x01 the call's id (16 bytes: a UUID, the
dialer's ChannelId; any other length: the id as UTF-8 text), 0x10 signed-linear 8 kHz mono
audio, 0x00 the end. The audio goes to recordings.early_media's Classifier as it arrives. On a
final verdict (an announcement, SIT, the busy tone) `on_verdict(call_id, verdict)` is called
(the dialer's hook: it hangs the call up and books the outcome) and the server sends 0x00 and
closes. When the sender ends first (the call was answered or hung up), `on_end(call_id,
verdict)` gets the live label (ringback, coloured, silence), if given. `on_audio(call_id,
bytes_so_far)`, if given, follows each audio frame classified without a verdict (a simulation on
a fake clock waits for the listener with it: bench/dialer_sim.py).

Who sends: agi/early_media/eagi.py, run by EAGI() in dialplan context dialfunnel-early-media
(dialplan/README.md says why), and the PBX simulator in tests.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading
import uuid

from recordings.early_media import references as default_references
from recordings.early_media.classifier import Classifier

KIND_END, KIND_ID, KIND_AUDIO, KIND_ERROR = 0x00, 0x01, 0x10, 0xFF
IDLE_SECONDS = 30.0         # a sender silent this long is dropped
MAX_SECONDS = 60.0          # the most audio classified for one call

log = logging.getLogger("agi.early_media")


class ProtocolError(ValueError):
    """A sender that does not speak AudioSocket."""


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    head = _read(sock, 3)
    kind, size = struct.unpack(">BH", head)
    return kind, _read(sock, size) if size else b""


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("the sender closed the connection")
        data += chunk
    return data


def call_id(payload: bytes) -> str:
    if len(payload) == 16:
        return str(uuid.UUID(bytes=payload))
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("the call id is neither a UUID nor UTF-8") from None


class EarlyMediaServer:
    def __init__(self, on_verdict, *, on_end=None, on_audio=None, host: str = "127.0.0.1",
                 port: int = 0, references=None, params=None):
        self.on_verdict, self.on_end, self.on_audio = on_verdict, on_end, on_audio
        self.references = list(references) if references is not None else \
            default_references.load()
        self.params = params
        Classifier(self.references, params)      # builds the shared reference set now
        self._listener = socket.create_server((host, port))
        self.address = self._listener.getsockname()[:2]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "EarlyMediaServer":
        thread = threading.Thread(target=self._accept, name="early-media", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)     # wakes the accept() (Linux)
        except OSError:
            pass
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                      name="early-media-call")
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(IDLE_SECONDS)
        ident = None
        classifier = Classifier(self.references, self.params)
        verdict = None
        try:
            kind, payload = read_frame(conn)
            if kind != KIND_ID:
                raise ProtocolError(f"the first frame must be the call id, not 0x{kind:02x}")
            ident = call_id(payload)
            fed = 0
            while verdict is None and classifier.heard_ms < MAX_SECONDS * 1000:
                kind, payload = read_frame(conn)
                if kind == KIND_AUDIO:
                    verdict = classifier.feed(payload)
                    fed += len(payload)
                    if verdict is None and self.on_audio is not None:
                        self.on_audio(ident, fed)
                elif kind in (KIND_END, KIND_ERROR):
                    break
            if verdict is not None:
                log.info("early media call=%s heard=%s after_ms=%d ber=%s ref=%s", ident,
                         verdict.label, verdict.decided_after_ms, verdict.ber, verdict.reference)
                self.on_verdict(ident, verdict)
                conn.sendall(frame(KIND_END))
        except (EOFError, ConnectionError, socket.timeout):
            pass
        except ProtocolError as exc:
            log.warning("early media call=%s: %s", ident, exc)
        except Exception:                       # a hook that failed must not kill the server
            log.exception("early media call=%s", ident)
        finally:
            conn.close()
        if verdict is None and ident is not None and self.on_end is not None:
            self.on_end(ident, classifier.finish())
