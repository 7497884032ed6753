"""One settings module: defaults < optional TOML file (DIALFUNNEL_CONFIG) < environment.

Environment variables are the upper-case keys with a DIALFUNNEL_ prefix, e.g.
DIALFUNNEL_DATABASE_URL. Secrets belong in the file or the environment, never in git."""
from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import urllib.parse
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Server:
    """One Asterisk server: its AMI login, its trunk's channels for the dialer (0: no limit) and
    the agents' extensions whose phones register on it (empty: every extension)."""
    name: str
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "dialfunnel"
    ami_secret: str = ""
    trunk_lines: int = 0
    extensions: tuple[tuple[int, int], ...] = ()   # inclusive ranges of numeric extensions

    def has_extension(self, extension: str | None) -> bool:
        if not self.extensions:
            return True
        if not extension or not extension.isdigit():
            return False
        number = int(extension)
        return any(low <= number <= high for low, high in self.extensions)


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file in data_dir
    database_pgbouncer: bool = False  # database_url points at PgBouncer (transaction pooling): no prepared statements
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
    agi_db_pool_size: int = 20      # database connections each FastAGI worker keeps open
    agi_db_max_overflow: int = 0    # connections beyond agi_db_pool_size, opened and closed per use
    agi_db_spin_ms: int = -1        # ms a green FastAGI worker blocks for a PostgreSQL reply; -1: 2 directly, 0 behind PgBouncer
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "dialfunnel"
    ami_secret: str = ""
    ami_call_log_username: str = ""  # the call log writer's AMI user, filtered by its manager.conf eventfilter lines (dialplan/manager_dialfunnel.conf: dialfunnel-calllog); empty: ami_username with Filter actions
    ami_listener_username: str = ""  # the screen-pop listener's AMI user while the call log has its own process, filtered by its eventfilter lines (dialfunnel-pops); empty: ami_username with Filter actions
    ami_dialer_username: str = ""  # the dialer process's AMI user, filtered by its eventfilter lines (dialfunnel-dialer); empty: ami_username, unfiltered
    call_log_process: bool = True   # the call log's writer in a process of its own, with its own AMI login (false: a thread of the screen-pop listener)
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
    birthday_campaigns: str = ""    # voice campaigns the worker queues each day's birthdays into (comma-separated names)
    sms_gateway: str = ""           # "smpp", "aliyun" or "tencent" sends SMS (`dialfunnel sms`); empty: messages stay queued
    sms_smpp_host: str = "127.0.0.1"
    sms_smpp_port: int = 2775
    sms_smpp_system_id: str = ""
    sms_smpp_password: str = ""     # a secret: the TOML file or DIALFUNNEL_SMS_SMPP_PASSWORD
    sms_smpp_system_type: str = ""
    sms_source_addr: str = ""       # the number or sender id our SMS come from (e.g. 10690001)
    sms_rate_per_second: int = 10   # submits a second, all messages together
    sms_enquire_link_s: int = 30    # SMPP keep-alive when the link is quiet
    sms_aliyun_access_key_id: str = ""      # Alibaba Cloud AccessKey ID (sms_gateway = "aliyun")
    sms_aliyun_access_key_secret: str = ""  # a secret: the TOML file or DIALFUNNEL_SMS_ALIYUN_ACCESS_KEY_SECRET
    sms_aliyun_sign_name: str = ""          # the approved 签名 Alibaba Cloud puts in 【】 itself
    sms_aliyun_template_code: str = ""      # the approved template a typed text goes in (SMS_...)
    sms_aliyun_text_param: str = "content"  # that template's variable: ${content}
    sms_aliyun_region: str = "cn-hangzhou"  # RegionId of the requests
    sms_aliyun_endpoint: str = "https://dysmsapi.aliyuncs.com/"  # the SMS API's URL
    sms_aliyun_signing: str = "HMAC-SHA1"   # or "ACS3-HMAC-SHA256" (the V3 signature)
    sms_tencent_secret_id: str = ""         # Tencent Cloud SecretId (sms_gateway = "tencent")
    sms_tencent_secret_key: str = ""        # a secret: the TOML file or DIALFUNNEL_SMS_TENCENT_SECRET_KEY
    sms_tencent_sdk_app_id: str = ""        # the SMS application's SmsSdkAppId (1400...)
    sms_tencent_sign_name: str = ""         # the approved 签名 Tencent Cloud puts in 【】 itself
    sms_tencent_template_id: str = ""       # the approved template whose one parameter is a typed text
    sms_tencent_region: str = "ap-guangzhou"  # X-TC-Region of the requests
    sms_tencent_endpoint: str = "https://sms.tencentcloudapi.com/"  # the SMS API's URL
    sms_http_timeout: int = 10      # s for the cloud SMS APIs' answer
    sms_callback_host: str = "127.0.0.1"  # where the sender serves the cloud providers' status and reply callbacks
    sms_callback_port: int = 0      # the callback server's port; 0: none
    sms_callback_token: str = ""    # a secret the callback URLs must carry (path or ?token=); empty: none
    fax_dir: str = ""               # the faxes kept (TIFF and PDF); empty: <data_dir>/faxes
    fax_spool: str = ""             # where ReceiveFAX writes (with Asterisk: /var/spool/asterisk/fax/dialfunnel); empty: <fax_dir>/spool
    fax_documents_dir: str = ""     # fax-on-demand sheets (the dialplan's DF_FAX_DOCUMENTS); empty: <fax_dir>/sheets
    fax_lines: int = 2              # faxes sent at once (the fax lines of the trunk)
    fax_attempts: int = 3           # tries of a fax whose number is busy or does not answer
    fax_retry_minutes: int = 5      # wait between those tries
    fax_compression: str = "g3"     # fax TIFF we send: g3 (1-D), g3-2d or g4
    fax_resolution: str = "fine"    # fine (204x196 dpi) or normal (204x98)
    early_media_port: int = 0       # the dialer listens to the carrier's early media here (0: off; dialplan/README.md)
    early_media_host: str = "127.0.0.1"   # the address the early-media listener binds
    # Several Asterisk servers, one database: TOML [[servers]] tables (name, ami_host, ami_port,
    # ami_username, ami_secret, trunk_lines, extensions = "8000-8099,8150"), or
    # DIALFUNNEL_SERVERS as a JSON list of the same; none: the one server of the ami_* keys.
    servers: list = dataclasses.field(default_factory=list)

    @property
    def ami_servers(self) -> list["Server"]:
        """The Asterisk servers the dialer and the listener talk to; with no ``servers`` set,
        one named "default" from the ami_* keys and dialer_trunk_lines, holding every extension."""
        if self.servers:
            return list(self.servers)
        return [Server("default", self.ami_host, self.ami_port, self.ami_username, self.ami_secret,
                       self.dialer_trunk_lines, ())]

    def serves_extension(self, extension: str) -> bool:
        """Whether the phone of ``extension`` registers on one of the servers (always with
        no ``servers`` set, or with one that holds every extension)."""
        return any(server.has_extension(extension) for server in self.ami_servers)

    @property
    def queue_names(self) -> list[str]:
        return [q.strip() for q in self.queues.split(",") if q.strip()]

    @property
    def birthday_campaign_names(self) -> list[str]:
        return [n.strip() for n in self.birthday_campaigns.split(",") if n.strip()]

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
    def fax_path(self) -> Path:
        return Path(self.fax_dir) if self.fax_dir else self.data_dir / "faxes"

    @property
    def fax_spool_path(self) -> Path:
        return Path(self.fax_spool) if self.fax_spool else self.fax_path / "spool"

    @property
    def fax_documents_path(self) -> Path:
        return Path(self.fax_documents_dir) if self.fax_documents_dir else self.fax_path / "sheets"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'dialfunnel.db').resolve()}"


