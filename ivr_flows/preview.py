"""What the callee of a flow would hear, as text (the admin's preview, T9): every step reached
from the start, once each, in that order, its prompts' Chinese texts and its values spoken as
say_zh writes them. Nothing is played and nothing written."""
from __future__ import annotations

import dataclasses
from collections import deque

from . import say_zh
from .flows import TARGET_KEYS, VAR_REF, FlowSet, Step

SPOKEN_KINDS = ("prompt", "say", "menu", "collect", "hangup", "transfer", "agent", "voicemail",
                "end")


@dataclasses.dataclass(frozen=True)
class PreviewLine:
    step: str
    kind: str
    text: str
    problems: tuple[str, ...] = ()


def _targets(step: Step) -> list[str]:
    found = [step.get(key) for key in TARGET_KEYS if step.get(key)]
    found += list((step.get("match") or {}).values())
    return [t for t in found if not t.startswith("flow:")]


def _spoken(step: Step):
    if step.kind in ("prompt", "say", "menu", "collect"):
        return step.main
    if step.kind == "hangup":
        return step.main or ()
    return step.get("prompt") or ()


def render(flows: FlowSet, items, variables: dict) -> tuple[str, list[str]]:
    """(text, problems) of a prompt list with `variables` filled in."""
    def fill(template: str) -> str:
        return VAR_REF.sub(lambda m: str(variables.get(m.group(1), "")), template)

    parts, problems = [], []
    for item in items:
        if item.kind == "prompt":
            parts.append(flows.prompts.texts.get(item.value, item.value))
        elif item.kind == "sound":
            parts.append(f"[{item.value}]")
        elif item.kind in ("digits", "text"):
            parts.append(fill(item.value))
        else:
            value = fill(item.value)
            try:
                parts.append(say_zh.text(item.kind, value))
            except ValueError:
                parts.append(f"[{item.value}]")
                problems.append(f"{item.value} = {value!r}: not a {item.kind}")
    return "".join(parts), problems


def preview(flows: FlowSet, flow_name: str, variables: dict) -> list[PreviewLine]:
    flow = flows.flow(flow_name)
    lines, seen, todo = [], {flow.start}, deque([flow.start])
    while todo:
        step = flow.steps[todo.popleft()]
        items = _spoken(step)
        if items:
            text, problems = render(flows, items, variables)
            lines.append(PreviewLine(step.name, step.kind, text, tuple(problems)))
        for target in _targets(step):
            if target not in seen and target in flow.steps:
                seen.add(target)
                todo.append(target)
    if flow.opt_out_key:
        text, problems = render(flows, flow.opt_out_prompt, variables)
        lines.append(PreviewLine(f"opt_out ({flow.opt_out_key})", "opt_out", text, tuple(problems)))
    return lines
