"""Flow files: loading and checking. A flow is one YAML file in ivr_flows/ (its name is the
file's stem); `prompts.yaml` beside them maps prompt ids to Chinese texts.

    start: welcome                     # the first step
    steps:
      welcome:
        prompt: welcome                # play prompt `welcome`, then go on
        next: main_menu
      main_menu:
        menu: main-menu                # play, then wait for one key
        match: {1: order_status, 0: to_agent}
        timeout: 6                     # seconds to wait for a key after the prompt
        tries: 3
        invalid: invalid-key           # said after a wrong key / no key (no_input:)
        on_fail: to_agent              # after `tries` failures (default: end the call, FAILED)
      to_agent:
        transfer: queue:sales          # DIALFUNNEL_TRANSFER=queue:sales, back to the dialplan

A step has exactly one kind key (prompt, menu, collect, hours, lookup, set, transfer,
voicemail, callback, end, hangup) plus that kind's options; see KINDS below and
docs in ivr_flows/__init__.py. A target is a step name of the same file, or `flow:NAME` (the
start of another flow file). `${name}` in a value is a flow variable.

Every mistake is reported as `file:line: message` (FlowError carries them all); unreachable
steps and unknown variables are warnings.
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading
from pathlib import Path

from . import hours as hours_mod
from .say_zh import segment_texts
from .yamlines import Issue, LineDict, LineList, load

PROMPTS_FILE = "prompts.yaml"
DEFAULT_DIR = Path(__file__).resolve().parent

STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
FLOW_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PROMPT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SOUND_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$")
VAR_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
CHANNEL_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
OUTCOME = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
VAR_REF = re.compile(r"\$\{([^}]*)\}")
TRANSFER = re.compile(r"^(queue|agent|extension):(.+)$")
DIGIT_KEYS = "0123456789*#"
MAX_DIGITS = 64

# Variables every call has (agi env), and the ones the engine sets itself.
BUILTIN_VARS = {"caller_id", "caller_name", "uniqueid", "flow", "extension", "dnid", "language",
                "channel", "customer_id", "order_count", "next_open"}
# What an outbound flow (`outbound: true`) knows of the dialled customer
# (models.dialer.voice.call_variables; empty when unknown).
CUSTOMER_VARS = {"campaign_id", "attempt_id", "customer_name", "contact_name", "salutation",
                 "customer_number", "order_number", "amount_due", "due_date"}
# Values a prompt list may speak: {digits: ${v}} with SAY DIGITS, {text: ${v}} (a name) spoken
# by a prompt synthesised when first needed (the walker's `speak_text`), the others in Mandarin
# from the say-* segments (ivr_flows/say_zh.py).
SPOKEN_KINDS = ("digits", "text", "number", "money", "date", "time", "percent", "id", "phone")

LOOKUPS = ("order_by_number", "orders_by_caller")
LOOKUP_PROMPTS = ("order-number-is", "order-status-is")

TARGET_KEYS = ("next", "on_fail", "open", "closed", "found", "not_found", "on_error",
               "no_number", "none_free")

# kind -> (what the kind key holds, {option: what it holds}, required options)
KINDS: dict[str, tuple[str, dict[str, str], tuple[str, ...]]] = {
    "prompt": ("prompts", {"next": "target"}, ("next",)),
    "say": ("prompts", {"next": "target"}, ("next",)),
    "menu": ("prompts", {"match": "match", "timeout": "seconds", "tries": "tries",
                         "invalid": "prompts", "no_input": "prompts", "on_fail": "target",
                         "answer": "question"},
             ("match",)),
    "collect": ("prompts", {"into": "var", "digits": "digits", "terminator": "terminator",
                            "valid": "regex", "timeout": "seconds", "tries": "tries",
                            "invalid": "prompts", "no_input": "prompts", "next": "target",
                            "on_fail": "target"}, ("into", "next")),
    "hours": ("hours", {"open": "target", "closed": "target"}, ("open", "closed")),
    "lookup": ("lookup", {"number": "template", "limit": "limit", "found": "target",
                          "not_found": "target", "on_error": "target"}, ("found", "not_found")),
    "set": ("vars", {"channel": "channel_vars", "next": "target"}, ("next",)),
    "transfer": ("transfer", {"prompt": "prompts"}, ()),
    "agent": ("agent", {"prompt": "prompts", "none_free": "target", "on_error": "target"},
              ("none_free",)),
    "voicemail": ("mailbox", {"prompt": "prompts"}, ()),
    "callback": ("template", {"delay_minutes": "minutes", "at_next_open": "bool",
                              "next": "target", "no_number": "target", "on_error": "target"},
                 ("next", "no_number")),
    "end": ("outcome", {"prompt": "prompts"}, ()),
    "hangup": ("prompts_or_none", {"outcome": "outcome"}, ()),
}
COMMON_OPTIONS = {"note"}
DEFAULTS = {"menu": {"timeout": 5.0, "tries": 3},
            "collect": {"timeout": 6.0, "tries": 3, "digits": (1, 20), "terminator": "#"},
            "lookup": {"limit": 3},
            "callback": {"delay_minutes": 0, "at_next_open": False}}


class FlowError(Exception):
    """A flow directory that does not load: `issues` lists every error (and warning)."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        super().__init__("\n".join(str(i) for i in errors) or "invalid flows")

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]


