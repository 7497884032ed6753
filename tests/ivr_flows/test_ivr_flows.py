"""IVR flow files: the shipped flows check clean; every mistake is named with file and line;
business hours with holidays and make-up working days."""
from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pytest

from ivr_flows import DEFAULT_DIR, FlowError, FlowLibrary, check_directory, load_flows
from ivr_flows.flows import PROMPTS_FILE
from ivr_flows.hours import Timetable, parse_dates, parse_ranges
from ivr_flows.yamlines import load

SH = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(dt.timezone.utc)


@pytest.fixture
def flows_dir(tmp_path):
    """A flow directory with the shipped prompts.yaml and whatever the test writes."""
    shutil.copy(DEFAULT_DIR / PROMPTS_FILE, tmp_path / PROMPTS_FILE)

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path
    write.dir = tmp_path
    return write


def issues_of(directory):
    flows, issues = check_directory(directory)
    return flows, [(i.file, i.line, i.severity, i.message) for i in issues]


def errors_of(directory):
    flows, issues = issues_of(directory)
    assert flows is None
    return [(f, line, m) for f, line, sev, m in issues if sev == "error"]


# -- the shipped flows ------------------------------------------------------------------------

def test_shipped_flows_check_clean_with_no_warnings():
    flows, issues = check_directory()
    assert issues == []
    assert set(flows.flows) == {"main", "after_hours", "notice", "greeting", "birthday", "survey",
                                "payment_reminder", "press1_talk"}
    for name, flow in flows.flows.items():     # every voice campaign's flow has the opt-out
        assert flow.outbound == (flow.opt_out_key == "9") == (name not in ("main", "after_hours"))
    main = flows.flow("main")
    assert main.start == "welcome"
    menu = main.steps["main_menu"]
    assert menu.kind == "menu" and menu.get("match") == {
        "1": "order_by_number", "2": "order_by_caller", "3": "callback", "4": "fax_on_demand",
        "0": "to_agent"}
    assert (menu.get("tries"), menu.get("timeout"), menu.get("on_fail")) == (3, 6.0, "to_agent")
    assert main.steps["office_hours"].get("closed") == "flow:after_hours"
    assert main.steps["to_agent"].main == "queue:sales"
    assert flows.resolve("main", "flow:after_hours") == ("after_hours", "closed_message")
    assert flows.prompts.sound("welcome") == "dialfunnel/welcome"
    # every prompt text is Chinese
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text)
               for text in flows.prompts.texts.values())


def test_shipped_hours_know_the_2026_holidays_and_makeup_days():
    table = load_flows().flow("main").steps["office_hours"].main
    assert table.time_zone == "Asia/Shanghai"
    assert table.is_open(at("2026-11-26T10:00"))           # Thursday
    assert not table.is_open(at("2026-11-26T18:30"))
    assert table.is_open(at("2026-11-28T11:59"))           # Saturday morning
    assert not table.is_open(at("2026-11-28T12:00"))
    assert not table.is_open(at("2026-11-29T10:00"))       # Sunday
    assert not table.is_open(at("2026-10-05T10:00"))       # 国庆 (a Monday)
    assert not table.is_open(at("2026-02-18T10:00"))       # 春节
    assert table.is_open(at("2026-10-10T15:00"))           # 调休: a Saturday at work, all day
    assert table.is_open(at("2026-09-20T10:00"))           # 调休: a Sunday at work


# -- hours ---------------------------------------------------------------------------------

def test_timetable_next_open_skips_nights_weekends_and_holidays():
    week = ((540, 720), (810, 1080))
    table = Timetable("Asia/Shanghai", (week,) * 5 + (((540, 720),), ()),
                      holidays=frozenset({dt.date(2026, 11, 30)}))
    assert table.next_open(at("2026-11-26T10:00")) == at("2026-11-26T10:00")   # open now
    assert table.next_open(at("2026-11-26T12:30")) == at("2026-11-26T13:30")   # lunch break
    assert table.next_open(at("2026-11-28T20:00")) == at("2026-12-01T09:00")   # Sat night ->
    assert table.next_open(at("2026-11-27T23:59")) == at("2026-11-28T09:00")   # (Mon holiday)
    never = Timetable("Asia/Shanghai", ((),) * 7)
    assert never.next_open(at("2026-11-26T10:00")) is None


