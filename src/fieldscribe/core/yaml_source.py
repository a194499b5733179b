"""Load YAML while remembering where every value came from.

Guide authors are researchers editing a text file; a validation message is only useful if
it points at the line they must change. PyYAML's composer keeps start marks on every node,
so we build the Python value and a path -> line map from the same node tree, and report
duplicate keys (which plain ``yaml.safe_load`` silently collapses).

A study file may come from anyone (an e-mail attachment, a USB stick), so it is treated as
hostile input: YAML anchors and aliases are refused outright (a 466-byte "billion laughs"
file expands to gigabytes, and a protocol never needs them), and size, nesting depth and the
number of values are capped. The checks run on PyYAML's event stream, which is produced by
a loop rather than by recursion, so a file is refused after reading only as much of it as
it takes to see the problem; only a file within the caps reaches the (recursive) composer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

Path = tuple[str | int, ...]

# Caps far above any real protocol (the bundled study files are about 9 KB, 460 YAML events
# and 8 levels deep) and far below what makes parsing slow or memory-hungry.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
MAX_EVENTS = 100_000


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


class _Refused(Exception):
    """A structure this loader will not build, with the line it starts on."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def _checked_events(text: str) -> list[yaml.Event]:
    """Parse to events, refusing aliases, deep nesting and excessive size as soon as seen."""
    events: list[yaml.Event] = []
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        assert event.start_mark is not None  # the parser marks every event
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(
                line,
                "YAML anchors and aliases (&name, *name) are not allowed in study files; "
                "write the repeated value out in full",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(
                    line,
                    f"the lists and mappings are nested more than {MAX_DEPTH} levels deep; "
                    "a study file needs fewer than ten, so check for unclosed brackets",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        events.append(event)
        if len(events) > MAX_EVENTS:
            raise _Refused(
                line,
                f"the file holds more than {MAX_EVENTS:,} values, far more than a study "
                "protocol needs; check that this is the right file",
            )
    return events


class _EventComposer(Composer, Resolver):
    """PyYAML's composer (keeps start marks on nodes) fed from already checked events."""

    def __init__(self, events: list[yaml.Event]) -> None:
        self._events = deque(events)
        Composer.__init__(self)
        Resolver.__init__(self)

    def check_event(self, *choices: type) -> bool:
        if not self._events:
            return False
        return not choices or isinstance(self._events[0], choices)

    def peek_event(self) -> yaml.Event | None:
        return self._events[0] if self._events else None

    def get_event(self) -> yaml.Event | None:
        return self._events.popleft() if self._events else None


def load_located(text: str) -> LocatedYaml:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        problem = (
            f"line 1: the file is {size / 1e6:.1f} MB, larger than the {MAX_BYTES / 2**20:g} MB a study "
            "file may be; check that this is the right file"
        )
        return LocatedYaml(data=None, problems=[problem])
    try:
        root = _EventComposer(_checked_events(text)).get_single_node()
    except _Refused as exc:
        return LocatedYaml(data=None, problems=[f"line {exc.line}: {exc.problem}"])
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        problem = (
            f"line {line}: the file contains the control character {char}, which YAML does not allow; "
            "delete it (it may be an invisible character pasted from another program)"
        )
        return LocatedYaml(data=None, problems=[problem])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
        problem = ", ".join(p for p in parts if p) or str(exc).splitlines()[0]
        return LocatedYaml(data=None, problems=[f"{where}not valid YAML ({problem})"])
    out = LocatedYaml(data=None)
    if root is None:
        return out
    # a fresh constructor per file: SafeConstructor remembers every node it has built
    out.data = _build(root, (), out, SafeConstructor())
    return out


_PLAIN_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


def _build(node: yaml.Node, path: Path, out: LocatedYaml, con: SafeConstructor) -> Any:
    out.lines[path] = node.start_mark.line + 1
    plain = _PLAIN_TAGS.get(type(node))
    if plain is not None and node.tag != plain:  # e.g. !!python/object/apply: never built, but never silent
        out.problems.append(
            f"line {node.start_mark.line + 1}: {_dotted(path)}: the tag {node.tag[:60]!r} is not "
            "allowed in study files; remove it"
        )
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                out.problems.append(
                    f"line {key_node.start_mark.line + 1}: {_dotted(path)}: a key must be a plain "
                    "word, not a list or mapping (check the indentation and the ? and : marks)"
                )
                continue
            key = _scalar(key_node, out, con)
            if key in result:
                out.problems.append(
                    f"line {key_node.start_mark.line + 1}: {_dotted(path + (key,))}: duplicate key "
                    f"{key!r} (the earlier one on line {out.lines[path + (key,)]} would be ignored)"
                )
                continue
            out.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, path + (key,), out, con)
            # the key's own line is more useful than the value's for block scalars
            out.lines[path + (key,)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), out, con) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)  # the composer builds only mappings, sequences and scalars
    return _scalar(node, out, con)


def _scalar(node: yaml.ScalarNode, out: LocatedYaml, con: SafeConstructor) -> Any:
    """The Python value of a scalar; a value YAML cannot build (an unknown ``!!tag``, a
    5,000-digit number, the 45th of month 13) becomes a problem on its line, and its text is
    kept so the rest of the file is still checked."""
    try:
        return con.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, ValueError) and "digits" in problem:
            problem = "the number is too long"
        out.problems.append(
            f"line {node.start_mark.line + 1}: the value {node.value[:40]!r} cannot be read "
            f"({problem}); write it as plain text or a plain number"
        )
        return node.value


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


dotted = _dotted
