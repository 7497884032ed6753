"""AMI wire format: one message model and one incremental parser, shared by the client
(agi.ami.client) and the PBX simulator (agi.pbxsim.ami_server).

What Asterisk 22 sends (see tests/fixtures/asterisk/ami-login.txt):
  * on connect, the banner line ``Asterisk Call Manager/11.0.0\\r\\n`` with NO empty line after it;
  * then messages: ``Key: Value\\r\\n`` lines, ended by an empty line ``\\r\\n``;
  * an empty value keeps the space after the colon (``AccountCode: \\r\\n``);
  * header order is significant for byte-exact replay, so a message keeps its headers as an
    ordered list and may repeat a key (``Variable:`` lines of Originate).
"""
from __future__ import annotations

from typing import Iterable, Iterator

EOL = b"\r\n"


class Message:
    """One AMI message (action, response or event): ordered (key, value) headers."""

    __slots__ = ("headers",)

    def __init__(self, headers: Iterable[tuple[str, str]] = ()):
        self.headers: list[tuple[str, str]] = [(str(k), "" if v is None else str(v)) for k, v in headers]

    @classmethod
    def parsed(cls, headers: list[tuple[str, str]]) -> "Message":
        """A message of headers the parser made (already strings): taken as they are."""
        msg = cls.__new__(cls)
        msg.headers = headers
        return msg

    # --- lookup (case-insensitive, like Asterisk's astman_get_header) -----------------
    def get(self, key: str, default: str | None = None) -> str | None:
        low, size = key.lower(), len(key)
        for k, v in self.headers:
            if len(k) == size and k.lower() == low:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        low = key.lower()
        return [v for k, v in self.headers if k.lower() == low]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def as_dict(self) -> dict[str, str]:
        """First value of each key (later repeats are dropped)."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        return out

    # --- kind ------------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        """The event name (``Event:``), or None for a response/action."""
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action(self) -> str | None:
        return self.get("Action")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def is_event(self) -> bool:
        return self.name is not None

    @property
    def is_response(self) -> bool:
        return self.response is not None

    # --- wire --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        return encode(self.headers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.headers == self.headers

    def __repr__(self) -> str:
        head = ", ".join(f"{k}: {v}" for k, v in self.headers[:3])
        return f"<Message {head}{', ...' if len(self.headers) > 3 else ''}>"


def encode(headers: Iterable[tuple[str, str]]) -> bytes:
    """``Key: Value\\r\\n`` per header, then the empty line. Values must not contain CR/LF."""
    out = bytearray()
    for key, value in headers:
        value = "" if value is None else str(value)
        if "\r" in value or "\n" in value or "\r" in key or "\n" in key:
            raise ValueError(f"AMI header {key!r} must not contain a line break")
        out += f"{key}: {value}".encode("utf-8") + EOL
    out += EOL
    return bytes(out)


def parse_line(line: str) -> tuple[str, str]:
    key, sep, value = line.partition(":")
    if not sep:
        return line, ""
    # Asterisk writes "Key: Value"; strip exactly the one space it adds.
    return key, value[1:] if value.startswith(" ") else value


class Parser:
    """Incremental parser: feed() bytes, get complete Messages back.

    ``expect_banner`` (client side): the first line is the banner, stored in ``.banner``.
    Lines end in ``\\r\\n``; a bare ``\\n`` is tolerated. Empty lines between messages are skipped.
    """

    def __init__(self, expect_banner: bool = False):
        self.expect_banner = expect_banner
        self.banner: str | None = None
        self._buf = b""
        self._lines: list[tuple[str, str]] = []

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf + data if self._buf else data
        end = buf.rfind(b"\n")
        if end < 0:
            self._buf = buf
            return []
        # UTF-8 never puts a newline byte inside a character: the complete lines decode at once.
        lines = buf[:end].decode("utf-8", "replace").split("\n")
        self._buf = buf[end + 1:]
        out: list[Message] = []
        headers = self._lines
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if self.expect_banner and self.banner is None:
                self.banner = line
                continue
            if not line:
                if headers:
                    out.append(Message.parsed(headers))
                    headers = []
                continue
            key, sep, value = line.partition(":")
            if not sep:
                headers.append((line, ""))
            else:   # Asterisk writes "Key: Value"; strip exactly the one space it adds.
                headers.append((key, value[1:] if value.startswith(" ") else value))
        self._lines = headers
        return out

    @property
    def pending_bytes(self) -> int:
        return len(self._buf) + sum(len(k) + len(v) for k, v in self._lines)


def iter_messages(data: bytes, expect_banner: bool = False) -> Iterator[Message]:
    """Parse a complete byte string (tests, transcripts)."""
    yield from Parser(expect_banner).feed(data)
