"""A YAML loader that keeps line numbers, so every mistake in a flow file names its line.

`load(text, filename)` returns plain data in which every mapping is a `LineDict` (a dict with
`.line` and `.key_lines` / `.value_lines` per key) and every sequence a `LineList` (`.line`,
`.item_lines`). Safe types only (yaml.SafeLoader). Two YAML 1.1 surprises are switched off:
`13:30` stays the string "13:30" (not the sexagesimal integer 810), `yes`/`no`/`on`/`off`
stay words (only true/false are booleans, as in YAML 1.2), an impossible date stays text for
the checker to name, and duplicate keys are reported instead of the last one silently winning.
"""
from __future__ import annotations

import dataclasses

import yaml
from yaml.constructor import ConstructorError, SafeConstructor


@dataclasses.dataclass(frozen=True)
class Issue:
    """One finding in a flow file: `error` stops the file from loading, `warning` does not."""
    file: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else " (warning)"
        return f"{self.file}:{self.line}:{tag} {self.message}"


class LineDict(dict):
    line: int = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_lines: dict = {}
        self.value_lines: dict = {}

    def line_of(self, key, default: int | None = None) -> int:
        return self.key_lines.get(key, self.line if default is None else default)

    def value_line(self, key) -> int:
        return self.value_lines.get(key, self.line_of(key))


class LineList(list):
    line: int = 0

    def __init__(self, *args):
        super().__init__(*args)
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    def __init__(self, stream, filename: str):
        super().__init__(stream)
        self.filename = filename
        self.issues: list[Issue] = []


def _line(node) -> int:
    return node.start_mark.line + 1


def _construct_map(loader: _Loader, node):
    data = LineDict()
    data.line = _line(node)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            loader.issues.append(Issue(loader.filename, _line(key_node),
                                       "a key must be a plain value, not a list or mapping"))
            continue
        if key in data:
            loader.issues.append(Issue(loader.filename, _line(key_node),
                                       f"duplicate key {key!r} (first on line {data.key_lines[key]})"))
            continue
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = _line(key_node)
        data.value_lines[key] = _line(value_node)


def _construct_seq(loader: _Loader, node):
    data = LineList()
    data.line = _line(node)
    yield data
    for child in node.value:
        data.append(loader.construct_object(child, deep=True))
        data.item_lines.append(_line(child))


def _construct_int(loader: _Loader, node):
    text = loader.construct_scalar(node)
    if ":" in text:  # YAML 1.1 base 60: 13:30 would be 810
        return text
    return SafeConstructor.construct_yaml_int(loader, node)


def _construct_float(loader: _Loader, node):
    text = loader.construct_scalar(node)
    if ":" in text:
        return text
    return SafeConstructor.construct_yaml_float(loader, node)


def _construct_timestamp(loader: _Loader, node):
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:  # 2026-02-30: keep the text, the checker names the bad date
        return loader.construct_scalar(node)


def _construct_bool(loader: _Loader, node):
    text = loader.construct_scalar(node)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text  # YAML 1.1 reads yes/no/on/off as booleans; here they stay words


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def load(text: str, filename: str) -> tuple[object, list[Issue]]:
    """Parse one YAML document. Returns (data, issues); data is None on a syntax error."""
    loader = _Loader(text, filename)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        return None, loader.issues + [Issue(filename, line, f"YAML syntax error: {problem}")]
    except (yaml.YAMLError, ConstructorError, ValueError, TypeError, RecursionError) as exc:
        return None, loader.issues + [Issue(filename, 1, f"YAML error: {exc}")]
    finally:
        loader.dispose()
    return data, loader.issues
