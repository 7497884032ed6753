"""The IVR engine on a stub channel (Adhearsion style: no PBX, `ask`/`say` stubbed)."""
from __future__ import annotations

import shutil
import textwrap

import pytest
from asterisk.agi import AGIAppError

from agi.fastagi.protocol import AGIDeadChannel, AGIResultHangup
from ivr_flows import DEFAULT_DIR, FlowRuntimeError, Walker, load_flows
from ivr_flows.flows import PROMPTS_FILE


class Stub:
    """Answers the engine's AGI calls. `keys`: one entry per command that listens (like the
    simulator); `hangup_at`: the Nth command (0-based) finds the caller gone."""

    def __init__(self, keys=(), hangup_at=None, missing=()):
        self.keys = list(keys)
        self.hangup_at = hangup_at
        self.missing = set(missing)
        self.log: list[tuple] = []
        self.variables: dict[str, str] = {}
        self.hungup = False

    def _cmd(self, *entry):
        self.log.append(entry)
        if self.hangup_at is not None and len(self.log) - 1 >= self.hangup_at:
            self.hungup = True
            raise AGIResultHangup("hung up") if len(self.log) - 1 == self.hangup_at else \
                AGIDeadChannel("dead")

    def _listen(self):
        return self.keys.pop(0) if self.keys else None

    def answer(self):
        self._cmd("ANSWER")

    def stream_file(self, name, escape_digits="", sample_offset=0):
        self._cmd("PLAY", name, escape_digits)
        if name in self.missing:
            raise AGIAppError("Error executing application, or hangup")
        if escape_digits:
            key = self._listen()
            if key and key[0] in escape_digits:
                return key[0]
        return ""

    def get_data(self, name, timeout=2000, max_digits=255):
        self._cmd("GET", name, timeout, max_digits)
        return (self._listen() or "").split("#")[0][:max_digits]

    def wait_for_digit(self, timeout=2000):
        self._cmd("WAIT", timeout)
        key = self._listen()
        return key[0] if key else ""

    def say_digits(self, digits, escape_digits=""):
        self._cmd("SAY", digits)
        return ""

    def set_variable(self, name, value):
        self._cmd("SET", name, value)
        self.variables[name] = value

    def hangup(self, channel=""):
        self._cmd("HANGUP")
        self.hungup = True


