"""The Asterisk configuration in dialplan/ and the VM in deploy/ + Vagrantfile.

No Asterisk runs here, so the files are checked three ways:
  * parsed the way Asterisk's config loader and pbx_config read them: sections, templates,
    `exten => name,priority(label),App(args)`, `same => n`, labels, includes; every Goto / GotoIf /
    Gosub / hangup handler target exists; every AGI URL names a registered or planned handler;
  * walked: a small interpreter runs the dialplan for scripted handler outcomes (server
    unreachable, ERROR, DBERROR, each DIALFUNNEL_TRANSFER form, fax, voicemail, hang-up, the
    dialer's answered calls, agents dialling out) and checks where each call ends up, that it was
    recorded and that the hangup handler reports the closed file;
  * the manager snippet (loopback only, placeholder secret, needed classes), pjsip, queues,
    systemd units, the Vagrantfile, and `shellcheck deploy/provision.sh` (the real shellcheck).
"""
from __future__ import annotations

import copy
import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.repo_paths import ROOT

DIALPLAN = ROOT / "dialplan"
EXTENSIONS = DIALPLAN / "extensions_dialfunnel.conf"
MANAGER = DIALPLAN / "manager_dialfunnel.conf"
PJSIP = DIALPLAN / "pjsip_dialfunnel.conf"
QUEUES = DIALPLAN / "queues_dialfunnel.conf"
CONFBRIDGE = DIALPLAN / "confbridge_dialfunnel.conf"
PROVISION = ROOT / "deploy" / "provision.sh"
UNITS = ROOT / "deploy" / "systemd"
VAGRANTFILE = ROOT / "Vagrantfile"

AGI_SERVER = "127.0.0.1:4573"   # settings.agi_host / agi_port defaults; one server per box
AMI_SECRET_PLACEHOLDER = "__DIALFUNNEL_AMI_SECRET__"

# Handlers the dialplan calls, with their contract.
DIALPLAN_HANDLERS = {
    "ivr": "IVR flows (T2): sets DIALFUNNEL_TRANSFER / DIALFUNNEL_FAX / DIALFUNNEL_VOICEMAIL",
    "outbound": "the dialer's answered calls (T4): DIALFUNNEL_TRANSFER=agent:<ext>, ABANDON, MACHINE",
    "recording_done": "hangup handler: args <file>,<kind>; the MixMonitor file is closed (T5)",
    "fax_done": "hangup handler: args <received|sent>,<file>,<status>,<pages>,<fax id> (T8)",
}
# Named by the dialplan but not written yet: a call reaching them gets NOHANDLER. Listed, so
# that this file says what is missing instead of passing it; remove a name when it exists.
MISSING_HANDLERS: dict[str, str] = {}
# Dialplan branches that no code of the product triggers yet: their walks below prove only
# that the dialplan is well formed. The value is what would trigger them.
UNTRIGGERED_BRANCHES: dict[str, str] = {}   # DIALFUNNEL_IVR: tests/agi/dialer/test_voice_campaign.py

# Dialplan applications of a stock Asterisk 22 that these files may use (exact spelling).
KNOWN_APPS = {
    "AGI", "Answer", "EAGI", "ChanSpy", "ConfBridge", "Dial", "Gosub", "Goto", "GotoIf", "Hangup",
    "MixMonitor", "MusicOnHold", "NoOp", "Playback", "Queue", "ReceiveFAX", "Return", "SendFAX",
    "Set", "StopMixMonitor", "UserEvent", "VoiceMail", "VoiceMailMain", "Wait",
}


# -- a small parser for Asterisk's .conf syntax ------------------------------------------------

@dataclasses.dataclass
class Line:
    number: int
    key: str
    op: str      # "=" or "=>"
    value: str


@dataclasses.dataclass
class Section:
    name: str
    options: list[str]      # [name](!) -> ["!"]; [name](tpl) -> ["tpl"]
    number: int
    lines: list[Line] = dataclasses.field(default_factory=list)

    def get(self, key: str) -> list[str]:
        return [line.value for line in self.lines if line.key == key]

    def one(self, key: str) -> str | None:
        values = self.get(key)
        assert len(values) <= 1, f"[{self.name}] sets {key} {len(values)} times"
        return values[0] if values else None


class ConfError(AssertionError):
    pass


def strip_comment(text: str, in_block: bool) -> tuple[str, bool]:
    """Remove `; comments` (`\\;` is a literal semicolon) and `;-- block --;` comments."""
    out = []
    i = 0
    while i < len(text):
        if in_block:
            end = text.find("--;", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 3, False
            continue
        if text.startswith(";--", i):
            in_block = True
            i += 3
            continue
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out), in_block


def parse_conf(path: Path) -> tuple[list[Section], list[str]]:
    """Sections in file order (a name may repeat, as pjsip objects of different types do)
    and the `#include` lines. Raises ConfError on anything Asterisk's loader would reject."""
    sections: list[Section] = []
    includes: list[str] = []
    in_block = False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text, in_block = strip_comment(raw, in_block)
        text = text.strip()
        if not text:
            continue
        where = f"{path.name}:{number}"
        if text.startswith("#"):
            match = re.fullmatch(r"#(include|tryinclude)\s+\"?([^\"\s]+)\"?", text)
            if not match:
                raise ConfError(f"{where}: bad directive {text!r}")
            includes.append(match.group(2))
            continue
        if text.startswith("["):
            match = re.fullmatch(r"\[([^\[\]]+)\](?:\(([^()]*)\))?", text)
            if not match:
                raise ConfError(f"{where}: bad section header {text!r}")
            options = [o.strip() for o in match.group(2).split(",")] if match.group(2) else []
            sections.append(Section(match.group(1), options, number))
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.(),-]+)\s*(=>|=)\s*(.*)", text)
        if not match:
            raise ConfError(f"{where}: not `key = value`: {text!r}")
        if not sections:
            raise ConfError(f"{where}: {text!r} outside any section")
        sections[-1].lines.append(Line(number, match.group(1), match.group(2), match.group(3).strip()))
    if in_block:
        raise ConfError(f"{path.name}: unterminated ;-- block comment")
    return sections, includes


# -- dialplan on top of it ---------------------------------------------------------------------

@dataclasses.dataclass
class Step:
    priority: int
    label: str | None
    app: str
    args: str
    number: int   # line in the file


@dataclasses.dataclass
class Context:
    name: str
    extensions: dict[str, list[Step]]
    includes: list[str]
    hints: dict[str, str] = dataclasses.field(default_factory=dict)   # exten → device


