"""Scoring a detector against annotated interview turns: recall per kind, precision.

The annotation format (one JSON object a line, identifiers marked inline as
``{{Gloria Pemberton|person}}``) is described in tests/data/deid/README.md. A study team
can annotate a few of its own transcripts the same way and measure before trusting the
suggestions.

An identifier counts as found only when every character of it (spaces aside) lies inside
something the detector would replace: half a name left behind is a name left behind. A
suggestion counts as correct when it overlaps an annotated identifier.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

MARK = re.compile(r"\{\{([^{}|]+)\|([a-z_]+)\}\}")
KINDS = ("person", "place", "organisation", "address", "phone", "id_number", "email", "handle", "url", "date", "age")


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    text: str
    kind: str


@dataclass(frozen=True)
class Turn:
    id: str
    text: str
    entities: tuple[Entity, ...]


def parse_turn(turn_id: str, marked: str) -> Turn:
    """'My friend {{Trish|person}} came' → the plain text and the entities in it."""
    out, entities, pos = [], [], 0
    for m in MARK.finditer(marked):
        out.append(marked[pos : m.start()])
        start = sum(len(p) for p in out)
        entities.append(Entity(start, start + len(m.group(1)), m.group(1), m.group(2)))
        out.append(m.group(1))
        pos = m.end()
    out.append(marked[pos:])
    text = "".join(out)
    if "{{" in text or "}}" in text:
        raise ValueError(f"{turn_id}: an identifier mark is not closed properly")
    return Turn(turn_id, text, tuple(entities))


def load(path: str | Path) -> list[Turn]:
    turns = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            turns.append(parse_turn(obj["id"], obj["text"]))
    return turns


@dataclass
class Score:
    found: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    true_pos: int = 0
    false_pos: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (turn id, kind, text)
    false_alarms: list[tuple[str, str]] = field(default_factory=list)  # (turn id, text)

    @property
    def recall(self) -> float:
        total = sum(self.total.values())
        return sum(self.found.values()) / total if total else 1.0

    @property
    def precision(self) -> float:
        n = self.true_pos + self.false_pos
        return self.true_pos / n if n else 1.0

    def recall_of(self, kind: str) -> float | None:
        return self.found.get(kind, 0) / self.total[kind] if self.total.get(kind) else None


def score(turns: Iterable[Turn], predict: Callable[[str], list[tuple[int, int]]]) -> Score:
    """`predict(text)` returns the (start, end) spans a detector would replace."""
    s = Score()
    for turn in turns:
        spans = predict(turn.text)
        covered: set[int] = set()
        for a, b in spans:
            covered.update(range(a, b))
        for e in turn.entities:
            s.total[e.kind] = s.total.get(e.kind, 0) + 1
            needed = [i for i in range(e.start, e.end) if not turn.text[i].isspace()]
            if all(i in covered for i in needed):
                s.found[e.kind] = s.found.get(e.kind, 0) + 1
            else:
                s.misses.append((turn.id, e.kind, e.text))
        for a, b in spans:
            if any(a < e.end and e.start < b for e in turn.entities):
                s.true_pos += 1
            else:
                s.false_pos += 1
                s.false_alarms.append((turn.id, turn.text[a:b]))
    return s