def test_hours_parsers():
    assert parse_ranges("09:00-12:00, 13:30-18:00") == (((540, 720), (810, 1080)), "")
    assert parse_ranges(["13:30-24:00"]) == (((810, 1440),), "")
    assert parse_ranges("closed") == ((), "")
    assert "ends before it starts" in parse_ranges("18:00-09:00")[1]
    assert "HH:MM" in parse_ranges("9-18")[1]
    days, errors = parse_dates([dt.date(2026, 1, 1), "2026-10-01..2026-10-03", "2026-13-01"])
    assert days == {dt.date(2026, 1, 1), dt.date(2026, 10, 1), dt.date(2026, 10, 2),
                    dt.date(2026, 10, 3)}
    assert errors == [(2, "bad date '2026-13-01': write YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")]


# -- the YAML loader -------------------------------------------------------------------------

def test_loader_keeps_lines_reports_duplicates_and_keeps_clock_times_as_text():
    data, issues = load("a:\n  b: 13:30\n  c: [1, 2]\n  b: 2\n", "x.yaml")
    assert data["a"]["b"] == "13:30"            # not 810 (YAML 1.1 base 60)
    assert data["a"].line_of("c") == 3 and data["a"]["c"].line == 3
    assert [str(i) for i in issues] == ["x.yaml:4: duplicate key 'b' (first on line 2)"]
    data, issues = load("a: [1,\n", "y.yaml")
    assert data is None and issues[0].file == "y.yaml" and "YAML syntax error" in issues[0].message


# -- every mistake, with file and line --------------------------------------------------------

BROKEN = """
start: welcome
steps:
  welcome:
    prompt: welcome
    next: menu
  menu:
    menu: main-menu
    match:
      1: collect_it
      10: nowhere
      2: missing_step
      yes: menu
    timeout: -3
    tries: 2.5
    on_fail: flow:no_such_flow
  collect_it:
    collect: enter-order-number
    into: Order-Number
    digits: 0-400
    terminator: #
    valid: '([0-9]+'
    next: menu
  bad_kind:
    meun: main-menu
  two_kinds:
    menu: main-menu
    collect: main-menu
  unknown_prompt:
    prompt: [welcome, no-such-prompt]
    next: menu
    colour: red
  hours_step:
    hours:
      mon-fri: 09:00-18:00
      funday: 10:00-11:00
      sat: 18:00-09:00
      time_zone: Mars/Olympus
      holidays: [2026-02-30]
    open: menu
  xfer:
    transfer: sales
  lookup_step:
    lookup: order_by_name
    found: menu
    not_found: menu
  set_step:
    set: {Bad-Name: 1, fine: "${oops"}
    next: "${oops"
  end_step:
    end: fax
"""


def test_every_mistake_is_reported_with_file_and_line(flows_dir):
    flows_dir("broken.yaml", BROKEN)
    errors = errors_of(flows_dir.dir)
    found = {(line, message) for f, line, message in errors}
    assert all(f == "broken.yaml" for f, _l, _m in errors)

    def has(line, *words):
        assert any(l == line and all(w in m for w in words) for l, m in found), (line, words, sorted(found))

    has(10, "bad digit key 10")
    has(11, "target step 'missing_step' does not exist")
    has(12, "bad digit key 'yes'")
    has(13, "timeout", "0.5 to 120")
    has(14, "tries", "whole number")
    has(15, "no flow file no_such_flow.yaml")
    has(18, "bad variable name 'Order-Number'")
    has(19, "digits", "1-64")
    has(20, "a bare # starts a YAML comment")
    has(21, "bad regular expression")
    has(24, "unknown step kind 'meun'")
    has(27, "two kinds: menu and collect")
    has(29, "unknown prompt 'no-such-prompt'")
    has(31, "unknown option 'colour'")
    has(33, "a hours step needs `closed:`")
    has(35, "unknown hours key 'funday'")
    has(36, "ends before it starts")
    has(37, "unknown time zone 'Mars/Olympus'")
    has(38, "bad date '2026-02-30'")
    has(41, "'sales' is not queue:NAME, agent:ID or extension:NUMBER")
    has(43, "unknown lookup 'order_by_name'")
    has(47, "bad variable name 'Bad-Name'")
    has(47, "unclosed variable reference")
    has(48, "bad step name '${oops'")
    has(50, "outcome 'fax' must be an UPPER_CASE word")
    assert len(errors) == 25
    with pytest.raises(FlowError) as info:
        load_flows(flows_dir.dir)
    assert "broken.yaml:10:" in str(info.value) and len(info.value.errors) == len(errors)