WEB_SERVERS = ("gunicorn", "threaded")
SMS_GATEWAYS = ("", "smpp", "aliyun", "tencent")
ALIYUN_SIGNINGS = ("HMAC-SHA1", "ACS3-HMAC-SHA256")
# the settings each cloud gateway cannot send without
SMS_CREDENTIALS = {
    "aliyun": ("sms_aliyun_access_key_id", "sms_aliyun_access_key_secret", "sms_aliyun_sign_name"),
    "tencent": ("sms_tencent_secret_id", "sms_tencent_secret_key", "sms_tencent_sdk_app_id",
                "sms_tencent_sign_name"),
}


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
        if kind == "list":
            clean[name] = value
            continue
        if kind == "bool":
            clean[name] = parse_bool(name, value)
            continue
        try:
            clean[name] = int(value) if kind == "int" else Path(value) if kind == "Path" else str(value)
        except ValueError:
            raise SettingsError(f"setting {name} must be a number, not {value!r}") from None
    settings = Settings(**clean)
    if "servers" in clean:
        settings = dataclasses.replace(settings, servers=parse_servers(clean["servers"], settings))
    if settings.web_server not in WEB_SERVERS:
        raise SettingsError(f"setting web_server must be one of {', '.join(WEB_SERVERS)}, "
                            f"not {settings.web_server!r}")
    if settings.sms_gateway not in SMS_GATEWAYS:
        raise SettingsError(f"setting sms_gateway must be one of {', '.join(SMS_GATEWAYS[1:])} "
                            f"or empty, not {settings.sms_gateway!r}")
    if settings.fax_compression not in ("g3", "g3-2d", "g4"):
        raise SettingsError(f"setting fax_compression must be g3, g3-2d or g4, not {settings.fax_compression!r}")
    if settings.fax_resolution not in ("fine", "normal"):
        raise SettingsError(f"setting fax_resolution must be fine or normal, not {settings.fax_resolution!r}")
    for name in ("web_workers", "web_worker_connections", "wallboard_tick_ms",
                 "sms_rate_per_second", "sms_enquire_link_s", "sms_http_timeout", "fax_lines",
                 "fax_attempts"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"setting {name} must be at least 1")
    if settings.dialer_trunk_lines < 0:
        raise SettingsError("setting dialer_trunk_lines must be 0 (no limit) or more")
    _check_sms(settings)
    return settings