def top_split(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split at `sep` outside (), [], {} and double quotes (how Asterisk separates app args)."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0 and (maxsplit < 0 or len(parts) < maxsplit):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def balanced(text: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


EXTEN_NAME = re.compile(r"^(_[0-9A-Za-z\[\]\-.!+*#]+|[0-9A-Za-z+*#]+)$")


def parse_dialplan(path: Path) -> dict[str, Context]:
    sections, includes = parse_conf(path)
    assert not includes, f"{path.name} must not #include other files"
    contexts: dict[str, Context] = {}
    for section in sections:
        where = f"{path.name}:{section.number}"
        if section.options:
            raise ConfError(f"{where}: templates are not for dialplan contexts")
        if section.name in contexts:
            raise ConfError(f"{where}: context [{section.name}] defined twice")
        if section.name in ("general", "globals"):
            raise ConfError(f"{where}: [{section.name}] belongs to extensions.conf, not a snippet")
        ctx = Context(section.name, {}, [])
        contexts[section.name] = ctx
        current: str | None = None
        for line in section.lines:
            where = f"{path.name}:{line.number}"
            if line.op != "=>":
                raise ConfError(f"{where}: dialplan lines use `=>`")
            if line.key == "include":
                ctx.includes.append(line.value)
                continue
            if line.key == "exten":
                name, rest = (top_split(line.value, ",", 1) + [""])[:2]
                if not EXTEN_NAME.match(name):
                    raise ConfError(f"{where}: bad extension name {name!r}")
                current = name
            elif line.key == "same":
                if current is None:
                    raise ConfError(f"{where}: `same =>` before any `exten =>` in [{ctx.name}]")
                rest = line.value
            else:
                raise ConfError(f"{where}: unknown dialplan keyword {line.key!r}")
            _add_step(ctx, current, rest, where, line.number, line.key == "exten")
    return contexts


def _add_step(ctx: Context, exten: str, rest: str, where: str, number: int, first: bool) -> None:
    prio_text, _, app_text = rest.partition(",")
    if prio_text.strip() == "hint" and first:   # exten => 8001,hint,PJSIP/8001 (device state)
        if exten in ctx.hints or not re.fullmatch(r"PJSIP/[\w${}]+(&PJSIP/[\w${}]+)*", app_text.strip()):
            raise ConfError(f"{where}: bad or second hint for {exten}: {app_text!r}")
        ctx.hints[exten] = app_text.strip()
        return
    match = re.fullmatch(r"\s*(\d+|n)(?:\(([A-Za-z][A-Za-z0-9_-]*)\))?\s*", prio_text)
    if not match:
        raise ConfError(f"{where}: bad priority {prio_text!r}")
    steps = ctx.extensions.setdefault(exten, [])
    if match.group(1) == "n":
        if not steps:
            raise ConfError(f"{where}: priority n with no priority 1 before it ({exten})")
        priority = steps[-1].priority + 1
    else:
        priority = int(match.group(1))
        if first and steps and priority == 1:
            raise ConfError(f"{where}: extension {exten} defined twice in [{ctx.name}]")
        if not steps and priority != 1:
            raise ConfError(f"{where}: extension {exten} must start at priority 1")
        if steps and priority <= steps[-1].priority:
            raise ConfError(f"{where}: priorities of {exten} must increase")
    label = match.group(2)
    if label and any(s.label == label for s in steps):
        raise ConfError(f"{where}: label {label} twice in {exten}")
    app_match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\((.*)\)", app_text.strip())
    if not app_match:
        raise ConfError(f"{where}: not App(args): {app_text!r}")
    app, args = app_match.groups()
    if app not in KNOWN_APPS:
        raise ConfError(f"{where}: unknown or misspelt application {app}")
    if not balanced(args):
        raise ConfError(f"{where}: unbalanced brackets in {app}({args})")
    steps.append(Step(priority, label, app, args, number))


def pattern_regex(name: str) -> re.Pattern:
    """An extension pattern (_X. etc.) as a regex; a literal name matches itself."""
    if not name.startswith("_"):
        return re.compile(re.escape(name) + r"\Z")
    out, i, body = [], 0, name[1:]
    while i < len(body):
        ch = body[i]
        if ch == "[":
            end = body.index("]", i)
            out.append("[" + body[i + 1:end] + "]")
            i = end + 1
            continue
        out.append({"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(ch.upper(), re.escape(ch)))
        i += 1
    return re.compile("".join(out) + r"\Z")


def find_extension(plan: dict[str, Context], context: str, exten: str, seen=()) -> tuple[str, str] | None:
    """(context, extension name) that Asterisk would run for `exten` in `context`: an exact
    name first, then the most specific pattern, then included contexts in order."""
    ctx = plan.get(context)
    if ctx is None or context in seen:
        return None
    if exten in ctx.extensions:
        return context, exten
    matches = [name for name in ctx.extensions if name.startswith("_") and pattern_regex(name).match(exten)]
    if matches:
        # fewer wildcard characters = more specific (enough for these files)
        return context, min(matches, key=lambda n: (sum(n.count(c) for c in ".!X[") , -len(n)))
    for inc in ctx.includes:
        found = find_extension(plan, inc, exten, seen + (context,))
        if found:
            return found
    return None


def parse_target(text: str, context: str, exten: str) -> tuple[str, str, str, str]:
    """Goto/Gosub target `[[context,]exten,]priority[(args)]` -> (context, exten, priority, args)."""
    parts = [p.strip() for p in top_split(text, ",")]
    if len(parts) > 3 or not parts[-1]:
        raise ConfError(f"bad jump target {text!r}")
    parts = [context, exten][: 3 - len(parts)] + parts
    prio, args = parts[2], ""
    match = re.fullmatch(r"([^()]*)\((.*)\)", prio)
    if match:
        prio, args = match.groups()
    return parts[0], parts[1], prio, args


def jump_targets(step: Step) -> list[str]:
    """The raw targets a step may jump to (Goto, GotoIf, Gosub, hangup handlers)."""
    if step.app in ("Goto", "Gosub"):
        return [step.args]
    if step.app == "GotoIf":
        cond_and_rest = top_split(step.args, "?", 1)
        assert len(cond_and_rest) == 2, f"GotoIf without ?: {step.args}"
        return [t for t in top_split(cond_and_rest[1], ":", 1) if t.strip()]
    if step.app == "Set" and step.args.startswith("CHANNEL(hangup_handler_push)="):
        return [step.args.split("=", 1)[1]]
    return []


@pytest.fixture(scope="module")
def plan() -> dict[str, Context]:
    return parse_dialplan(EXTENSIONS)


@pytest.fixture(scope="module")
def handler_names() -> set[str]:
    """Every handler registered by the modules of agi/handlers (the package imports only the
    built-in ones; the server loads the others with --import)."""
    import importlib
    import pkgutil

    import agi.handlers
    for module in pkgutil.iter_modules(agi.handlers.__path__):
        importlib.import_module(f"agi.handlers.{module.name}")
    return set(agi.handlers.registry.names())


# -- static checks of the dialplan ---------------------------------------------------------

def test_parser_rejects_what_asterisk_would(tmp_path):
    bad = {
        "same before exten": "[c]\n same => n,NoOp()\n",
        "n first": "[c]\nexten => s,n,NoOp()\n",
        "priority 2 first": "[c]\nexten => s,2,NoOp()\n",
        "unknown app": "[c]\nexten => s,1,NoOpp(x)\n",
        "no parens": "[c]\nexten => s,1,Answer\n",
        "unbalanced": "[c]\nexten => s,1,Set(A=${B)\n",
        "label twice": "[c]\nexten => s,1(a),NoOp()\n same => n(a),NoOp()\n",
        "outside": "exten => s,1,NoOp()\n",
        "context twice": "[c]\nexten => s,1,NoOp()\n[c]\nexten => t,1,NoOp()\n",
        "extension twice": "[c]\nexten => s,1,NoOp()\nexten => s,1,NoOp()\n",
        "globals": "[globals]\nexten => s,1,NoOp()\n",
    }
    for name, text in bad.items():
        path = tmp_path / "x.conf"
        path.write_text(text)
        with pytest.raises(ConfError):
            parse_dialplan(path)
            pytest.fail(f"accepted: {name}")
    good = tmp_path / "good.conf"
    good.write_text("[c] ; comment\nexten => s,1(start),NoOp(a\\;b)\n same => n,Goto(start)\n"
                    ";-- a block\n comment --;\nexten => _X.,1,Hangup()\ninclude => c\n")
    plan = parse_dialplan(good)
    assert [s.app for s in plan["c"].extensions["s"]] == ["NoOp", "Goto"]
    assert plan["c"].extensions["s"][0].args == "a;b"


def test_the_dialplan_parses_with_the_contexts_we_need(plan):
    for name in ("dialfunnel-inbound", "dialfunnel-outbound", "dialfunnel-agents", "dialfunnel-fax",
                 "dialfunnel-route", "dialfunnel-recording-done", "dialfunnel-fax-done"):
        assert name in plan, f"missing context {name}"
    assert all(name.startswith("dialfunnel-") for name in plan), "contexts share extensions.conf"
    assert sum(len(steps) for ctx in plan.values() for steps in ctx.extensions.values()) > 100


def test_every_jump_target_exists(plan):
    checked = 0
    for ctx in plan.values():
        for inc in ctx.includes:
            assert inc in plan, f"[{ctx.name}] includes unknown context {inc}"
        for exten, steps in ctx.extensions.items():
            for step in steps:
                for raw in jump_targets(step):
                    where = f"{EXTENSIONS.name}:{step.number}"
                    context, name, prio, _ = parse_target(raw, ctx.name, exten)
                    if "${" in context:
                        continue
                    assert context in plan, f"{where}: unknown context {context}"
                    if "${" in name:
                        continue  # dynamic extension: the context has an `i` or a pattern for it
                    found = find_extension(plan, context, name)
                    assert found, f"{where}: no extension {name} in {context}"
                    target_steps = plan[found[0]].extensions[found[1]]
                    if prio.isdigit():
                        assert any(s.priority == int(prio) for s in target_steps), f"{where}: {raw}"
                    else:
                        assert any(s.label == prio for s in target_steps), f"{where}: no label {prio}"
                    checked += 1
    assert checked > 40


def test_dynamic_goto_targets_have_a_catch_all(plan):
    for ctx in plan.values():
        for exten, steps in ctx.extensions.items():
            for step in steps:
                for raw in jump_targets(step):
                    context, name, _, _ = parse_target(raw, ctx.name, exten)
                    if "${" in name and "${" not in context:
                        names = plan[context].extensions
                        assert "i" in names or "_X." in names, \
                            f"{context} needs an `i` extension or a `_X.` catch-all"


def test_subroutines_return_and_hangup_handlers_run_agi(plan):
    for name in ("dialfunnel-config", "dialfunnel-record", "dialfunnel-recording-done",
                 "dialfunnel-fax-done"):
        steps = plan[name].extensions["s"]
        assert steps[-1].app == "Return", f"{name} must end in Return()"
    done = [s.app for s in plan["dialfunnel-recording-done"].extensions["s"]]
    # StopMixMonitor closes the file before dialfunnel is told it is complete.
    assert done.index("StopMixMonitor") < done.index("AGI")


def agi_urls(plan):
    for ctx in plan.values():
        for steps in ctx.extensions.values():
            for step in steps:
                if step.app == "AGI":
                    yield step, top_split(step.args, ",")[0]


def test_every_agi_url_names_a_known_handler(plan, handler_names):
    seen = set()
    for step, url in agi_urls(plan):
        match = re.fullmatch(r"agi://([^/]+)/([^?]*)(?:\?(.*))?", url)
        assert match, f"line {step.number}: not a FastAGI URL: {url}"
        assert match.group(1) == AGI_SERVER, f"line {step.number}: AGI server {match.group(1)}"
        handler = match.group(2)
        assert handler in DIALPLAN_HANDLERS, f"line {step.number}: {handler!r} is not listed"
        seen.add(handler)
    assert seen == set(DIALPLAN_HANDLERS)
    missing = seen - handler_names
    assert missing == set(MISSING_HANDLERS), (
        f"handlers the dialplan calls that no module registers: {sorted(missing)}; "
        f"listed as missing: {sorted(MISSING_HANDLERS)} (update the list)")


def test_the_server_registers_every_handler_the_dialplan_calls():
    """What the FastAGI server loads (`import agi.handlers`, in a fresh interpreter: this test
    process has imported every handler module) answers every AGI() of the dialplan: fax_done
    was registered only when its module happened to be imported, so a real Asterisk's
    received faxes got no handler."""
    import subprocess
    import sys
    names = subprocess.run(
        [sys.executable, "-c", "import agi.handlers; print(*agi.handlers.registry.names())"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert set(DIALPLAN_HANDLERS) - set(names) == set()


def test_missing_handlers_have_valid_names():
    from agi.fastagi.dispatch import Registry
    registry = Registry()
    for name in MISSING_HANDLERS:
        registry.register(name, lambda agi, session, args: None)  # raises on a bad name


def product_sources() -> str:
    """The product's code (the PBX simulator plays the dialplan: it is not the product)."""
    roots = [ROOT / name for name in ("agi", "admin", "models", "ivr_flows", "dialfunnel", "recordings")]
    return "\n".join(path.read_text(encoding="utf-8") for root in roots
                     for path in sorted(root.rglob("*.py")) if "pbxsim" not in path.parts)


def test_untriggered_branches_are_listed():
    """A branch the product triggers is one whose name the code uses (a handler setting
    DIALFUNNEL_IVR, a Redirect into dialfunnel-conference); the others are listed above."""
    text = EXTENSIONS.read_text(encoding="utf-8")
    sources = product_sources()
    for name in UNTRIGGERED_BRANCHES:
        assert name in text, f"{name} is no longer in the dialplan: drop it from the list"
    untriggered = {name for name in UNTRIGGERED_BRANCHES if name not in sources}
    assert untriggered == set(UNTRIGGERED_BRANCHES), (
        f"now triggered by the code: {sorted(set(UNTRIGGERED_BRANCHES) - untriggered)}: "
        "remove them from UNTRIGGERED_BRANCHES and test the product path")


def test_every_agi_call_resets_the_status_first(plan):
    """DIALFUNNEL_STATUS is empty only when the server was unreachable, so it must be
    cleared before each AGI (a stale OK from an earlier AGI would hide the failure)."""
    for ctx in plan.values():
        for steps in ctx.extensions.values():
            for i, step in enumerate(steps):
                if step.app == "AGI":
                    before = [s.args for s in steps[:i] if s.app == "Set"]
                    assert "DIALFUNNEL_STATUS=" in before, f"line {step.number}"


def test_recordings_go_to_the_spool_with_the_uniqueid(plan):
    mix = [s for ctx in plan.values() for steps in ctx.extensions.values() for s in steps
           if s.app == "MixMonitor"]
    assert len(mix) == 1, "one recording subroutine"
    assert top_split(mix[0].args, ",")[0] == "/var/spool/asterisk/monitor/dialfunnel/${UNIQUEID}.wav"


def test_recordings_write_the_two_sides_apart_beside_the_mixed_file(plan):
    """r() and t(): recordings/talk.py measures who talked from them (issue 16)."""
    call = inbound(plan, {"DIALFUNNEL_STATUS": "OK"})
    spool = "/var/spool/asterisk/monitor/dialfunnel/1700000000.42"
    assert call.used("MixMonitor")[0] == [f"{spool}.wav", f"r({spool}-r.wav)t({spool}-t.wav)"]


def test_queues_in_the_dialplan_exist(plan):
    queues = {s.name for s in parse_conf(QUEUES)[0]}
    for ctx in plan.values():
        for steps in ctx.extensions.values():
            for step in steps:
                if step.app == "Queue":
                    name = top_split(step.args, ",")[0]
                    assert "${" in name or name in queues, f"line {step.number}: queue {name}"


# -- walking the dialplan --------------------------------------------------------------------

class Hangup(Exception):
    pass


def expr_eval(text: str) -> str:
    """Asterisk $[...] after substitution: "a" = "b", !=, &, | (enough for these files)."""
    tokens = re.findall(r'"[^"]*"|!=|=|&|\||[^\s"=!&|]+', text)
    pos = 0

    def atom():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok[1:-1] if tok.startswith('"') else tok

    def comparison():
        nonlocal pos
        left = atom()
        if pos < len(tokens) and tokens[pos] in ("=", "!="):
            op = tokens[pos]
            pos += 1
            right = atom()
            return "1" if (left == right) == (op == "=") else "0"
        return left

    def truth(value):
        return value not in ("", "0")

    def conj():
        nonlocal pos
        value = comparison()
        while pos < len(tokens) and tokens[pos] == "&":
            pos += 1
            other = comparison()
            value = "1" if truth(value) and truth(other) else "0"
        return value

    value = conj()
    while pos < len(tokens) and tokens[pos] == "|":
        pos += 1
        other = conj()
        value = "1" if truth(value) or truth(other) else "0"
    assert pos == len(tokens), f"cannot evaluate $[{text}]"
    return value


def filter_chars(allowed: str, value: str) -> str:
    chars = set()
    i = 0
    while i < len(allowed):
        if i + 2 < len(allowed) and allowed[i + 1] == "-":
            chars.update(chr(c) for c in range(ord(allowed[i]), ord(allowed[i + 2]) + 1))
            i += 3
        else:
            chars.add(allowed[i])
            i += 1
    return "".join(ch for ch in value if ch in chars)


class Call:
    """One channel walking the dialplan. `agi(handler, query, args, call)` plays the FastAGI
    server: it returns the variables the handler sets (None: the server is unreachable).
    `results` gives what Dial/Queue leave behind, e.g. {"DIALSTATUS": "NOANSWER"}; DIALSTATUS
    ANSWER or an empty QUEUESTATUS mean the call was bridged and ended there."""

    def __init__(self, plan, agi, variables=None, results=None, uniqueid="1700000000.42"):
        self.plan = plan
        self.agi = agi
        self.vars = {"UNIQUEID": uniqueid, "CALLERID(num)": "13800138000"}
        self.vars.update(variables or {})
        self.results = results or {}
        self.apps: list[tuple[str, list[str]]] = []
        self.handlers: list[tuple[str, str, str, list[str]]] = []
        self.agi_calls: list[tuple[str, str, list[str]]] = []
        self.callees: list["Call"] = []   # the channels Dial's b() pre-dial handler ran on

    # substitution, as pbx_substitute_variables does before each application
    def expand(self, text: str) -> str:
        out, i = [], 0
        while i < len(text):
            if text.startswith("${", i) or text.startswith("$[", i):
                open_, close = text[i + 1], "}" if text[i + 1] == "{" else "]"
                depth, j = 0, i + 1
                while True:
                    if text[j] == open_:
                        depth += 1
                    elif text[j] == close:
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                inner = self.expand(text[i + 2:j])
                out.append(self.lookup(inner) if open_ == "{" else expr_eval(inner))
                i = j + 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def lookup(self, name: str) -> str:
        exists = re.fullmatch(r"CHANNEL_EXISTS\((.*)\)", name)
        if exists:
            return "1" if exists.group(1) in self.vars.get("LIVE_CHANNELS", "").split() else "0"
        match = re.fullmatch(r"(CUT|FILTER)\((.*)\)", name)
        if match and match.group(1) == "CUT":
            var, delim, field = top_split(match.group(2), ",")
            pieces = self.vars.get(var, "").split(delim)
            n = int(field)
            return pieces[n - 1] if n <= len(pieces) else ""
        if match:
            allowed, value = top_split(match.group(2), ",", 1)
            return filter_chars(allowed, value)
        return self.vars.get(name, "")

    def run(self, context: str, exten: str, priority: int = 1, max_steps: int = 300) -> str:
        """Run until Hangup() ("hangup"), the end of an extension ("end") or a Return() with
        nothing to return to ("returned": how a hangup handler ends)."""
        try:
            return self._run(context, exten, priority, max_steps)
        except Hangup:
            return "hangup"

    def _find(self, context, exten):
        found = find_extension(self.plan, context, exten)
        if found is None and "i" in self.plan[context].extensions:
            found = (context, "i")  # Asterisk sends a jump to an unknown extension to `i`
        assert found, f"no extension {exten} in {context}"
        return found

    def _run(self, context, exten, priority, max_steps):
        stack = []
        for _ in range(max_steps):
            context, name = self._find(context, exten)
            steps = self.plan[context].extensions[name]
            index = next((k for k, s in enumerate(steps) if s.priority == priority), None)
            if index is None:
                return "end"  # ran off the end of the extension: Asterisk hangs up
            step = steps[index]
            self.vars["EXTEN"] = exten
            data = self.expand(step.args)
            jump = self.execute(step.app, data, context, exten)
            if jump is None:
                priority = steps[index + 1].priority if index + 1 < len(steps) else priority + 1
                continue
            kind, target = jump
            if kind == "return":
                if not stack:
                    return "returned"
                context, exten, priority, saved = stack.pop()
                for key in [k for k in self.vars if re.fullmatch(r"ARG\d+", k)]:
                    del self.vars[key]
                self.vars.update(saved)  # Gosub arguments are LOCAL to the subroutine
                continue
            ctx, ext, prio, args = parse_target(target, context, exten)
            if kind == "gosub":
                after = steps[index + 1].priority if index + 1 < len(steps) else priority + 1
                saved = {k: v for k, v in self.vars.items() if re.fullmatch(r"ARG\d+", k)}
                stack.append((context, exten, after, saved))
                for key in saved:
                    del self.vars[key]
                for n, arg in enumerate(top_split(args, ",") if args else [], 1):
                    self.vars[f"ARG{n}"] = arg
            context, exten = ctx, ext
            found_ctx, found_name = self._find(context, exten)
            target_steps = self.plan[found_ctx].extensions[found_name]
            priority = int(prio) if prio.isdigit() else next(s.priority for s in target_steps if s.label == prio)
        raise AssertionError("dialplan loop")

    def execute(self, app, data, context, exten):
        args = top_split(data, ",")
        self.apps.append((app, args))
        if app == "Hangup":
            raise Hangup()
        if app == "Goto":
            return "goto", data
        if app == "Gosub":
            return "gosub", data
        if app == "Return":
            return "return", None
        if app == "GotoIf":
            cond, rest = top_split(data, "?", 1)
            true, _, false = rest.partition(":")
            target = true if cond.strip() not in ("", "0") else false
            return ("goto", target) if target else None
        if app == "Set":
            name, _, value = data.partition("=")
            if name == "CHANNEL(hangup_handler_push)":
                ctx, ext, prio, hargs = parse_target(value, context, exten)
                self.handlers.append((ctx, ext, prio, top_split(hargs, ",") if hargs else []))
            else:
                self.vars[name] = value
            return None
        if app == "MixMonitor":
            self.vars["MIXMONITOR_FILENAME"] = args[0]
        elif app == "AGI":
            match = re.fullmatch(r"agi://[^/]+/([^?]*)(?:\?(.*))?", args[0])
            self.agi_calls.append((match.group(1), match.group(2) or "", args[1:]))
            outcome = self.agi(match.group(1), match.group(2) or "", args[1:], self)
            self.vars["AGISTATUS"] = "FAILURE" if outcome is None else "SUCCESS"
            self.vars.update(outcome or {})
        elif app in ("Dial", "Queue"):
            if app == "Dial":
                self.pre_dial(args[2] if len(args) > 2 else "")
            self.vars.update(self.results)
            # Bridged, then the other side hung up: without Dial's g / Queue's c option the
            # caller is hung up too (ami-dial.txt), so the dialplan does not go on.
            if app == "Dial" and self.vars.get("DIALSTATUS") == "ANSWER" and \
                    "g" not in (args[2] if len(args) > 2 else ""):
                raise Hangup()
            if app == "Queue" and "QUEUESTATUS" in self.results and not self.vars.get("QUEUESTATUS"):
                raise Hangup()
        return None

    def pre_dial(self, options: str) -> None:
        """Dial's b(context^exten^priority(args)): a Gosub on the new (callee) channel before it
        rings (app_dial.c ast_pre_call); the callee gets the next uniqueid, its own variables."""
        match = re.search(r"b\(([^()^]+)\^([^()^]+)\^(\d+)(?:\((.*?)\))?\)", options)
        if not match:
            return
        context, exten, priority, args = match.groups()
        uniqueid = self.vars["UNIQUEID"].rsplit(".", 1)
        callee = Call(self.plan, self.agi, uniqueid=f"{uniqueid[0]}.{int(uniqueid[1]) + 1}")
        for n, arg in enumerate(top_split(args, ",") if args else [], 1):
            callee.vars[f"ARG{n}"] = arg
        assert callee.run(context, exten, int(priority), 50) == "returned", "b() must Return()"
        self.callees.append(callee)

    def hang_up(self) -> None:
        """Run the hangup handlers, last pushed first (as Asterisk does); each must Return()."""
        while self.handlers:
            ctx, ext, prio, args = self.handlers.pop()
            for key in [k for k in self.vars if re.fullmatch(r"ARG\d+", k)]:
                del self.vars[key]
            for n, arg in enumerate(args, 1):
                self.vars[f"ARG{n}"] = arg
            assert self.run(ctx, ext, int(prio), 50) == "returned", f"hangup handler {ctx} must Return()"

    def ended_in(self) -> tuple[str, list[str]]:
        """The last application that connected the caller somewhere (or Hangup)."""
        for app, args in reversed(self.apps):
            if app in ("Queue", "Dial", "VoiceMail", "SendFAX", "ReceiveFAX", "Playback",
                       "ConfBridge", "VoiceMailMain"):
                return app, args
        return "Hangup", []

    def used(self, app: str) -> list[list[str]]:
        return [args for a, args in self.apps if a == app]


def ivr_outcome(variables):
    """An `ivr` handler that leaves these variables (None: server unreachable)."""
    def agi(handler, query, args, call):
        assert handler == "ivr" and query == "flow=main"
        return variables
    return agi


def inbound(plan, variables, results=None, did="02150001234"):
    call = Call(plan, ivr_outcome(variables), results=results)
    call.run("dialfunnel-inbound", did)
    return call


def assert_recorded_and_reported(call, kind, uniqueid="1700000000.42"):
    path = f"/var/spool/asterisk/monitor/dialfunnel/{uniqueid}.wav"
    assert call.used("MixMonitor")[0][0] == path
    reported = []
    call.agi = lambda handler, query, args, c: reported.append((handler, args)) or {"DIALFUNNEL_STATUS": "OK"}
    apps_before = len(call.apps)
    call.hang_up()
    after = [app for app, _ in call.apps[apps_before:]]
    assert after.index("StopMixMonitor") < after.index("AGI")
    assert ("recording_done", [path, kind]) in reported


@pytest.mark.parametrize("status", [None, "", "ERROR", "DBERROR", "NOHANDLER"])
def test_inbound_failures_go_straight_to_the_sales_queue(plan, status):
    variables = None if status is None else {"DIALFUNNEL_STATUS": status}
    call = inbound(plan, variables, results={"QUEUESTATUS": "TIMEOUT"})
    assert call.used("Queue")[0][0] == "sales"
    assert call.used("AGI")[0][0] == f"agi://{AGI_SERVER}/ivr?flow=main"
    assert call.used("VoiceMail") == [["8000@dialfunnel", "u"]], "the queue gave up: voicemail"
    assert_recorded_and_reported(call, "inbound")


@pytest.mark.parametrize("transfer, app, first_arg", [
    ("queue:support", "Queue", "support"),
    ("agent:8003", "Dial", "PJSIP/8003"),
    ("exten:8005", "Dial", "PJSIP/8005"),
    ("exten:8000", "Queue", "sales"),
    ("exten:7777", "Queue", "sales"),          # unknown internal number: `i` -> sales
    ("exten:8500", "Queue", "sales"),          # agents' voicemail login is not for callers
    ("agent:", "Queue", "sales"),
    ("voicemail:1", "Queue", "sales"),         # unknown kind
    ("agent:8003&PJSIP/evil,,g", "Dial", "PJSIP/8003"),
    ("queue:sales,tTx,,,1", "Queue", "salestx1"),
])
def test_inbound_transfers(plan, transfer, app, first_arg):
    call = inbound(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_TRANSFER": transfer},
                   results={"DIALSTATUS": "ANSWER", "QUEUESTATUS": ""})
    used = call.used(app)
    assert used and used[0][0] == first_arg, call.apps
    for args in call.used("Dial") + call.used("Queue"):
        assert "&" not in args[0] and len(args) <= 5, "a transfer target smuggled in arguments"


@pytest.mark.parametrize("variables, app, args", [
    # the ivr handler's outcome words (agi/handlers/ivr.py, ivr_flows/main.yaml)
    ({"DIALFUNNEL_STATUS": "TRANSFER", "DIALFUNNEL_TRANSFER": "queue:sales"}, "Queue", "sales"),
    ({"DIALFUNNEL_STATUS": "TRANSFER", "DIALFUNNEL_TRANSFER": "agent:8004"}, "Dial", "PJSIP/8004"),
    ({"DIALFUNNEL_STATUS": "TRANSFER"}, "Queue", "sales"),
    ({"DIALFUNNEL_STATUS": "VOICEMAIL", "DIALFUNNEL_VOICEMAIL": "8000@dialfunnel"}, "VoiceMail",
     "8000@dialfunnel"),
    ({"DIALFUNNEL_STATUS": "FAX", "DIALFUNNEL_FAX_DOCUMENT": "product-sheet"}, "SendFAX",
     "/var/spool/asterisk/fax/dialfunnel/out/product-sheet.tif"),
    ({"DIALFUNNEL_STATUS": "FAX", "DIALFUNNEL_FAX_DOCUMENT": "../../etc/passwd"}, "SendFAX",
     "/var/spool/asterisk/fax/dialfunnel/out/etcpasswd.tif"),
    ({"DIALFUNNEL_STATUS": "FAX"}, "Queue", "sales"),
    ({"DIALFUNNEL_STATUS": "NOFLOW"}, "Queue", "sales"),
    ({"DIALFUNNEL_STATUS": "CALLBACK"}, "Hangup", None),
    ({"DIALFUNNEL_STATUS": "COMPLETED", "DIALFUNNEL_TRANSFER": "queue:sales"}, "Hangup", None),
    ({"DIALFUNNEL_STATUS": "FAILED"}, "Hangup", None),
])
def test_inbound_ivr_outcomes(plan, variables, app, args):
    call = inbound(plan, variables, results={"DIALSTATUS": "ANSWER", "QUEUESTATUS": ""})
    ended = call.ended_in()
    assert ended[0] == app, call.apps
    if args is not None:
        assert ended[1][0] == args


def test_inbound_agent_not_answering_falls_back_to_the_queue(plan):
    call = inbound(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_TRANSFER": "agent:8003"},
                   results={"DIALSTATUS": "NOANSWER"})
    assert call.used("Dial")[0][:2] == ["PJSIP/8003", "20"]
    assert call.used("Dial")[0][2].startswith("tF(dialfunnel-hold^agent^1)")   # kept on a hold
    assert call.used("Queue")[0][0] == "sales"


def test_inbound_fax_on_demand(plan):
    sheet = "/var/spool/asterisk/fax/dialfunnel/out/product-7.tif"
    call = inbound(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_FAX": sheet})
    assert call.ended_in() == ("SendFAX", [sheet, "f"])
    assert not call.used("Queue")
    reported = []
    call.agi = lambda handler, query, args, c: reported.append((handler, args)) or {}
    call.vars.update({"FAXOPT(status)": "SUCCESS", "FAXOPT(pages)": "2"})
    call.hang_up()
    assert ("fax_done", ["sent", sheet, "SUCCESS", "2", ""]) in reported   # no fax row
    assert "recording_done" in [h for h, _ in reported]


def test_web_fax_reports_its_row_and_sets_the_station_id(plan):
    """The sender's Originate into dialfunnel-fax,send (agi/fax_sender.py): the fax row's id
    comes back to fax_done, filtered to digits."""
    tiff = "/srv/dialfunnel/faxes/out/ab12.tif"
    for given, reported_id in (("12", "12"), ("12,evil", "12"), ("", "")):
        call = Call(plan, ivr_outcome({}), variables={"DIALFUNNEL_FAX": tiff,
                                                      "DIALFUNNEL_FAX_ID": given})
        call.run("dialfunnel-fax", "send")
        assert call.ended_in() == ("SendFAX", [tiff, "f"])
        assert "FAXOPT(localstationid)" in call.vars and "FAXOPT(headerinfo)" in call.vars
        reported = []
        call.agi = lambda handler, query, args, c: reported.append((handler, args)) or {}
        call.vars.update({"FAXOPT(status)": "FAILED", "FAXOPT(pages)": "0"})
        call.hang_up()
        assert reported == [("fax_done", ["sent", tiff, "FAILED", "0", reported_id])]


def test_inbound_voicemail_and_plain_endings(plan):
    call = inbound(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_VOICEMAIL": "8001@dialfunnel"})
    assert call.ended_in() == ("VoiceMail", ["8001@dialfunnel", "u"])
    for variables in ({"DIALFUNNEL_STATUS": "OK"}, {"DIALFUNNEL_STATUS": "HANGUP"},
                      {"DIALFUNNEL_STATUS": "HANGUP", "DIALFUNNEL_TRANSFER": "queue:sales"}):
        call = inbound(plan, variables)
        assert call.ended_in() == ("Hangup", []), variables
        assert call.apps[-1][0] == "Hangup"


def test_inbound_fax_line_and_fax_tone(plan):
    call = Call(plan, ivr_outcome({}), variables={})
    call.run("dialfunnel-inbound", "fax")
    assert call.ended_in() == ("ReceiveFAX", ["/var/spool/asterisk/fax/dialfunnel/1700000000.42.tif", "f"])
    assert call.handlers[-1][:3] == ("dialfunnel-fax-done", "s", "1")


def test_inbound_without_a_did_and_with_a_plus(plan):
    for exten in ("s", "+862150001234"):
        call = Call(plan, ivr_outcome({"DIALFUNNEL_STATUS": "OK"}))
        call.run("dialfunnel-inbound", exten)
        assert call.used("AGI"), exten


def outbound_call(plan, variables, results=None):
    def agi(handler, query, args, call):
        if handler == "ivr":
            return {"DIALFUNNEL_STATUS": "OK"}
        assert handler == "outbound" and not query
        return variables
    call = Call(plan, agi, variables={"DIALFUNNEL_CAMPAIGN": "3", "DIALFUNNEL_ATTEMPT": "991"},
                results=results)
    call.run("dialfunnel-outbound", "s")
    return call


def test_outbound_bridges_to_the_agent(plan):
    call = outbound_call(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_TRANSFER": "agent:8002"},
                         results={"DIALSTATUS": "ANSWER"})
    assert call.ended_in()[0] == "Dial" and call.used("Dial")[0][0] == "PJSIP/8002"
    assert not call.used("UserEvent")
    assert_recorded_and_reported(call, "outbound")


@pytest.mark.parametrize("variables, results", [
    ({"DIALFUNNEL_STATUS": "ABANDON"}, None),
    (None, None),                                      # server unreachable
    ({"DIALFUNNEL_STATUS": "ERROR"}, None),
    ({"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_TRANSFER": "agent:8002"}, {"DIALSTATUS": "NOANSWER"}),
    ({"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_TRANSFER": "queue:sales"}, {"QUEUESTATUS": "TIMEOUT"}),
])
def test_outbound_abandon_message(plan, variables, results):
    call = outbound_call(plan, variables, results)
    assert call.ended_in() == ("Playback", ["dialfunnel/abandon"])
    assert call.used("UserEvent") == [["DialfunnelAbandon", "Campaign: 3", "Attempt: 991"]]


def test_outbound_machine_and_ivr(plan):
    """The IVR part only checks the dialplan's syntax (UNTRIGGERED_BRANCHES)."""
    call = outbound_call(plan, {"DIALFUNNEL_STATUS": "MACHINE", "DIALFUNNEL_MESSAGE": "msg-3"})
    assert call.ended_in() == ("Playback", ["dialfunnel/msg-3"])
    call = outbound_call(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_IVR": "survey"})
    assert ("ivr", "flow=survey", []) in call.agi_calls
    call = outbound_call(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_IVR": "x,y&z"})
    assert ("ivr", "flow=xyz", []) in call.agi_calls


@pytest.mark.parametrize("number", ["13800138000", "02150001234", "0085212345678", "62345678",
                                    "4008001234", "95588", "10086", "12345", "110", "120"])
def test_agents_dial_out_through_the_trunk_recorded(plan, number):
    call = Call(plan, lambda *a: {}, variables={"CALLERID(num)": "8001"})
    call.run("dialfunnel-agents", number)
    assert call.used("Dial") == [[f"PJSIP/{number}@dialfunnel-trunk", "60",
                                  f"gTb(dialfunnel-record-customer^s^1(8001,{number}))"]]
    assert call.vars["DIALFUNNEL_AGENT"] == "8001"
    assert_customer_recorded(call, "8001", number)


def assert_customer_recorded(call, agent, number):
    """An agent's own call is recorded on the customer's channel (the one that stays through
    hold, transfers and three-way rooms), not the agent's; its hangup handler reports the file
    with what recording_done reads there."""
    assert not call.used("MixMonitor") and not call.handlers, "nothing recorded on the agent's side"
    [customer] = call.callees
    assert customer.used("MixMonitor")[0][1].startswith("br("), "agent calls record only while bridged"
    assert (customer.vars["DIALFUNNEL_AGENT"], customer.vars["DIALFUNNEL_PEER"]) == (agent, number)
    assert_recorded_and_reported(customer, "agent", uniqueid="1700000000.43")


def test_agents_company_caller_id_when_configured(plan):
    site = copy.deepcopy(plan)  # the site set DF_OUTBOUND_CALLERID in dialfunnel-config
    for step in site["dialfunnel-config"].extensions["s"]:
        if step.args == "DF_OUTBOUND_CALLERID=":
            step.args = "DF_OUTBOUND_CALLERID=02150001234"
    call = Call(site, lambda *a: {}, variables={"CALLERID(num)": "8001"})
    call.run("dialfunnel-agents", "13800138000")
    assert call.vars["CALLERID(num)"] == "02150001234"
    assert call.vars["DIALFUNNEL_AGENT"] == "8001"
    call = Call(plan, lambda *a: {}, variables={"CALLERID(num)": "8001"})
    call.run("dialfunnel-agents", "13800138000")
    assert call.vars["CALLERID(num)"] == "8001", "empty setting: the caller ID is left alone"


def test_agents_internal_numbers(plan):
    call = Call(plan, lambda *a: {}, variables={"CALLERID(num)": "8001"},
                results={"DIALSTATUS": "NOANSWER"})
    call.run("dialfunnel-agents", "8002")
    assert call.used("Dial") == [["PJSIP/8002", "20", "tT"]]
    assert call.used("VoiceMail") == [["8002@dialfunnel", "u"]]
    assert not call.used("MixMonitor")
    call = Call(plan, lambda *a: {}, variables={"CALLERID(num)": "8001"})
    call.run("dialfunnel-agents", "8500")
    assert call.used("VoiceMailMain") == [["8001@dialfunnel"]]
    assert find_extension(plan, "dialfunnel-agents", "9999") is None, "no catch-all for agents"


@pytest.mark.parametrize("leaves, profile", [("stay", "dialfunnel_party_stays"), ("end", "dialfunnel_party")])
def test_three_way_conference_room(plan, leaves, profile):
    """agi/console/conference.py redirects the agent into -agent and the customer (and
    originates third parties) into dialfunnel-conference, room = the call's id."""
    call = Call(plan, lambda *a: {})
    call.run("dialfunnel-conference-agent", "1234")
    assert call.used("ConfBridge") == [["dialfunnel-1234", "dialfunnel_bridge", "dialfunnel_agent"]]
    plan = copy.deepcopy(plan)
    config = plan["dialfunnel-config"].extensions["s"]
    [step] = [s for s in config if s.args.startswith("DF_CONF_AGENT_LEAVES=")]
    step.args = f"DF_CONF_AGENT_LEAVES={leaves}"
    call = Call(plan, lambda *a: {})
    assert call.run("dialfunnel-conference", "1234") == "hangup"
    assert call.used("ConfBridge") == [["dialfunnel-1234", "dialfunnel_bridge", profile]]


def test_the_stock_setting_keeps_the_call_when_the_agent_leaves(plan):
    call = Call(plan, lambda *a: {})
    call.run("dialfunnel-conference", "77")
    assert call.used("ConfBridge")[0][2] == "dialfunnel_party_stays"


def test_confbridge_profiles_mark_the_agent_and_end_marked_is_a_choice(plan):
    sections, includes = parse_conf(CONFBRIDGE)
    assert not includes
    profiles = {s.name: s for s in sections}
    used = {top_split(step.args, ",")[2] for ctx in ("dialfunnel-conference", "dialfunnel-conference-agent")
            for step in plan[ctx].extensions["_X."] if step.app == "ConfBridge"}
    assert profiles["dialfunnel_bridge"].one("type") == "bridge"
    assert profiles["dialfunnel_agent"].one("type") == "user"
    assert profiles["dialfunnel_agent"].one("marked") == "yes"
    assert profiles["dialfunnel_party"].one("end_marked") == "yes"
    assert profiles["dialfunnel_party_stays"].one("end_marked") == "no"
    for name in ("dialfunnel_agent", "dialfunnel_party", "dialfunnel_party_stays"):
        assert profiles[name].one("type") == "user"
        assert profiles[name].one("quiet") == "yes"
        assert profiles[name].one("announce_only_user") == "no"
    assert "dialfunnel_agent" in used and "${DF_CONF_USER}" in used


@pytest.mark.parametrize("mode, options", [("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")])
def test_spy_modes_ring_the_manager_into_chanspy(plan, mode, options):
    call = Call(plan, lambda *a: {}, {"DF_SPY_TARGET": "PJSIP/8001-0000002a", "CALLERID(num)": "8009"})
    assert call.run("dialfunnel-spy", mode) == "hangup"
    assert call.used("ChanSpy") == [["PJSIP/8001-0000002a", options]]


def test_the_spy_target_cannot_add_chanspy_options_or_reach_the_spy_without_a_mode(plan):
    call = Call(plan, lambda *a: {}, {"DF_SPY_TARGET": "PJSIP/8001-0000002a,qBv(4)"})
    call.run("dialfunnel-spy", "listen")
    assert call.used("ChanSpy") == [["PJSIP/8001-0000002aqBv4", "qE"]]
    call = Call(plan, lambda *a: {}, {"DF_SPY_TARGET": "PJSIP/8001-0000002a"})
    call.run("dialfunnel-spy", "spy")
    assert call.used("ChanSpy") == []
    call = Call(plan, lambda *a: {}, {"DF_SPY_TARGET": ",,"})
    call.run("dialfunnel-spy", "whisper")
    assert call.used("ChanSpy") == []


def test_the_spy_context_is_for_supervisors_only(plan):
    """No phone reaches dialfunnel-spy: no context includes it, no endpoint has it."""
    assert all("dialfunnel-spy" not in ctx.includes for ctx in plan.values())
    sections, _ = parse_conf(PJSIP)
    assert all("dialfunnel-spy" not in s.get("context") for s in sections)
    for ctx in plan.values():
        for steps in ctx.extensions.values():
            for step in steps:
                for raw in jump_targets(step):
                    if ctx.name != "dialfunnel-spy":
                        assert "dialfunnel-spy" not in raw


# -- the call bar's hold and transfers (agi/console/commands.py) ----------------------------

def test_the_call_bar_reaches_its_contexts(plan):
    from agi.console.commands import STATUS_CONTEXT
    from models.telephony.call_commands import HOLD_CONTEXT, TRANSFER_CONTEXT, TRANSFER_QUEUES
    assert HOLD_CONTEXT in plan and TRANSFER_CONTEXT in plan
    assert find_extension(plan, HOLD_CONTEXT, "s") == (HOLD_CONTEXT, "s")
    assert plan[STATUS_CONTEXT].hints == {"_80XX": "PJSIP/${EXTEN}"}, "ExtensionState needs hints"
    queues = {s.name for s in parse_conf(QUEUES)[0]}
    for queue in TRANSFER_QUEUES:
        assert queue in queues and find_extension(plan, TRANSFER_CONTEXT, queue) == (TRANSFER_CONTEXT, queue)


def _dial_option_targets(step):
    """The dialplan locations a Dial's or Queue's F() / b() options name (context^exten^priority)."""
    args = top_split(step.args, ",")
    options = args[1 if step.app == "Queue" else 2] if len(args) > (1 if step.app == "Queue" else 2) else ""
    for match in re.finditer(r"([Fb])\(([^()^]+)\^([^()^]+)\^(\d+)", options):
        yield match.group(1), match.group(2), match.group(3), int(match.group(4))


def test_dial_options_name_existing_places(plan):
    seen = set()
    for ctx in plan.values():
        for steps in ctx.extensions.values():
            for step in steps:
                if step.app in ("Dial", "Queue"):
                    for option, context, exten, priority in _dial_option_targets(step):
                        found = find_extension(plan, context, exten)
                        assert found and plan[found[0]].extensions[found[1]][0].priority == priority
                        seen.add((option, context, exten))
    assert seen == {("F", "dialfunnel-hold", "agent"), ("b", "dialfunnel-hold", "peer"),
                    ("b", "dialfunnel-record-customer", "s")}


def test_hold_music_for_the_customer(plan):
    call = Call(plan, lambda *a: {})
    assert call.run("dialfunnel-hold", "s") == "hangup"
    assert call.used("MusicOnHold") == [["", "600"]]


def test_the_agent_waits_while_the_customer_is_held(plan):
    held = Call(plan, lambda *a: {}, variables={
        "DF_HELD_PEER": "PJSIP/dialfunnel-trunk-00000007", "LIVE_CHANNELS": "PJSIP/dialfunnel-trunk-00000007"})
    with pytest.raises(AssertionError, match="dialplan loop"):
        held.run("dialfunnel-hold", "agent", max_steps=40)     # until the Bridge action takes it
    assert len(held.used("Wait")) > 5
    gone = Call(plan, lambda *a: {}, variables={"DF_HELD_PEER": "PJSIP/dialfunnel-trunk-00000007"})
    assert gone.run("dialfunnel-hold", "agent") == "hangup" and not gone.used("Wait")


def test_an_agents_own_call_survives_the_customers_hold(plan):
    """dialfunnel-trunk-out's Dial has g: when the customer is redirected to the hold music the
    agent's channel goes on, and waits while the customer is held."""
    peer = "PJSIP/dialfunnel-trunk-00000007"
    call = Call(plan, lambda *a: {}, variables={"CALLERID(num)": "8001", "LIVE_CHANNELS": peer},
                results={"DIALSTATUS": "ANSWER", "DIALEDPEERNAME": peer})
    with pytest.raises(AssertionError, match="dialplan loop"):
        call.run("dialfunnel-agents", "13800138000", max_steps=60)
    assert call.vars["DF_HELD_PEER"] == peer and call.used("Wait")
    ended = Call(plan, lambda *a: {}, variables={"CALLERID(num)": "8001"},
                 results={"DIALSTATUS": "ANSWER", "DIALEDPEERNAME": peer})
    assert ended.run("dialfunnel-agents", "13800138000") == "hangup"   # the customer hung up


def test_the_dialers_agent_leg_survives_the_customers_hold(plan):
    """The agent's phone is the called side of the dialer's call: F() sends it to the hold
    wait when the customer leaves the bridge, b() told it who the customer is."""
    call = outbound_call(plan, {"DIALFUNNEL_STATUS": "OK", "DIALFUNNEL_TRANSFER": "agent:8002"},
                         results={"DIALSTATUS": "ANSWER"})
    [dial] = call.used("Dial")
    assert dial[2].startswith("t") and "F(dialfunnel-hold^agent^1)" in dial[2]
    assert "b(dialfunnel-hold^peer^1(" in dial[2]
    phone = Call(plan, lambda *a: {})
    phone.vars["ARG1"] = "PJSIP/dialfunnel-trunk-00000003"
    assert phone.run("dialfunnel-hold", "peer") == "returned"
    assert phone.vars["DF_HELD_PEER"] == "PJSIP/dialfunnel-trunk-00000003"


@pytest.mark.parametrize("exten, app, first_args", [
    ("8002", "Dial", ["PJSIP/8002", "20", "tT"]),
    ("sales", "Queue", ["sales", "t"]),
    ("8613900000001", "Dial", ["PJSIP/+8613900000001@dialfunnel-trunk", "60", "T"]),
])
def test_transfer_targets(plan, exten, app, first_args):
    call = Call(plan, lambda *a: {})
    assert call.run("dialfunnel-transfer", exten) == "hangup"
    assert call.ended_in()[0] == app
    assert call.ended_in()[1][:len(first_args)] == first_args


# -- manager.conf snippet --------------------------------------------------------------------

def test_manager_snippet_is_loopback_only_with_a_placeholder_secret():
    sections, includes = parse_conf(MANAGER)
    assert not includes
    assert [s.name for s in sections] == ["dialfunnel", "dialfunnel-calllog", "dialfunnel-pops",
                                          "dialfunnel-dialer"], \
        "dialfunnel's users only, no [general]"
    for user in sections:
        assert user.one("secret") == AMI_SECRET_PLACEHOLDER
        rules = [(line.key, line.value) for line in user.lines if line.key in ("deny", "permit")]
        assert rules[0] == ("deny", "0.0.0.0/0.0.0.0"), "deny everything first"
        assert [v for k, v in rules if k == "permit"] == ["127.0.0.1/255.255.255.255"]
        assert not set(user.one("write").split(",")) & {"system", "command", "config", "all"}
    user = sections[0]
    read = set(user.one("read").replace(" ", "").split(","))
    write = set(user.one("write").replace(" ", "").split(","))
    assert {"call", "agent", "dialplan", "user"} <= read
    assert {"originate", "call", "agent"} <= write
    assert "reporting" in write, "CoreShowChannels (reconcile) needs system or reporting"
    assert not write & {"system", "command", "config", "all"}, "no shell, config or CLI by AMI"
    assert "all" not in read


def test_no_real_secret_in_the_snippets():
    text = MANAGER.read_text() + PJSIP.read_text()
    for line in text.splitlines():
        line = strip_comment(line, False)[0]
        match = re.match(r"\s*(secret|password)\s*=\s*(\S*)", line)
        if match:
            assert re.fullmatch(r"__DIALFUNNEL_AMI_SECRET__|CHANGE_ME_\d+|CARRIER_PASSWORD",
                                match.group(2)), line


# -- pjsip and queues ------------------------------------------------------------------------

def test_pjsip_agent_phones_and_trunk(plan):
    sections, _ = parse_conf(PJSIP)
    templates = {s.name: s for s in sections if "!" in s.options}
    objects: dict[tuple[str, str], Section] = {}
    for s in sections:
        if "!" in s.options:
            continue
        kind = s.one("type")
        for tpl in s.options:
            assert tpl in templates, f"[{s.name}] uses unknown template {tpl}"
            kind = kind or templates[tpl].one("type")
        assert kind, f"[{s.name}] has no type"
        assert (s.name, kind) not in objects, f"[{s.name}] type {kind} twice"
        objects[(s.name, kind)] = s

    def option(name, kind, key):
        s = objects[(name, kind)]
        value = s.one(key)
        for tpl in s.options:
            value = value if value is not None else templates[tpl].one(key)
        return value

    transports = {name for name, kind in objects if kind == "transport"}
    for ext in range(8001, 8011):
        name = str(ext)
        assert option(name, "endpoint", "context") == "dialfunnel-agents"
        assert option(name, "endpoint", "auth") == name and option(name, "endpoint", "aors") == name
        assert (name, "aor") in objects
        assert option(name, "auth", "password") == f"CHANGE_ME_{ext}"
        assert option(name, "auth", "username") == name
        assert option(name, "endpoint", "transport") in transports
        assert option(name, "endpoint", "mailboxes") == f"{ext}@dialfunnel"
    assert option("dialfunnel-trunk", "endpoint", "context") == "dialfunnel-inbound"
    assert ("dialfunnel-trunk", "aor") in objects and ("dialfunnel-trunk", "identify") in objects
    assert option("dialfunnel-trunk-auth", "auth", "password") == "CARRIER_PASSWORD"
    for (name, kind), s in objects.items():
        if kind == "endpoint":
            assert option(name, kind, "context") in plan
    # the dialplan dials the trunk by this name
    assert "Set(DF_TRUNK=dialfunnel-trunk)" in EXTENSIONS.read_text()


def test_queue_sales_has_no_static_members():
    """Agents log in (QueueAdd by agi.dialer.queue_members): a static member could neither be
    added nor removed by AMI."""
    sections, _ = parse_conf(QUEUES)
    assert [s.name for s in sections] == ["sales"], "no [general]: that is queues.conf's"
    assert not sections[0].get("member")
    assert sections[0].one("ringinuse") == "no"
    assert "paused" in sections[0].one("joinempty").split(",")


# -- deploy: provision.sh, systemd units, Vagrantfile ----------------------------------------

def test_provision_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed: install it (Debian/Ubuntu: apt-get install "
                    "shellcheck) to check deploy/provision.sh")
    result = subprocess.run([shellcheck, "--shell=bash", "--severity=style", str(PROVISION)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert subprocess.run(["bash", "-n", str(PROVISION)]).returncode == 0


def test_provision_wires_the_files_it_is_given():
    text = PROVISION.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert PROVISION.stat().st_mode & 0o111, "provision.sh must be executable"
    for name in ("extensions", "queues", "pjsip"):
        assert f"{name}_dialfunnel.conf" in text
    assert '"#include ${name}_dialfunnel.conf"' in text
    assert "#include manager_dialfunnel.conf" in text and "bindaddr = 127.0.0.1" in text
    assert AMI_SECRET_PLACEHOLDER in text, "provision.sh must replace the manager placeholder"
    assert "CHANGE_ME_" in text, "provision.sh must replace the agent phone placeholders"
    assert "apt-get install" in text and " asterisk " in text and "python3-venv" in text
    # the paths the systemd units use
    assert "VENV=/opt/dialfunnel/.venv\n" in text
    assert "CONF_DIR=/etc/dialfunnel\n" in text and "CONF=$CONF_DIR/dialfunnel.toml\n" in text
    assert "deploy/systemd/dialfunnel-" in text
    # no secret is ever written into the repository's files
    assert not re.search(r"ami_secret\s*=\s*\"[0-9a-f]{16,}\"", text)


@pytest.mark.parametrize("unit", ["dialfunnel-web", "dialfunnel-agi", "dialfunnel-worker", "dialfunnel-dialer",
                                  "dialfunnel-sms"])
def test_systemd_units(unit):
    path = UNITS / f"{unit}.service"
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    service = sections["Service"]
    assert service["User"] == ["dialfunnel"] and service["Group"] == ["dialfunnel"]
    assert service["Restart"] == ["on-failure"]
    assert "DIALFUNNEL_CONFIG=/etc/dialfunnel/dialfunnel.toml" in service["Environment"]
    (exec_start,) = service["ExecStart"]
    if unit == "dialfunnel-agi":
        assert exec_start.startswith("/opt/dialfunnel/.venv/bin/python -m agi.fastagi.server")
        workers = int(re.search(r"--workers (\d+)", exec_start).group(1))
        per_worker = int(re.search(r"--max-calls (\d+)", exec_start).group(1))
        # --max-calls counts per worker process, and one address (Asterisk) may hold 7/8 of it
        from agi.fastagi.server import default_peer_max_calls
        assert workers * default_peer_max_calls(per_worker) >= 1000
    else:
        assert exec_start.startswith("/opt/dialfunnel/.venv/bin/dialfunnel ")
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]
    assert service.get("NoNewPrivileges") == ["yes"]


def test_vagrantfile():
    text = VAGRANTFILE.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert re.search(r'config\.vm\.box\s*=\s*"[^"]*ubuntu-24\.04"', code)
    assert re.search(r'"forwarded_port",\s*guest:\s*8000,\s*host:\s*8000', code)
    match = re.search(r'config\.vm\.provision\s+"shell",\s*path:\s*"([^"]+)"', code)
    assert match and (ROOT / match.group(1)) == PROVISION
    # the blocks open and close (a cheap syntax check; `ruby -c` below where Ruby exists)
    opens = len(re.findall(r"\bdo\b(\s*\|[^|]*\|)?\s*$", code, re.M))
    ends = len(re.findall(r"^\s*end\s*$", code, re.M))
    assert opens == ends, (opens, ends)
    ruby = shutil.which("ruby")
    if ruby:
        result = subprocess.run([ruby, "-c", str(VAGRANTFILE)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_dialplan_readme_describes_every_file():
    readme = (DIALPLAN / "README.md").read_text()
    for path in (EXTENSIONS, MANAGER, PJSIP, QUEUES, CONFBRIDGE):
        assert path.name in readme
    assert "#include" in readme and "Vagrantfile" in readme
    for handler in DIALPLAN_HANDLERS:
        assert handler in readme


# -- prompts the dialplan plays ------------------------------------------------------------

def played_prompts(plan) -> set[str]:
    """Every sound the dialplan's Playback() can name, as `<dir>/<id>`: ${DF_PROMPTS} is
    the value dialfunnel-config sets, ${DF_MESSAGE} each literal the dialplan assigns it
    (a campaign's own message comes from the campaign form, which offers existing prompts)."""
    literal = {}
    for ctx in plan.values():
        for steps in ctx.extensions.values():
            for step in steps:
                match = re.fullmatch(r"(DF_\w+)=([A-Za-z0-9_/-]*)", step.args) if step.app == "Set" else None
                if match:
                    literal.setdefault(match.group(1), set()).add(match.group(2))
    sounds = set()
    for ctx in plan.values():
        for steps in ctx.extensions.values():
            for step in steps:
                if step.app != "Playback":
                    continue
                names = {top_split(step.args, ",")[0]}
                for var, values in literal.items():
                    ref = "${%s}" % var
                    names = {n.replace(ref, v) for n in names for v in values} if any(
                        ref in n for n in names) else names
                unresolved = [n for n in names if "${" in n]
                assert not unresolved, f"line {step.number}: cannot resolve {unresolved}"
                sounds |= names
    return sounds


def test_every_prompt_the_dialplan_plays_is_generated(plan):
    """`dialfunnel prompts generate` speaks every id of ivr_flows/prompts.yaml into its
    sound_dir (test_prompts.py), so each sound the dialplan plays must be one of them:
    a missing one is silence for the customer (the abandon message was)."""
    import yaml

    from ivr_flows.flows import DEFAULT_DIR, PROMPTS_FILE, prompt_texts

    texts, _voice = prompt_texts()
    sound_dir = yaml.safe_load((DEFAULT_DIR / PROMPTS_FILE).read_text(encoding="utf-8"))["sound_dir"]
    sounds = played_prompts(plan)
    assert f"{sound_dir}/abandon" in sounds
    for sound in sorted(sounds):
        folder, _, prompt_id = sound.rpartition("/")
        assert folder == sound_dir, f"{sound}: not under the prompts' sound_dir {sound_dir}"
        assert prompt_id in texts, f"the dialplan plays {sound}, which prompts.yaml lacks"


def test_click_to_call_dials_the_customer_through_the_trunk_recorded(plan):
    """The agent's phone answered the Originate (agi/dialer/click_to_call.py): the customer is
    dialled as by the agent, with the company caller ID when the site set one."""
    call = Call(plan, lambda *a: {}, variables={"DIALFUNNEL_AGENT": "8001",
                                                "CALLERID(num)": "13800138000"})
    call.run("dialfunnel-click-to-call", "13800138000")
    assert call.used("Dial") == [["PJSIP/13800138000@dialfunnel-trunk", "60",
                                  "gTb(dialfunnel-record-customer^s^1(8001,13800138000))"]]
    assert call.vars["DIALFUNNEL_AGENT"] == "8001"
    assert call.vars["CALLERID(num)"] == "8001"
    assert_customer_recorded(call, "8001", "13800138000")
    site = copy.deepcopy(plan)
    for step in site["dialfunnel-config"].extensions["s"]:
        if step.args == "DF_OUTBOUND_CALLERID=":
            step.args = "DF_OUTBOUND_CALLERID=02150001234"
    call = Call(site, lambda *a: {}, variables={"DIALFUNNEL_AGENT": "8001"})
    call.run("dialfunnel-click-to-call", "02155550000")
    assert call.vars["CALLERID(num)"] == "02150001234"
    assert call.used("Dial") == [["PJSIP/02155550000@dialfunnel-trunk", "60",
                                  "gTb(dialfunnel-record-customer^s^1(8001,02155550000))"]]


def test_agent_phones_have_hints_for_extension_state(plan):
    hints = plan["dialfunnel-hints"].hints
    assert hints == {"_80XX": "PJSIP/${EXTEN}"}
    assert pattern_regex("_80XX").match("8001") and pattern_regex("_80XX").match("8010")


class EarlyMediaCall(Call):
    """A dialer call in dialfunnel-early-media: the EAGI forwarder ends with `result`, the
    channel's state is `state` (Up once answered)."""

    def __init__(self, plan, result, state="Ringing"):
        super().__init__(plan, lambda handler, query, args, call: {"DIALFUNNEL_STATUS": "ABANDON"},
                         variables={"DIALFUNNEL_CAMPAIGN": "3", "DIALFUNNEL_ATTEMPT": "991",
                                    "CHANNEL(state)": state})
        self.result = result

    def execute(self, app, data, context, exten):
        jump = super().execute(app, data, context, exten)
        if app == "EAGI" and self.result is not None:
            self.vars["DIALFUNNEL_EARLY_MEDIA"] = self.result
        return jump


def test_early_media_streams_to_the_listener_then_answered_calls_go_outbound(plan):
    call = EarlyMediaCall(plan, "ANSWERED", state="Up")
    call.run("dialfunnel-early-media", "s")
    [eagi] = call.used("EAGI")
    assert eagi == ["/usr/local/lib/dialfunnel/early_media_eagi.py", "127.0.0.1:4574"]
    assert call.agi_calls[0][0] == "outbound"          # the usual answered path


@pytest.mark.parametrize("result", ["HEARD", "HANGUP"])
def test_early_media_heard_or_gone_never_reaches_the_outbound_handler(plan, result):
    call = EarlyMediaCall(plan, result)
    assert call.run("dialfunnel-early-media", "s") == "hangup"
    assert call.agi_calls == []
    assert ("Wait", ["5"]) in call.apps if result == "HEARD" else True


@pytest.mark.parametrize("result", [None, "ERROR", "LOST"])
def test_early_media_without_a_listener_waits_for_the_answer(plan, result):
    call = EarlyMediaCall(plan, result)
    with pytest.raises(AssertionError, match="dialplan loop"):   # still ringing: waits on
        call.run("dialfunnel-early-media", "s", max_steps=30)
    assert call.agi_calls == [] and call.used("Wait")
    call = EarlyMediaCall(plan, result, state="Up")
    call.run("dialfunnel-early-media", "s")
    assert call.agi_calls[0][0] == "outbound"