@dataclasses.dataclass(frozen=True)
class PromptItem:
    kind: str      # prompt (an id of prompts.yaml), sound (an Asterisk sound), digits (say)
    value: str


@dataclasses.dataclass
class Step:
    flow: str
    name: str
    kind: str
    line: int
    main: object
    opts: dict

    def get(self, key, default=None):
        return self.opts.get(key, default)

    @property
    def where(self) -> str:
        return f"{self.flow}.yaml:{self.line}"


@dataclasses.dataclass
class Flow:
    name: str
    file: str
    start: str
    steps: dict[str, Step]
    description: str = ""
    outbound: bool = False                    # a voice campaign's flow: the customer's data
    opt_out_key: str = ""                     # pressed at any prompt or menu: do-not-call
    opt_out_prompt: tuple = ()


@dataclasses.dataclass
class Prompts:
    file: str
    sound_dir: str
    voice: str
    texts: dict[str, str]
    lines: dict[str, int]

    def sound(self, prompt_id: str) -> str:
        """What STREAM FILE is given for a prompt id (no extension)."""
        return f"{self.sound_dir}/{prompt_id}" if self.sound_dir else prompt_id


@dataclasses.dataclass
class FlowSet:
    directory: Path
    flows: dict[str, Flow]
    prompts: Prompts
    warnings: list[Issue]

    def flow(self, name: str) -> Flow:
        return self.flows[name]

    def resolve(self, flow: str, target: str) -> tuple[str, str]:
        if target.startswith("flow:"):
            name = target[5:]
            return name, self.flows[name].start
        return flow, target


# -- prompts.yaml ---------------------------------------------------------------------------

def load_prompts(path: Path) -> tuple[Prompts | None, list[Issue]]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Issue(name, 1, f"cannot read the prompt texts: {exc.strerror or exc}")]
    data, issues = load(text, name)
    if data is None:
        return None, issues
    if not isinstance(data, LineDict) or not isinstance(data.get("prompts"), LineDict):
        return None, issues + [Issue(name, getattr(data, "line", 1),
                                     "prompts.yaml needs a `prompts:` mapping of id: 中文文本")]
    for key in data:
        if key not in ("prompts", "sound_dir", "voice", "note"):
            issues.append(Issue(name, data.line_of(key), f"unknown key {key!r} "
                                "(allowed: prompts, sound_dir, voice, note)"))
    sound_dir = str(data.get("sound_dir") or "").strip().rstrip("/")
    if sound_dir and not SOUND_NAME.match(sound_dir):
        issues.append(Issue(name, data.value_line("sound_dir"), f"bad sound_dir {sound_dir!r}"))
    texts, lines = {}, {}
    table = data["prompts"]
    for key, value in table.items():
        line = table.line_of(key)
        if not isinstance(key, str) or not PROMPT_ID.match(key):
            issues.append(Issue(name, line, f"bad prompt id {key!r}: lower-case letters, digits "
                                            "and '-' only (it becomes a file name)"))
            continue
        if not isinstance(value, str) or not value.strip():
            issues.append(Issue(name, line, f"prompt {key!r} needs a text"))
            continue
        texts[key], lines[key] = value.strip(), line
    voice = str(data.get("voice") or "cmn-latn-pinyin")
    # the segments values are spoken from (say_zh.py); prompts.yaml may respell one
    texts = {**segment_texts(), **texts}
    return Prompts(name, sound_dir, voice, texts, lines), issues