BOOLEANS = {"true": True, "yes": True, "on": True, "1": True,
            "false": False, "no": False, "off": False, "0": False, "": False}


def parse_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    try:
        return BOOLEANS[str(value).strip().lower()]
    except KeyError:
        raise SettingsError(f"setting {name} must be true or false, not {value!r}") from None


def _check_sms(settings: Settings) -> None:
    missing = [name for name in SMS_CREDENTIALS.get(settings.sms_gateway, ())
               if not getattr(settings, name).strip()]
    if missing:
        raise SettingsError(f"sms_gateway {settings.sms_gateway!r} needs the settings "
                            f"{', '.join(missing)} (TOML file or DIALFUNNEL_{missing[0].upper()})")
    if settings.sms_aliyun_signing not in ALIYUN_SIGNINGS:
        raise SettingsError(f"setting sms_aliyun_signing must be one of "
                            f"{', '.join(ALIYUN_SIGNINGS)}, not {settings.sms_aliyun_signing!r}")
    if settings.sms_gateway in SMS_CREDENTIALS:
        name = f"sms_{settings.sms_gateway}_endpoint"
        url = urllib.parse.urlsplit(getattr(settings, name))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise SettingsError(f"setting {name} must be an http(s) URL, "
                                f"not {getattr(settings, name)!r}")
    if not 0 <= settings.sms_callback_port <= 65535:
        raise SettingsError("setting sms_callback_port must be 0 (off) to 65535")


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


SERVER_KEYS = {"name", "ami_host", "ami_port", "ami_username", "ami_secret", "trunk_lines", "extensions"}


def parse_servers(value, settings: Settings) -> list[Server]:
    """The ``servers`` list from TOML tables or a JSON string. A key a server leaves out takes
    the top-level ami_* value (ami_secret too, so one secret may serve every server)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise SettingsError(f"setting servers must be a JSON list of servers: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SettingsError("setting servers must be a list of tables ([[servers]] name = ...)")
    servers, names = [], set()
    for n, row in enumerate(value, 1):
        unknown = set(row) - SERVER_KEYS
        if unknown:
            raise SettingsError(f"server {n}: unknown keys {', '.join(sorted(unknown))}")
        name = str(row.get("name") or "").strip()
        if not name or name in names:
            raise SettingsError(f"server {n}: needs a name of its own (got {name!r})")
        names.add(name)
        try:
            port, lines = int(row.get("ami_port", settings.ami_port)), int(row.get("trunk_lines", 0))
        except (TypeError, ValueError):
            raise SettingsError(f"server {name}: ami_port and trunk_lines must be numbers") from None
        if lines < 0 or not 0 < port <= 65535:
            raise SettingsError(f"server {name}: trunk_lines must be 0 (no limit) or more, ami_port 1 to 65535")
        servers.append(Server(name, str(row.get("ami_host", settings.ami_host)), port,
                              str(row.get("ami_username", settings.ami_username)),
                              str(row.get("ami_secret", settings.ami_secret)), lines,
                              parse_extensions(name, row.get("extensions", ""))))
    taken = [r for s in servers for r in s.extensions]
    if len(servers) > 1 and any(not s.extensions for s in servers):
        raise SettingsError("with several servers, each needs its extensions (e.g. \"8000-8099\")")
    for (a_low, a_high), (b_low, b_high) in zip(sorted(taken), sorted(taken)[1:]):
        if b_low <= a_high:
            raise SettingsError(f"servers: extensions {b_low}-{b_high} are given twice (each belongs to one server)")
    return servers


def parse_extensions(server: str, value) -> tuple[tuple[int, int], ...]:
    """"8000-8099, 8150" (or a list of such parts) → ((8000, 8099), (8150, 8150))."""
    parts = value if isinstance(value, list) else str(value).split(",")
    ranges = []
    for part in (str(p).strip() for p in parts):
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.strip().isdigit() or not (high or low).strip().isdigit():
            raise SettingsError(f"server {server}: extensions must be numbers or ranges like 8000-8099, "
                                f"not {part!r}")
        low_n, high_n = int(low), int(high or low)
        if high_n < low_n:
            raise SettingsError(f"server {server}: the range {part} runs backwards")
        ranges.append((low_n, high_n))
    return tuple(sorted(ranges))
