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
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "dialfunnel"
    ami_secret: str = ""
    log_level: str = "INFO"
    recordings_dir: str = ""        # empty: <data_dir>/recordings
    recordings_incoming: str = ""   # where MixMonitor writes; empty: <recordings_dir>/incoming
    dialer_trunk: str = "PJSIP/{number}@dialfunnel-trunk"  # Originate Channel; {number} is E.164
    dialer_id: str = ""             # names this dialer's attempts; empty: host and process id

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
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'dialfunnel.db').resolve()}"


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
        try:
            clean[name] = int(value) if kind == "int" else Path(value) if kind == "Path" else str(value)
        except ValueError:
            raise SettingsError(f"setting {name} must be a number, not {value!r}") from None
    return Settings(**clean)
