"""The checker's rules for voice campaigns' flows (outbound: true)."""
from __future__ import annotations

import shutil

from ivr_flows import check_directory
from ivr_flows.flows import DEFAULT_DIR, PROMPTS_FILE

NOTICE = """\
outbound: true
opt_out: {key: 9, prompt: optout-confirmed}
start: message
steps:
  message:
    say: [notice-amount, {money: "${amount_due}"}, {date: "${due_date}"}]
    next: menu
  menu:
    menu: notice-menu
    match: {1: message}
    on_fail: bye
  bye:
    hangup: voice-goodbye
"""


def check(tmp_path, text):
    shutil.copy(DEFAULT_DIR / PROMPTS_FILE, tmp_path / PROMPTS_FILE)
    (tmp_path / "voice.yaml").write_text(text, encoding="utf-8")
    flows, issues = check_directory(tmp_path)
    return flows, [str(i) for i in issues]


def test_a_voice_flow_checks(tmp_path):
    flows, issues = check(tmp_path, NOTICE)
    assert issues == []
    flow = flows.flow("voice")
    assert (flow.outbound, flow.opt_out_key) == (True, "9")
    assert [i.kind for i in flow.steps["message"].main] == ["prompt", "money", "date"]


def test_the_opt_out_is_required_and_its_key_is_kept_for_it(tmp_path):
    _, issues = check(tmp_path, NOTICE.replace("opt_out: {key: 9, prompt: optout-confirmed}\n", ""))
    assert issues == ["voice.yaml:1: an outbound flow needs `opt_out:` (key and prompt): every "
                      "voice call lets the callee ask not to be called again"]
    _, issues = check(tmp_path, NOTICE.replace("match: {1: message}", "match: {1: message, 9: bye}"))
    assert issues == ["voice.yaml:9: step 'menu': key 9 is the flow's opt-out key"]
    _, issues = check(tmp_path, NOTICE.replace("key: 9,", "key: 12,"))
    assert issues == ["voice.yaml:2: opt_out: key 12 is not a phone key"]
    _, issues = check(tmp_path, NOTICE.replace("prompt: optout-confirmed", "prompt: nope"))
    assert issues == ["voice.yaml:2: opt_out: prompt: unknown prompt 'nope' (not in prompts.yaml)"]


def test_spoken_values_and_agent_steps(tmp_path):
    _, issues = check(tmp_path, NOTICE.replace("{money:", "{dollars:"))
    assert len(issues) == 1 and "a spoken item is {KIND: ${variable}} with KIND one of digits, text, " \
        "number, money, date, time, percent, id, phone" in issues[0]
    inbound = NOTICE.replace("outbound: true\n", "").replace(
        "on_fail: bye", "on_fail: agent\n  agent:\n    agent: campaign\n    none_free: bye")
    _, issues = check(tmp_path, inbound)
    assert issues == ["voice.yaml:12: step 'agent': an agent step needs an outbound flow "
                      "(the call's campaign team)"]
    _, issues = check(tmp_path, NOTICE.replace("on_fail: bye", "on_fail: agent\n  agent:\n"
                                               "    agent: queue\n    none_free: bye"))
    assert any("`agent: campaign`" in i for i in issues)
