"""The house in rooms (issue 12): the imports of the code are read and held to the layers
written once in docs/architecture.md (the ```layers block), and no module imports, even
indirectly, itself."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.repo_paths import ROOT

PACKAGES = ("config", "models", "recordings", "faxdocs", "ivr_flows", "agi", "admin", "dialfunnel")



def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every project module `name` imports, at the top or inside a function."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names]
            if not any(t in known for t in targets):   # names from the module, not submodules
                targets = [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = sources()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def layers() -> list[tuple[str, set[str]]]:
    """(room, the rooms it may import) in the order written; a module belongs to the longest
    room its name starts with."""
    text = (ROOT / "docs/architecture.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    rules = []
    for line in block.group(1).splitlines():
        line = line.split("#")[0].strip()
        if line:
            room, _, allowed = line.partition("->")
            rules.append((room.strip(), set(allowed.split())))
    return rules


def may_use(allowed: set[str], room: str) -> bool:
    """`models.*` allows models and every room inside it; `models` only models itself."""
    return any(room == a or (a.endswith(".*") and (room == a[:-2] or room.startswith(a[:-1])))
               for a in allowed)


def room_of(module: str, rooms: list[str]) -> str | None:
    best = None
    for room in rooms:
        if (module == room or module.startswith(room + ".")) and (best is None or len(room) > len(best)):
            best = room
    return best


def test_every_import_goes_down_the_layers_written_in_the_architecture():
    rules = layers()
    rooms = [room for room, _ in rules]
    allowed = dict(rules)
    wrong = []
    for module, targets in graph().items():
        mine = room_of(module, rooms)
        assert mine is not None, f"{module} is in no room of docs/architecture.md"
        for target in targets:
            theirs = room_of(target, rooms)
            if theirs != mine and not may_use(allowed[mine], theirs):
                wrong.append(f"{module} -> {target} ({mine} may not use {theirs})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_module_imports_itself_through_others():
    edges = graph()
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_forbidden_import_and_a_circle(tmp_path, monkeypatch):
    """The two tests above fail on a bad house: models importing admin, and a circle."""
    for pkg, body in {"models/__init__.py": "", "models/a.py": "from admin import b\n",
                      "admin/__init__.py": "", "admin/b.py": "from models import a\n"}.items():
        (tmp_path / pkg).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / pkg).write_text(body)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/architecture.md").write_text("```layers\nmodels ->\nadmin -> models\n```\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "PACKAGES", ("models", "admin"))
    edges = graph()
    assert edges["models.a"] == {"admin.b"} and edges["admin.b"] == {"models.a"}
    try:
        test_every_import_goes_down_the_layers_written_in_the_architecture()
    except AssertionError as exc:
        assert "models.a -> admin.b" in str(exc)
    else:
        raise AssertionError("a forbidden import passed")
    try:
        test_no_module_imports_itself_through_others()
    except AssertionError as exc:
        assert "models.a" in str(exc) and "admin.b" in str(exc)
    else:
        raise AssertionError("a circle passed")