# -- the checker ----------------------------------------------------------------------------

class _Checker:
    """Checks one flow file's data and builds its Flow. Issues go to `issues`."""

    def __init__(self, file: str, flow_name: str, prompts: Prompts | None,
                 flow_names: set[str], source_lines: list[str]):
        self.file = file
        self.flow_name = flow_name
        self.prompts = prompts
        self.flow_names = flow_names
        self.source = source_lines
        self.issues: list[Issue] = []
        self.var_refs: list[tuple[str, int]] = []
        self.vars_defined: set[str] = set()
        self.targets: list[tuple[str, str, int]] = []  # (from step, target, line)

    def error(self, line: int, message: str) -> None:
        self.issues.append(Issue(self.file, line, message))

    def warn(self, line: int, message: str) -> None:
        self.issues.append(Issue(self.file, line, message, "warning"))

    # -- values --------------------------------------------------------------------------

    def prompts_value(self, value, line: int, what: str, *, allow_none=False,
                      item_lines: LineList | None = None) -> tuple[PromptItem, ...] | None:
        if value is None:
            if allow_none:
                return ()
            self.error(line, f"{what}: give a prompt id or a list of them")
            return None
        items = value if isinstance(value, list) else [value]
        out = []
        for index, item in enumerate(items):
            at = items.line_of(index) if isinstance(items, LineList) else line
            if isinstance(item, dict):
                if len(item) != 1 or next(iter(item)) not in SPOKEN_KINDS:
                    self.error(at, f"{what}: a spoken item is {{KIND: ${{variable}}}} with KIND "
                                   f"one of {', '.join(SPOKEN_KINDS)}, not {dict(item)!r}")
                    continue
                kind, value = next(iter(item.items()))
                tpl = self.template(value, at, what)
                if tpl is not None:
                    out.append(PromptItem(kind, tpl))
                continue
            if not isinstance(item, str) or not item.strip():
                self.error(at, f"{what}: {item!r} is not a prompt id")
                continue
            item = item.strip()
            if item.startswith("sound:"):
                name = item[6:]
                if not SOUND_NAME.match(name):
                    self.error(at, f"{what}: bad Asterisk sound name {name!r}")
                    continue
                out.append(PromptItem("sound", name))
                continue
            if not PROMPT_ID.match(item):
                self.error(at, f"{what}: bad prompt id {item!r}")
                continue
            if self.prompts is not None and item not in self.prompts.texts:
                self.error(at, f"{what}: unknown prompt {item!r} (not in {PROMPTS_FILE})")
                continue
            out.append(PromptItem("prompt", item))
        if not items and not allow_none:
            self.error(line, f"{what}: no prompt given")
        return tuple(out)

    def template(self, value, line: int, what: str) -> str | None:
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
            self.error(line, f"{what}: expected a text, got {value!r}")
            return None
        text = str(value)
        for ref in VAR_REF.findall(text):
            if not VAR_NAME.match(ref):
                self.error(line, f"{what}: bad variable reference ${{{ref}}}")
                return None
            self.var_refs.append((ref, line))
        if "${" in VAR_REF.sub("", text):
            self.error(line, f"{what}: unclosed variable reference in {text!r}")
            return None
        return text

    def target(self, step: str, value, line: int, what: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error(line, f"{what}: expected a step name, got {value!r}")
            return None
        value = value.strip()
        if value.startswith("flow:"):
            if not FLOW_NAME.match(value[5:]):
                self.error(line, f"{what}: bad flow name in {value!r}")
                return None
        elif not STEP_NAME.match(value):
            self.error(line, f"{what}: bad step name {value!r}")
            return None
        self.targets.append((step, value, line))
        return value

    def number(self, value, line: int, what: str, low: float, high: float, integer: bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (integer and not isinstance(value, int)) or not low <= value <= high:
            kind = "a whole number" if integer else "a number of seconds"
            self.error(line, f"{what}: must be {kind} from {low:g} to {high:g}, not {value!r}")
            return None
        return value if integer else float(value)

    def bare_hash(self, line: int) -> bool:
        """`terminator: #` - YAML read the # as a comment."""
        text = self.source[line - 1] if 0 < line <= len(self.source) else ""
        return bool(re.search(r":\s*#", text))

    # -- one step ------------------------------------------------------------------------

    def step(self, name, data) -> Step | None:
        if not isinstance(name, str) or not STEP_NAME.match(name):
            self.error(getattr(data, "line", 1), f"bad step name {name!r}: letters, digits, "
                                                 "'_' and '-', starting with a letter")
            return None
        if not isinstance(data, LineDict):
            self.error(getattr(data, "line", 0) or 1,
                       f"step {name!r} must be a mapping (kind: value, options...)")
            return None
        kinds = [k for k in data if k in KINDS]
        if len(kinds) > 1 and "prompt" in kinds and all(
                "prompt" in KINDS[k][1] for k in kinds if k != "prompt"):
            kinds.remove("prompt")  # `prompt:` is then an option (said before a transfer...)
        if not kinds:
            known = set(KINDS) | COMMON_OPTIONS | {o for _m, opts, _r in KINDS.values() for o in opts}
            odd = [k for k in data if k not in known]
            if odd:
                self.error(data.line_of(odd[0]), f"step {name!r}: unknown step kind {odd[0]!r} "
                           f"(kinds: {', '.join(KINDS)})")
            else:
                self.error(data.line, f"step {name!r} has no kind (one of: {', '.join(KINDS)})")
            return None
        if len(kinds) > 1:
            self.error(data.line_of(kinds[1]), f"step {name!r} has two kinds: "
                                               f"{kinds[0]} and {kinds[1]}")
            return None
        kind = kinds[0]
        main_what, options, required = KINDS[kind]
        before = len(self.issues)
        for key in data:
            if key != kind and key not in options and key not in COMMON_OPTIONS:
                self.error(data.line_of(key), f"step {name!r}: unknown option {key!r} for a "
                           f"{kind} step (allowed: {', '.join(options) or 'none'})")
        for key in required:
            if key not in data:
                self.error(data.line, f"step {name!r}: a {kind} step needs `{key}:`")
        where = f"step {name!r}"
        main = self.main_value(name, kind, main_what, data)
        opts = dict(DEFAULTS.get(kind, {}))
        for key, what in options.items():
            if key in data:
                count = len(self.issues)
                value = self.option(name, kind, key, what, data)
                if len(self.issues) == count:
                    opts[key] = value
        if kind == "set" and main == {} and not opts.get("channel"):
            self.error(data.line, f"{where}: set at least one variable (set:) or channel "
                                  "variable (channel:)")
        if kind == "lookup" and main == "orders_by_caller" and "number" in data:
            self.error(data.line_of("number"), f"{where}: orders_by_caller uses the caller ID; "
                                               "`number:` is for order_by_number")
        if kind == "lookup" and main == "order_by_number" and "number" not in opts:
            opts["number"] = "${order_number}"
            self.var_refs.append(("order_number", data.line))
        if kind == "lookup" and self.prompts is not None and main in LOOKUPS:
            from models.telephony.ivr import ORDER_STATUS_WORDS
            needed = list(LOOKUP_PROMPTS) + ["order-" + w for w in ORDER_STATUS_WORDS]
            missing = [p for p in needed if p not in self.prompts.texts]
            if missing:
                self.error(data.line_of(kind), f"{where}: a lookup speaks prompts missing from "
                                               f"{PROMPTS_FILE}: {', '.join(missing)}")
        if len(self.issues) > before:
            return None
        return Step(self.flow_name, name, kind, data.line, main, opts)

    def main_value(self, name, kind, what, data: LineDict):
        value, line = data[kind], data.value_line(kind)
        label = f"step {name!r}: {kind}"
        if what in ("prompts", "prompts_or_none"):
            return self.prompts_value(value, line, label, allow_none=what == "prompts_or_none")
        if what == "hours":
            return self.timetable(name, value, data.line_of(kind))
        if what == "lookup":
            if value not in LOOKUPS:
                self.error(line, f"{label}: unknown lookup {value!r} (one of: {', '.join(LOOKUPS)})")
                return None
            return value
        if what == "vars":
            if value is None:
                return {}
            if not isinstance(value, LineDict):
                self.error(line, f"{label}: a mapping of variable: value")
                return None
            out = {}
            for key, val in value.items():
                at = value.line_of(key)
                if not isinstance(key, str) or not VAR_NAME.match(key):
                    self.error(at, f"{label}: bad variable name {key!r} (lower_case_with_underscores)")
                    continue
                tpl = self.template(val, at, f"{label} {key}")
                if tpl is not None:
                    out[key] = tpl
                    self.vars_defined.add(key)
            return out if len(out) == len(value) else None
        if what == "agent":
            if value != "campaign":
                self.error(line, f"{label}: `agent: campaign` (a ready agent of the call's "
                                 f"campaign team), not {value!r}")
                return None
            return value
        if what == "transfer":
            tpl = self.template(value, line, label)
            if tpl is not None and not TRANSFER.match(tpl):
                self.error(line, f"{label}: {tpl!r} is not queue:NAME, agent:ID or extension:NUMBER")
                return None
            return tpl
        if what == "mailbox":
            tpl = self.template(value, line, label)
            if tpl is not None and not re.match(r"^[A-Za-z0-9_${}.-]+(@[A-Za-z0-9_${}.-]+)?$", tpl):
                self.error(line, f"{label}: {tpl!r} is not a mailbox (BOX or BOX@CONTEXT)")
                return None
            return tpl
        if what == "template":
            return self.template(value, line, label)
        if what == "outcome":
            if not isinstance(value, str) or not OUTCOME.match(value):
                self.error(line, f"{label}: outcome {value!r} must be an UPPER_CASE word "
                                 "(e.g. FAX), at most 16 characters")
                return None
            return value
        raise AssertionError(what)

    def option(self, name, kind, key, what, data: LineDict):
        value, line = data[key], data.value_line(key)
        label = f"step {name!r}: {key}"
        if what == "target":
            return self.target(name, value, line, label)
        if what == "prompts":
            return self.prompts_value(value, line, label)
        if what == "seconds":
            return self.number(value, line, label, 0.5, 120, False)
        if what == "tries":
            return self.number(value, line, label, 1, 10, True)
        if what == "limit":
            return self.number(value, line, label, 1, 10, True)
        if what == "minutes":
            return self.number(value, line, label, 0, 60 * 24 * 14, True)
        if what == "bool":
            if not isinstance(value, bool):
                self.error(line, f"{label}: true or false, not {value!r}")
                return None
            return value
        if what == "var":
            if not isinstance(value, str) or not VAR_NAME.match(value):
                self.error(line, f"{label}: bad variable name {value!r} (lower_case_with_underscores)")
                return None
            self.vars_defined.add(value)
            return value
        if what == "template":
            return self.template(value, line, label)
        if what == "question":
            if not isinstance(value, str) or not STEP_NAME.match(value):
                self.error(line, f"{label}: a question name (letters, digits, '_', '-'), "
                                 f"not {value!r}")
                return None
            return value
        if what == "outcome":
            if not isinstance(value, str) or not OUTCOME.match(value):
                self.error(line, f"{label}: outcome {value!r} must be an UPPER_CASE word")
                return None
            return value
        if what == "digits":
            return self.digits(value, line, label)
        if what == "terminator":
            if value is None and self.bare_hash(data.line_of(key)):
                self.error(line, f"{label}: a bare # starts a YAML comment; write \"#\" in quotes")
                return None
            if value in (None, "", "none", False):
                return ""
            if value not in ("#", "*"):
                self.error(line, f"{label}: \"#\", \"*\" or none, not {value!r}")
                return None
            return value
        if what == "regex":
            if not isinstance(value, str) or not value:
                self.error(line, f"{label}: expected a regular expression, got {value!r}")
                return None
            try:
                return re.compile(value)
            except re.error as exc:
                self.error(line, f"{label}: bad regular expression {value!r}: {exc}")
                return None
        if what == "match":
            return self.match(name, value, line)
        if what == "channel_vars":
            if not isinstance(value, LineDict) or not value:
                self.error(line, f"{label}: a mapping of CHANNEL_VARIABLE: value")
                return None
            out = {}
            for var, val in value.items():
                at = value.line_of(var)
                if not isinstance(var, str) or not CHANNEL_VAR.match(var):
                    self.error(at, f"{label}: bad channel variable name {var!r}")
                    continue
                tpl = self.template(val, at, f"{label} {var}")
                if tpl is not None:
                    out[var] = tpl
            return out if len(out) == len(value) else None
        raise AssertionError(what)

    def digits(self, value, line, label):
        low = high = None
        if isinstance(value, int) and not isinstance(value, bool):
            low = high = value
        elif isinstance(value, str) and re.match(r"^\s*\d+\s*-\s*\d+\s*$", value):
            low, high = (int(p) for p in value.split("-"))
        if low is None or not 1 <= low <= high <= MAX_DIGITS:
            self.error(line, f"{label}: a count (e.g. 4) or a range MIN-MAX (e.g. 9-16) within "
                             f"1-{MAX_DIGITS}, not {value!r}")
            return None
        return (low, high)

    def match(self, name, value, line):
        label = f"step {name!r}: match"
        if not isinstance(value, LineDict) or not value:
            self.error(line, f"{label}: a mapping of key: step, e.g. {{1: order_status, 0: to_agent}}")
            return None
        out, ok = {}, True
        for key, target in value.items():
            at = value.line_of(key)
            digit = None
            if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 9:
                digit = str(key)
            elif isinstance(key, str) and len(key.strip()) == 1 and key.strip() in DIGIT_KEYS:
                digit = key.strip()
            if digit is None:
                self.error(at, f"{label}: bad digit key {key!r}: one of 0-9, \"*\" or \"#\" "
                               "(quote * and #)")
                ok = False
                continue
            if digit in out:
                self.error(at, f"{label}: key {digit} is given twice")
                ok = False
                continue
            resolved = self.target(name, target, value.value_line(key), f"{label} {digit}")
            if resolved is None:
                ok = False
                continue
            out[digit] = resolved
        return out if ok else None

    def timetable(self, name, value, line) -> hours_mod.Timetable | None:
        label = f"step {name!r}: hours"
        if not isinstance(value, LineDict) or not value:
            self.error(line, f"{label}: a mapping of weekdays to hours (e.g. mon-fri: 09:00-18:00)")
            return None
        ok = True
        zone = hours_mod.DEFAULT_TIME_ZONE
        week: list = [None] * 7
        holidays = workdays = frozenset()
        for key, val in value.items():
            at = value.line_of(key)
            if key == "time_zone":
                problem = hours_mod.check_time_zone(val)
                if problem:
                    self.error(at, f"{label}: {problem}")
                    ok = False
                else:
                    zone = str(val)
                continue
            if key in ("holidays", "workdays"):
                days, errors = hours_mod.parse_dates(val)
                for index, message in errors:
                    item_line = val.line_of(index) if isinstance(val, LineList) and index >= 0 else at
                    self.error(item_line, f"{label} {key}: {message}")
                    ok = False
                if key == "holidays":
                    holidays = days or frozenset()
                else:
                    workdays = days or frozenset()
                continue
            days, problem = hours_mod.parse_days(key)
            if problem:
                self.error(at, f"{label}: {problem}")
                ok = False
                continue
            ranges, problem = hours_mod.parse_ranges(val)
            if problem:
                self.error(value.value_line(key), f"{label} {key}: {problem}")
                ok = False
                continue
            for day in days:
                if week[day] is not None:
                    self.error(at, f"{label}: {hours_mod.WEEKDAYS[day]} is given twice")
                    ok = False
                week[day] = ranges
        if ok and holidays & workdays:
            both = sorted(holidays & workdays)[0]
            self.error(line, f"{label}: {both} is both a holiday and a workday")
            ok = False
        if not ok:
            return None
        return hours_mod.Timetable(zone, tuple(w or () for w in week), holidays, workdays)

    # -- the whole file ------------------------------------------------------------------

    def flow(self, data) -> Flow | None:
        if not isinstance(data, LineDict):
            self.error(getattr(data, "line", 1) or 1,
                       "a flow file is a mapping with `start:` and `steps:`")
            return None
        for key in data:
            if key not in ("start", "steps", "description", "note", "outbound", "opt_out"):
                self.error(data.line_of(key), f"unknown top-level key {key!r} (allowed: "
                                              "start, steps, description, outbound, opt_out)")
        outbound = data.get("outbound", False)
        if not isinstance(outbound, bool):
            self.error(data.line_of("outbound"), f"outbound: true or false, not {outbound!r}")
        opt_out = self.opt_out(data)
        steps_data = data.get("steps")
        if not isinstance(steps_data, LineDict) or not steps_data:
            self.error(data.line_of("steps"), "`steps:` must be a mapping of step names to steps")
            return None
        steps: dict[str, Step] = {}
        broken: set[str] = set()
        for name, body in steps_data.items():
            step = self.step(name, body)
            if step is None:
                broken.add(name)
            else:
                steps[name] = step
        known = set(steps) | broken
        start = data.get("start")
        if start is None:
            self.error(data.line, "`start:` is missing (the first step's name)")
        elif start not in known:
            self.error(data.line_of("start"), f"start step {start!r} does not exist")
        for origin, target, line in self.targets:
            if target.startswith("flow:"):
                if target[5:] not in self.flow_names:
                    self.error(line, f"step {origin!r}: no flow file {target[5:]}.yaml "
                                     f"for {target!r}")
            elif target not in known:
                self.error(line, f"step {origin!r}: target step {target!r} does not exist")
        if start in known:
            self.unreachable(start, steps, steps_data, known)
        if outbound is True and opt_out is None and "opt_out" not in data:
            self.error(data.line, "an outbound flow needs `opt_out:` (key and prompt): every "
                                  "voice call lets the callee ask not to be called again")
        key = opt_out[0] if opt_out else ""
        for step in steps.values():
            if key and step.kind == "menu" and key in (step.get("match") or {}):
                self.error(step.line, f"step {step.name!r}: key {key} is the flow's opt-out key")
            if step.kind == "agent" and outbound is not True:
                self.error(step.line, f"step {step.name!r}: an agent step needs an outbound "
                                      "flow (the call's campaign team)")
        if any(i.severity == "error" for i in self.issues):
            return None
        return Flow(self.flow_name, self.file, start, steps, str(data.get("description") or ""),
                    outbound is True, key, opt_out[1] if opt_out else ())

    def opt_out(self, data: LineDict) -> tuple[str, tuple] | None:
        """`opt_out: {key: 9, prompt: optout-confirmed}` -> ("9", prompts)."""
        value = data.get("opt_out")
        if value is None:
            return None
        line = data.line_of("opt_out")
        if not isinstance(value, LineDict) or set(value) != {"key", "prompt"}:
            self.error(line, "opt_out: a mapping {key: 9, prompt: PROMPT_ID} (the key, and what "
                             "confirms the opt-out)")
            return None
        key = str(value["key"]).strip()
        if len(key) != 1 or key not in DIGIT_KEYS:
            self.error(value.line_of("key"), f"opt_out: key {value['key']!r} is not a phone key")
            return None
        prompts = self.prompts_value(value["prompt"], value.value_line("prompt"), "opt_out: prompt")
        return (key, prompts) if prompts else None

    def unreachable(self, start, steps, steps_data, known):
        edges: dict[str, set[str]] = {name: set() for name in known}
        for origin, target, _line in self.targets:
            if not target.startswith("flow:") and target in known:
                edges[origin].add(target)
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for name in steps_data:
            if name in known and name not in seen:
                self.warn(steps_data.line_of(name), f"step {name!r} is never reached from "
                                                    f"start step {start!r}")


def check_directory(directory: str | os.PathLike | None = None) -> tuple[FlowSet | None, list[Issue]]:
    """Load and check every flow of a directory. Returns (FlowSet or None, issues)."""
    directory = Path(directory or DEFAULT_DIR)
    issues: list[Issue] = []
    prompts, found = load_prompts(directory / PROMPTS_FILE)
    issues += found
    files = sorted(p for p in directory.glob("*.yaml") if p.name != PROMPTS_FILE)
    names = {p.stem for p in files}
    flows: dict[str, Flow] = {}
    refs: list[tuple[str, int, str]] = []
    defined = set(BUILTIN_VARS) | CUSTOMER_VARS
    for path in files:
        if not FLOW_NAME.match(path.stem):
            issues.append(Issue(path.name, 1, f"bad flow file name {path.name!r}"))
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(Issue(path.name, 1, f"cannot read: {exc}"))
            continue
        data, found = load(text, path.name)
        issues += found
        if data is None:
            continue
        checker = _Checker(path.name, path.stem, prompts, names, text.splitlines())
        flow = checker.flow(data)
        issues += checker.issues
        refs += [(path.name, line, ref) for ref, line in checker.var_refs]
        defined |= checker.vars_defined
        if flow is not None and not any(i.file == path.name and i.severity == "error"
                                        for i in found):
            flows[flow.name] = flow
    for file, line, ref in refs:
        if ref not in defined:
            issues.append(Issue(file, line, f"variable ${{{ref}}} is never set by any flow "
                                            "(set:, collect into:) and is not built in "
                                            "(it will be empty unless the dialplan passes it)",
                                "warning"))
    if not files:
        issues.append(Issue(str(directory), 1, "no flow files (*.yaml) here"))
    issues.sort(key=lambda i: (i.file, i.line, i.severity))
    if prompts is None or any(i.severity == "error" for i in issues):
        return None, issues
    return FlowSet(directory, flows, prompts, [i for i in issues if i.severity != "error"]), issues


def load_flows(directory: str | os.PathLike | None = None) -> FlowSet:
    """Load every flow of `directory` (default: ivr_flows/) or raise FlowError."""
    flows, issues = check_directory(directory)
    if flows is None:
        raise FlowError(issues)
    return flows


class FlowLibrary:
    """The flows of a directory for a long-running server: reloaded when a file changes; a
    change that does not check keeps the last good flows (and logs why)."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory or DEFAULT_DIR)
        self._lock = threading.Lock()
        self._stamp = None
        self._flows: FlowSet | None = None
        self.last_error: FlowError | None = None

    def _signature(self):
        try:
            return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                                for p in self.directory.glob("*.yaml")))
        except OSError:
            return None

    def get(self) -> FlowSet:
        import logging
        stamp = self._signature()
        with self._lock:
            if self._flows is not None and stamp == self._stamp:
                return self._flows
            try:
                flows = load_flows(self.directory)
            except FlowError as exc:
                self._stamp = stamp
                self.last_error = exc
                logging.getLogger("ivr_flows").error("flows in %s do not check:\n%s",
                                                     self.directory, exc)
                if self._flows is None:
                    raise
                return self._flows
            self._flows, self._stamp, self.last_error = flows, stamp, None
            return flows


def prompt_texts(prompts_file: str | os.PathLike | None = None) -> tuple[dict[str, str], str]:
    """({id: text}, voice) from ivr_flows/prompts.yaml (checked like the flows), with the
    segments values are spoken from (ivr_flows/say_zh.py)."""
    path = Path(prompts_file) if prompts_file else DEFAULT_DIR / PROMPTS_FILE
    prompts, issues = load_prompts(path)
    if prompts is None or any(i.severity == "error" for i in issues):
        raise FlowError(issues)
    return prompts.texts, prompts.voice
