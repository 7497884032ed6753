#!/usr/bin/env python3
"""EAGI forwarder: the early media of the channel it runs on, to the early-media server.

    exten => s,n,EAGI(/usr/local/lib/dialfunnel/early_media_eagi.py,127.0.0.1:4574)

Asterisk runs this once per call (context dialfunnel-early-media, reached by an Originate with
EarlyMedia: true). AGI speaks on stdin/stdout; EAGI adds the channel's audio (signed linear,
8 kHz) on file descriptor 3, before any answer. The audio goes on to the server in AudioSocket
framing with the channel's uniqueid (= the dialer's ChannelId) until the server ends it (it
heard an announcement and the dialer hangs the call up: HEARD; a server that closes without
that: LOST), the channel is answered (AGI CHANNEL STATUS 6: ANSWERED, the dialplan goes on to
dialfunnel-outbound) or hangs up (HANGUP). Standard library only:
it starts fast and needs none of the project's packages on the Asterisk box.
"""
import os
import select
import socket
import struct
import sys
import uuid

AUDIO_FD = 3
CHUNK = 320                  # 20 ms
STATUS_EVERY = 10            # chunks between two CHANNEL STATUS checks
UP = 6


def agi_env(stdin) -> dict:
    env = {}
    for line in iter(stdin.readline, ""):
        line = line.strip()
        if not line:
            break
        key, _, value = line.partition(":")
        env[key.strip()] = value.strip()
    return env


def command(stdin, stdout, text: str) -> str:
    stdout.write(text + "\n")
    stdout.flush()
    return stdin.readline().strip()


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def ident(uniqueid: str) -> bytes:
    try:
        return uuid.UUID(uniqueid).bytes
    except ValueError:
        return uniqueid.encode("utf-8")


def forward(address: str, uniqueid: str, audio_fd: int, stdin, stdout) -> str:
    """HEARD (the listener's end frame), LOST (it closed or reset the connection: the call
    rings on), HANGUP or ANSWERED."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        try:
            return _stream(sock, uniqueid, audio_fd, stdin, stdout)
        except (ConnectionResetError, BrokenPipeError):
            return "LOST"        # a listener that closes with audio unread resets the connection


def _stream(sock, uniqueid: str, audio_fd: int, stdin, stdout) -> str:
    sock.sendall(frame(0x01, ident(uniqueid)))
    chunks = 0
    while True:
        ready, _, _ = select.select([audio_fd, sock], [], [], 1.0)
        if sock in ready:                # 0x00: heard, the dialer hangs up; EOF: gone
            return "HEARD" if sock.recv(3)[:1] == b"\x00" else "LOST"
        if audio_fd in ready:
            data = os.read(audio_fd, CHUNK)
            if not data:
                return "HANGUP"
            sock.sendall(frame(0x10, data))
            chunks += 1
        if not ready or chunks % STATUS_EVERY == 0:
            status = command(stdin, stdout, "CHANNEL STATUS")
            if "result=-1" in status or not status:
                return "HANGUP"
            if f"result={UP}" in status:
                sock.sendall(frame(0x00))
                return "ANSWERED"


def main() -> int:
    env = agi_env(sys.stdin)
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:4574"
    try:
        result = forward(address, env.get("agi_uniqueid", ""), AUDIO_FD, sys.stdin, sys.stdout)
    except OSError as exc:
        command(sys.stdin, sys.stdout, f'VERBOSE "early media: {exc}" 1')
        result = "ERROR"
    command(sys.stdin, sys.stdout, f"SET VARIABLE DIALFUNNEL_EARLY_MEDIA {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