def test_unreachable_steps_and_unknown_variables_are_warnings(flows_dir):
    flows_dir("small.yaml", """
        start: hello
        steps:
          hello:
            prompt: welcome
            next: bye
          lonely:
            prompt: goodbye
            next: bye
          bye:
            transfer: queue:${queue_name}
    """)
    flows, issues = issues_of(flows_dir.dir)
    assert flows is not None and "small" in flows.flows
    assert ("small.yaml", 6, "warning", "step 'lonely' is never reached from start step 'hello'") in issues
    assert any(f == "small.yaml" and line == 10 and sev == "warning" and "${queue_name}" in m
               for f, line, sev, m in issues)


def test_missing_start_step_yaml_errors_and_prompts_file(flows_dir):
    flows_dir("a.yaml", "start: nope\nsteps:\n  x:\n    hangup:\n")
    flows_dir("b.yaml", "start: x\nsteps:\n  x: [1, 2\n")
    flows_dir("c.yaml", "steps:\n  x:\n    hangup: goodbye\n")
    (flows_dir.dir / PROMPTS_FILE).write_text("prompts:\n  Bad Id: 你好\n  goodbye: 再见\n  welcome:\n",
                                             encoding="utf-8")
    errors = errors_of(flows_dir.dir)
    assert ("a.yaml", 1, "start step 'nope' does not exist") in errors
    assert any(f == "b.yaml" and line == 4 and "YAML syntax error" in m for f, line, m in errors)
    assert ("c.yaml", 1, "`start:` is missing (the first step's name)") in errors
    assert any(f == "prompts.yaml" and line == 2 and "bad prompt id 'Bad Id'" in m for f, line, m in errors)
    assert ("prompts.yaml", 4, "prompt 'welcome' needs a text") in errors


def test_a_lookup_needs_its_status_prompts(flows_dir):
    (flows_dir.dir / PROMPTS_FILE).write_text("prompts:\n  welcome: 你好\n", encoding="utf-8")
    flows_dir("l.yaml", """
        start: look
        steps:
          look:
            lookup: orders_by_caller
            found: bye
            not_found: bye
          bye:
            hangup: welcome
    """)
    errors = errors_of(flows_dir.dir)
    assert len(errors) == 1 and errors[0][:2] == ("l.yaml", 4)
    assert "order-number-is" in errors[0][2] and "order-payment-paid" in errors[0][2]


def test_library_reloads_changes_and_keeps_the_last_good_flows(flows_dir):
    flows_dir("one.yaml", "start: a\nsteps:\n  a:\n    hangup: goodbye\n")
    library = FlowLibrary(flows_dir.dir)
    first = library.get()
    assert library.get() is first
    path = flows_dir("one.yaml", "start: a\nsteps:\n  a:\n    hangup: welcome\n    outcome: DONE\n")
    import os
    os.utime(path, ns=(1, 10 ** 18))
    second = library.get()
    assert second is not first and second.flow("one").steps["a"].get("outcome") == "DONE"
    flows_dir("one.yaml", "start: a\nsteps:\n  a:\n    hangpu: welcome\n")
    os.utime(path, ns=(1, 2 * 10 ** 18))
    assert library.get() is second                    # broken edit: the last good flows stay
    assert "one.yaml:4:" in str(library.last_error)
    with pytest.raises(FlowError):
        FlowLibrary(flows_dir.dir).get()               # nothing good yet: the error shows
