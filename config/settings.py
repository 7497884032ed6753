"""One settings module: defaults < optional TOML file (DIALFUNNEL_CONFIG) < environment.

Environment variables are the upper-case keys with a DIALFUNNEL_ prefix, e.g.
DIALFUNNEL_DATABASE_URL. Secrets belong in the file or the environment, never in git."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file in data_dir
    secret_key: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_server: str = "gunicorn"    # `dialfunnel web`: "gunicorn" (gevent workers) or "threaded" (werkzeug)
    web_workers: int = 2            # gunicorn worker processes (about one per CPU core)
    web_worker_connections: int = 1000  # open connections per worker, SSE streams included
    web_graceful_timeout: int = 5   # s a stopping worker lets pages finish before it cuts SSE streams
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_command_timeout: int = 10   # s for Asterisk's reply to an ordinary AGI command
    agi_media_timeout: int = 300    # s allowed for a prompt of unknown length (STREAM FILE...)
    agi_result_timeout: int = 14400  # s for EXEC Dial/Queue/ConfBridge... (a whole call)
    agi_peer_max_calls: int = 0     # FastAGI sessions per address and worker; 0: 7/8 of them
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "dialfunnel"
    ami_secret: str = ""
    log_level: str = "INFO"
    recordings_dir: str = ""        # empty: <data_dir>/recordings
    recordings_incoming: str = ""   # where MixMonitor writes; empty: <recordings_dir>/incoming
    prompts_dir: str = ""           # where Asterisk plays the IVR prompts from; empty: <data_dir>/sounds/dialfunnel
    dialer_trunk: str = "PJSIP/{number}@dialfunnel-trunk"  # Originate Channel; {number} is E.164
    dialer_id: str = ""             # names this dialer's attempts; empty: host and process id
    dialer_trunk_lines: int = 0     # the most dialer calls up at once on the trunk, all campaigns; 0: no limit
    queues: str = "sales"           # the inbound queues agents log in to (comma-separated, queues.conf names)
    # trunk name → the Q.850 causes that mark a number dead for good ("*": any other trunk; none
    # given: 1, 22, 28). TOML: [dead_causes] dialfunnel-trunk = [22, 28]; environment:
    # DIALFUNNEL_DEAD_CAUSES="dialfunnel-trunk=22,28; *=1,22,28" or just "1,22,28".
    dead_causes: dict = dataclasses.field(default_factory=dict)
    wallboard_tick_ms: int = 500    # how often each web process rebuilds the live wallboard

    @property
    def queue_names(self) -> list[str]:
        return [q.strip() for q in self.queues.split(",") if q.strip()]

    @property
    def recordings_path(self) -> Path:
        """Where recordings are kept: recordings_dir, else <data_dir>/recordings."""
        return Path(self.recordings_dir) if self.recordings_dir else self.data_dir / "recordings"

    @property
    def recordings_incoming_path(self) -> Path:
        """Where MixMonitor writes and the worker, the listener and AMD read: recordings_incoming,
        else <recordings_path>/incoming."""
        if self.recordings_incoming:
            return Path(self.recordings_incoming)
        return self.recordings_path / "incoming"

    @property
    def prompts_path(self) -> Path:
        """Where `prompts generate` and the prompts page write the IVR's sound files and Asterisk
        plays them (the dialplan's DF_PROMPTS under /var/lib/asterisk/sounds on a real box)."""
        return Path(self.prompts_dir) if self.prompts_dir else self.data_dir / "sounds" / "dialfunnel"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'dialfunnel.db').resolve()}"


WEB_SERVERS = ("gunicorn", "threaded")


class SettingsError(ValueError):
    pass


def load_settings(env: dict | None = None) -> Settings:
    env = os.environ if env is None else env
    values: dict = {}
    path = env.get("DIALFUNNEL_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                values.update(tomllib.load(fh))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read config file {path}: {exc}") from None
    for field in dataclasses.fields(Settings):
        key = "DIALFUNNEL_" + field.name.upper()
        if key in env:
            values[field.name] = env[key]
    known = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
    clean = {}
    for name, value in values.items():
        kind = known[name].type
        if kind == "dict":
            clean[name] = parse_dead_causes(value)
            continue
        try:
            clean[name] = int(value) if kind == "int" else Path(value) if kind == "Path" else str(value)
        except ValueError:
            raise SettingsError(f"setting {name} must be a number, not {value!r}") from None
    settings = Settings(**clean)
    if settings.web_server not in WEB_SERVERS:
        raise SettingsError(f"setting web_server must be one of {', '.join(WEB_SERVERS)}, "
                            f"not {settings.web_server!r}")
    for name in ("web_workers", "web_worker_connections", "wallboard_tick_ms"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"setting {name} must be at least 1")
    if settings.dialer_trunk_lines < 0:
        raise SettingsError("setting dialer_trunk_lines must be 0 (no limit) or more")
    return settings


def parse_dead_causes(value) -> dict[str, tuple[int, ...]]:
    """The dead_causes table from TOML ({trunk: [causes]}) or the environment
    ("trunk=1,22; *=1,20,22,28", a bare list being the "*" entry)."""
    if isinstance(value, str):
        table = {}
        for part in filter(None, (p.strip() for p in value.split(";"))):
            trunk, sep, causes = part.rpartition("=")
            table[trunk.strip() if sep else "*"] = causes.replace(",", " ").split()
        value = table
    if not isinstance(value, dict):
        raise SettingsError("setting dead_causes must be a table of trunk name = [causes]")
    out = {}
    for trunk, causes in value.items():
        try:
            if isinstance(causes, (str, int)) or not all(str(c).strip().isdigit() for c in causes):
                raise ValueError
            numbers = tuple(sorted({int(c) for c in causes}))
        except (TypeError, ValueError):
            raise SettingsError(f"setting dead_causes: {trunk} needs a list of cause numbers, "
                                f"not {causes!r}") from None
        if any(not 1 <= n <= 127 for n in numbers):
            raise SettingsError(f"setting dead_causes: {trunk}: Q.850 causes are 1 to 127")
        out[str(trunk)] = numbers
    return out
