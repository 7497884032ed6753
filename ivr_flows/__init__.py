"""Declarative IVR flows (SPEC T2): YAML files in this folder and the engine that walks them.

Files: one flow per `<name>.yaml` (`main.yaml`, `after_hours.yaml`), prompt texts in
`prompts.yaml`. The dialplan runs a flow with `AGI(agi://127.0.0.1:4573/ivr?flow=main)`
(handler agi/handlers/ivr.py); `dialfunnel ivr try main` walks one from a terminal.

A flow reads like the spoken menu (Adhearsion style):

    start: welcome
    steps:
      welcome:
        prompt: welcome                   # prompt ids are keys of prompts.yaml
        next: office_hours
      office_hours:
        hours: {mon-fri: 09:00-18:00, sat: 09:00-12:00, holidays: [2026-10-01..2026-10-07]}
        open: main_menu
        closed: flow:after_hours          # the start of after_hours.yaml
      main_menu:
        menu: main-menu
        match: {1: order_by_number, 3: callback, 0: to_agent}
        timeout: 6                        # seconds
        tries: 3
        invalid: invalid-key
        on_fail: to_agent
      order_by_number:
        collect: enter-order-number
        digits: 9-16                      # min-max keys
        terminator: "#"
        valid: '20\\d{6}\\d{1,8}'           # the whole input must match
        into: order_number                # a flow variable: ${order_number}
        next: say_order
        on_fail: main_menu
      say_order:
        lookup: order_by_number           # or orders_by_caller (the caller ID)
        number: ${order_number}
        found: main_menu
        not_found: main_menu
      callback:
        callback: ${caller_id}            # contact record + reminder for the operator
        next: goodbye
        no_number: goodbye
      to_agent:
        transfer: queue:sales             # or agent:8001, extension:8001
        prompt: transfer-agent
      goodbye:
        hangup: goodbye

Kinds (the step's kind key holds its main value):
  prompt    prompt id(s) to play                      next
  menu      prompt id(s); one key                     match, timeout, tries, invalid, no_input, on_fail
  collect   prompt id(s); several keys                into, digits, terminator, valid, timeout,
                                                      tries, invalid, no_input, next, on_fail
  hours     timetable (ivr_flows/hours.py)            open, closed
  lookup    order_by_number | orders_by_caller        number, limit, found, not_found, on_error
  set       {variable: value}                         channel: {CHANNEL_VAR: value}, next
  transfer  queue:NAME | agent:ID | extension:NUM     prompt   -> DIALFUNNEL_TRANSFER, TRANSFER
  voicemail BOX[@CONTEXT]                             prompt   -> DIALFUNNEL_VOICEMAIL, VOICEMAIL
  callback  number to call back (${caller_id})        delay_minutes, at_next_open, next, no_number,
                                                      on_error
  end       OUTCOME word (e.g. FAX)                   prompt   (back to the dialplan)
  hangup    prompt id(s) or nothing                   outcome  (hangs the call up)
  say       prompt id(s) and values (as prompt)       next
  agent     campaign (outbound flows only)            prompt, none_free, on_error
                                                      -> DIALFUNNEL_TRANSFER=agent:<extension>
A menu's `answer: QUESTION` keeps the key pressed as the answer to QUESTION (voice_answers).
Prompt lists may hold `sound:NAME` (an Asterisk sound), `{digits: ${var}}` (SAY DIGITS) and
values spoken in Mandarin from the say-* segments (say_zh.py): `{number: ..}`, `{money: ..}`,
`{date: ..}`, `{time: ..}`, `{percent: ..}`, `{id: ..}` (an order number digit by digit),
`{phone: ..}` (digit by digit, 1 said 幺).

Voice campaigns (T9) run flows marked `outbound: true` (notice, survey, payment_reminder,
press1_talk, greeting, birthday): the dialled customer's data are variables (customer_name,
contact_name, customer_number, order_number, amount_due, due_date, campaign_id, attempt_id),
and `opt_out: {key: 9, prompt: optout-confirmed}` is required: that key at any prompt or menu
puts the number on the do-not-call list, says so, and ends the call (OPTOUT). preview.py shows
the text a callee would hear (the admin's flow page).

Public API:
  load_flows(dir=None) -> FlowSet           raise FlowError (.issues: file, line, message)
  check_directory(dir=None) -> (FlowSet | None, [Issue])   errors and warnings, no raise
  FlowLibrary(dir)  .get() -> FlowSet       reloads changed files, keeps the last good set
  Walker(flows, channel, session=, clock=, variables=).run(flow) -> WalkResult
"""
from .flows import (DEFAULT_DIR, Flow, FlowError, FlowLibrary, FlowSet, Prompts, Step,
                    check_directory, load_flows)
from .walker import FlowRuntimeError, WalkResult, Walker
from .yamlines import Issue

__all__ = ["DEFAULT_DIR", "Flow", "FlowError", "FlowLibrary", "FlowRuntimeError", "FlowSet",
           "Issue", "Prompts", "Step", "WalkResult", "Walker", "check_directory", "load_flows"]
