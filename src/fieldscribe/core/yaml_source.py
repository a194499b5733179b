"""Load YAML while remembering where every value came from.

Guide authors are researchers editing a text file; a validation message is only useful if
it points at the line they must change. PyYAML's composer keeps start marks on every node,
so we build the Python value and a path -> line map from the same node tree, and report
duplicate keys (which plain ``yaml.safe_load`` silently collapses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class LocatedYaml:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """Line of the deepest known ancestor of *path* (missing keys point at their parent)."""
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


def load_located(text: str) -> LocatedYaml:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return LocatedYaml(data=None, problems=[f"{where}not valid YAML ({problem})"])
    out = LocatedYaml(data=None)
    if root is None:
        return out
    out.data = _build(root, (), out)
    return out


def _build(node: yaml.Node, path: Path, out: LocatedYaml) -> Any:
    out.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in result:
                out.problems.append(
                    f"line {key_node.start_mark.line + 1}: {_dotted(path + (key,))}: duplicate key "
                    f"{key!r} (the earlier one on line {out.lines[path + (key,)]} would be ignored)"
                )
                continue
            out.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, path + (key,), out)
            # the key's own line is more useful than the value's for block scalars
            out.lines[path + (key,)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), out) for i, item in enumerate(node.value)]
    return _scalar(node)


_CONSTRUCTOR = yaml.SafeLoader("")


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return _CONSTRUCTOR.construct_object(node, deep=True)


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


dotted = _dotted
