"""Where recorded audio lives, and the only code that turns a name into a file.

Layout under the recordings folder (``root``)::

    root/2026/11/26/1795713036.34.mp3     compressed recordings; the key is the relative path
    incoming/                            MixMonitor's WAVs (Asterisk's monitor folder, shared
                                         with this host, or any folder the dialplan writes to)

Safety: a key is never joined onto a path as it is. It must match ``KEY`` (date folders of
digits, then one file name of ``[A-Za-z0-9._-]`` that starts with a letter or digit and ends in
an audio extension), so ``..``, absolute paths, backslashes, ``%2e%2e`` and NUL bytes are refused
before the disk is touched. Opening then walks the key one component at a time from a handle
on the root with ``O_NOFOLLOW`` (``openat``), so a symlink anywhere below the root (planted, or
swapped in between a check and the open) is refused too, and the result must be a regular file.
Names that come from Asterisk (``MIXMONITOR_FILENAME`` is a path on the PBX) are reduced to their
last component and looked up in the incoming folder the same way.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import os
import re
import stat
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

AUDIO_FORMATS = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg", "wav": "audio/wav"}
KEY = re.compile(r"^[0-9]{4}/[0-9]{2}/[0-9]{2}/[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(?:mp3|ogg|opus|wav)$")
INCOMING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.(?:wav|WAV)$")
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafePath(ValueError):
    """A key or name that could leave its folder (or is not one of ours)."""


def shown(name, limit: int = 80) -> str:
    """A name from outside (a file name Asterisk or an attacker sent) fit for one log line:
    repr'd, at most ``limit`` characters of it, with its full length when cut."""
    text = str(name)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def mimetype(fmt: str) -> str:
    return AUDIO_FORMATS.get(fmt, "application/octet-stream")


def safe_stem(text: str) -> str:
    """A file-name stem from an Asterisk uniqueid ("1795713036.34", a UUID, ...)."""
    stem = _SAFE_CHARS.sub("_", text or "").strip("._-")
    if not stem:
        raise UnsafePath("empty name")
    return stem[:100]


def check_key(key: str) -> list[str]:
    """The key's components, or UnsafePath."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise UnsafePath(f"not a recording key: {key!r}")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):  # KEY already excludes them; belt and braces
        raise UnsafePath(f"not a recording key: {key!r}")
    return parts


def incoming_name(path_on_pbx: str) -> str:
    """The file name of a MixMonitor path as Asterisk reports it (a path on the PBX)."""
    if not path_on_pbx or "\x00" in path_on_pbx or "\\" in path_on_pbx:
        raise UnsafePath(f"bad recording name {path_on_pbx!r}")
    name = PurePosixPath(path_on_pbx).name
    if not INCOMING_NAME.fullmatch(name):
        raise UnsafePath(f"bad recording name {path_on_pbx!r}")
    return name


def _open_under(root: Path, parts: list[str], flags: int = os.O_RDONLY, mode: int = 0o640) -> int:
    """openat() walk from ``root``: every component with O_NOFOLLOW; returns the file's fd."""
    dir_fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(f"{part!r} is not a plain folder") from None
                raise
            os.close(dir_fd)
            dir_fd = nxt
        try:
            fd = os.open(parts[-1], flags | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePath(f"{parts[-1]!r} is a symlink") from None
            raise
    finally:
        os.close(dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePath(f"{parts[-1]!r} is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


class RecordingStore:
    def __init__(self, root: str | os.PathLike, incoming: str | os.PathLike | None = None):
        self.root = Path(root).resolve()
        self.incoming = Path(incoming).resolve() if incoming else self.root / "incoming"

    def ensure(self) -> "RecordingStore":
        self.root.mkdir(parents=True, exist_ok=True)
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self

    # --- keys -------------------------------------------------------------------------------
    @staticmethod
    def key_for(uniqueid: str, fmt: str, when: dt.datetime) -> str:
        if fmt not in AUDIO_FORMATS:
            raise UnsafePath(f"unknown audio format {fmt!r}")
        key = f"{when:%Y/%m/%d}/{safe_stem(uniqueid)}.{fmt}"
        check_key(key)
        return key

    def path(self, key: str) -> Path:
        """Where a key lives (for writing our own keys; reading goes through open())."""
        return self.root.joinpath(*check_key(key))

    # --- reading ------------------------------------------------------------------------------
    def open(self, key: str) -> BinaryIO:
        """The recording's file, opened for reading. UnsafePath for a hostile key or a symlink,
        FileNotFoundError when the audio is gone."""
        return os.fdopen(_open_under(self.root, check_key(key)), "rb")

    def exists(self, key: str) -> bool:
        try:
            with self.open(key):
                return True
        except (FileNotFoundError, NotADirectoryError):
            return False

    def open_incoming(self, path_on_pbx: str) -> BinaryIO:
        """MixMonitor's WAV by the name Asterisk reported (only its last component is used)."""
        return os.fdopen(_open_under(self.incoming, [incoming_name(path_on_pbx)]), "rb")

    def remove_incoming(self, path_on_pbx: str) -> bool:
        return self._unlink(self.incoming, [incoming_name(path_on_pbx)])

    # --- writing ------------------------------------------------------------------------------
    def temp_for(self, key: str) -> Path:
        """A temporary file beside the key's final place (same file system: atomic rename)."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        real_parent = target.parent.resolve()
        if real_parent != self.root and self.root not in real_parent.parents:
            raise UnsafePath(f"{key!r} leaves the recordings folder")
        fd, name = tempfile.mkstemp(prefix=".tmp-", suffix="." + target.suffix.lstrip("."),
                                    dir=real_parent)
        os.close(fd)
        return Path(name)

    def commit(self, temp: Path, key: str) -> int:
        """Move a finished temp file into place; returns its size."""
        target = self.path(key)
        if target.parent.resolve() != temp.parent:
            raise UnsafePath("temp file not beside its target")
        os.chmod(temp, 0o640)
        os.replace(temp, target)
        return target.stat().st_size

    def delete(self, key: str) -> bool:
        """Remove a recording's audio; False if it was already gone. Never follows symlinks
        (a symlink planted under the key is refused, not followed)."""
        return self._unlink(self.root, check_key(key))

    @staticmethod
    def _unlink(root: Path, parts: list[str]) -> bool:
        try:
            fd = _open_under(root, parts)  # refuses symlinks and non-files on the way
        except (FileNotFoundError, NotADirectoryError):
            return False
        os.close(fd)
        dir_fd = os.open(root, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            for part in parts[:-1]:
                nxt = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
                os.close(dir_fd)
                dir_fd = nxt
            try:
                os.unlink(parts[-1], dir_fd=dir_fd)
            except FileNotFoundError:
                return False
            return True
        finally:
            os.close(dir_fd)


def store_wav(store: RecordingStore, source: BinaryIO, uniqueid: str, when: dt.datetime, *,
              fmt: str = "mp3", bitrate: str | None = None):
    """Compress an open WAV into the store under the uniqueid's key. Returns (key, AudioInfo).
    Written to a temp file beside its place and renamed, so a reader never sees half a file."""
    from .audio import DEFAULT_BITRATE, compress
    key = store.key_for(uniqueid, fmt, when)
    temp = store.temp_for(key)
    try:
        info = compress(source, temp, fmt=fmt, bitrate=bitrate or DEFAULT_BITRATE)
        size = store.commit(temp, key)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return key, dataclasses.replace(info, size_bytes=size)
