"""What every detection layer returns: a span of the original text and what to put there."""

from __future__ import annotations

from dataclasses import dataclass

# layers, from the most to the least certain: an exact match of something a person typed in,
# a rule (a format, a check digit, a title before a name), a statistical model
LIST, RULE, NER = "list", "rule", "ner"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str  # the original text of the span
    kind: str  # person, place, organisation, address, phone, id_number, email, handle, url, date, age,
    #                     or for list matches: name, contact, identifier
    descriptor: str  # the suggested bracketed replacement, e.g. "[P4]", "[doctor]" or "[电话号码]"
    source: str  # "list", "rule:<name>" or "ner:<model>"
    weak: bool = False  # a heuristic or a model: the reviewer should look twice

    @property
    def layer(self) -> str:
        return self.source.split(":", 1)[0]


@dataclass(frozen=True)
class Identifier:
    text: str
    descriptor: str
    kind: str = "identifier"