@pytest.fixture
def make_flows(tmp_path):
    shutil.copy(DEFAULT_DIR / PROMPTS_FILE, tmp_path / PROMPTS_FILE)

    def make(**files):
        for name, text in files.items():
            (tmp_path / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        return load_flows(tmp_path)
    return make


MENU = """
    start: menu
    steps:
      menu:
        menu: [welcome, main-menu]
        match: {1: code, 0: agent, "*": star}
        timeout: 4
        tries: 3
        invalid: invalid-key
        no_input: no-input
        on_fail: agent
      code:
        collect: enter-order-number
        digits: 3-5
        terminator: "*"
        valid: '[1-9]\\d*'
        into: code
        timeout: 2
        tries: 2
        invalid: order-number-invalid
        next: say
        on_fail: failed
      say:
        prompt: [order-number-is, {digits: "${code}"}, sound:beep]
        next: vars
      vars:
        set: {product: "sheet-${code}"}
        channel: {DIALFUNNEL_FAX_DOCUMENT: "${product}"}
        next: fax
      fax:
        end: FAX
        prompt: fax-press-start
      agent:
        transfer: agent:${agent_id}
      star:
        voicemail: 8000@dialfunnel
      failed:
        hangup: goodbye
        outcome: GAVEUP
"""


def played(stub):
    return [e[1].split("/")[-1] for e in stub.log if e[0] == "PLAY"]


def test_menu_key_during_the_first_prompt_collect_key_by_key_and_channel_variables(make_flows):
    flows = make_flows(m=MENU)
    stub = Stub(keys=["1", "4", "2", "7", "*"])
    result = Walker(flows, stub, variables={"agent_id": "8001"}).run("m")
    assert result.outcome == "FAX" and result.path == ["menu", "code", "say", "vars", "fax"]
    assert result.digits == [["menu", "1"], ["code", "427"]]
    assert stub.log[:2] == [("ANSWER",), ("PLAY", "dialfunnel/welcome", "0123456789*#")]
    assert ("WAIT", 2000) in stub.log                       # inter-key timeout
    assert ("SAY", "427") in stub.log and ("PLAY", "beep", "") in stub.log
    assert stub.variables == {"DIALFUNNEL_FAX_DOCUMENT": "sheet-427"}
    assert result.variables["code"] == "427" and played(stub)[-1] == "fax-press-start"


def test_invalid_keys_and_timeouts_retry_then_on_fail(make_flows):
    flows = make_flows(m=MENU)
    stub = Stub(keys=["7", None, None, None])               # wrong key, then silence twice
    result = Walker(flows, stub, variables={"agent_id": "8001"}).run("m")
    assert result.outcome == "TRANSFER" and result.exit_to == "agent:8001"
    assert result.digits == [["menu", "7"], ["menu", ""], ["menu", ""]]
    assert played(stub).count("invalid-key") == 1 and played(stub).count("no-input") == 2
    assert stub.variables == {"DIALFUNNEL_TRANSFER": "agent:8001"}


def test_collect_validation_then_on_fail(make_flows):
    flows = make_flows(m=MENU)
    # "012" fails the regex, "12" is too short; after two tries: on_fail -> hangup GAVEUP
    stub = Stub(keys=["1", "0", "1", "2", "*", "1", "2", "*"])
    result = Walker(flows, stub).run("m")
    assert result.outcome == "GAVEUP" and result.path[-1] == "failed"
    assert result.digits == [["menu", "1"], ["code", "012"], ["code", "12"]]
    assert played(stub).count("order-number-invalid") == 2 and stub.log[-1] == ("HANGUP",)


def test_star_key_and_voicemail(make_flows):
    stub = Stub(keys=["*"])
    result = Walker(make_flows(m=MENU), stub).run("m")
    assert (result.outcome, result.exit_to) == ("VOICEMAIL", "8000@dialfunnel")
    assert stub.variables == {"DIALFUNNEL_VOICEMAIL": "8000@dialfunnel"}


def test_get_data_for_hash_terminated_input(make_flows):
    flows = make_flows(c="""
        start: ask
        steps:
          ask:
            collect: [welcome, enter-order-number]
            digits: 9-16
            into: order
            next: bye
          bye:
            hangup:
    """)
    stub = Stub(keys=[None, "202611260001#"])
    result = Walker(flows, stub).run("c")
    assert ("GET", "dialfunnel/enter-order-number", 6000, 16) in stub.log
    assert result.variables["order"] == "202611260001" and result.outcome == "COMPLETED"
    # a key pressed during the first prompt: the rest is read key by key
    stub = Stub(keys=["2", "0", "2", "6", "1", "1", "2", "6", "1", "#"])
    assert Walker(flows, stub).run("c").variables["order"] == "202611261"


def test_a_missing_sound_is_noted_and_the_call_goes_on(make_flows):
    stub = Stub(keys=["0"], missing={"dialfunnel/welcome"})
    result = Walker(make_flows(m=MENU), stub, variables={"agent_id": "1"}).run("m")
    assert result.outcome == "TRANSFER" and "cannot play dialfunnel/welcome" in result.error


@pytest.mark.parametrize("at", range(0, 11))
def test_a_hangup_at_any_command_ends_the_walk_with_hangup(make_flows, at):
    flows = make_flows(m=MENU)
    full = Stub(keys=["1", "4", "2", "7", "*"])
    Walker(flows, full).run("m")
    assert len(full.log) == 11
    stub = Stub(keys=["1", "4", "2", "7", "*"], hangup_at=at)
    result = Walker(flows, stub).run("m")
    assert result.outcome == "HANGUP" and len(stub.log) == at + 1


def test_hangup_seen_by_the_last_command_is_still_a_hangup(make_flows):
    class LateHangup(Stub):
        def set_variable(self, name, value):
            super().set_variable(name, value)
            self.hungup = True          # the HANGUP line came with the reply
    result = Walker(make_flows(m=MENU), LateHangup(keys=["0"]), variables={"agent_id": "1"}).run("m")
    assert result.outcome == "HANGUP" and result.exit_to == "agent:1"


def test_a_loop_that_never_listens_is_stopped(make_flows):
    flows = make_flows(loop="""
        start: a
        steps:
          a:
            set: {x: "1"}
            next: b
          b:
            set: {y: "2"}
            next: a
    """)
    walker = Walker(flows, Stub(), max_steps=50)
    with pytest.raises(FlowRuntimeError, match="more than 50 steps"):
        walker.run("loop")
    assert walker.result.outcome == "ERROR" and len(walker.result.path) == 50


def test_db_steps_need_a_session_and_unknown_flows_fail():
    flows = load_flows()
    with pytest.raises(FlowRuntimeError, match="no flow 'nope'"):
        Walker(flows, Stub()).run("nope")
    stub = Stub(keys=["2"])
    with pytest.raises(FlowRuntimeError, match="needs a database"):
        Walker(flows, stub, variables={"caller_id": "13800138000"}).run("main")
