"""Services for marks placed after the fact: on a recording brought in from a handheld
recorder (or a live one to correct), where each guide question began, probes, notes, sensitive
moments and who speaks in a group. The transcript's questions, codes and documents follow the
marks as they follow live ones (`core.marking`). Views are frozen and defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .calls import ServiceBase

if TYPE_CHECKING:
    from ..core.timeline import Event


@dataclass(frozen=True)
class MarkView:
    """One mark on a session's recording, for a list a person can read and take back."""

    seq: int  # the number `remove_mark` takes
    t: float  # seconds into the recording
    kind: str  # question | probe | note | flag | speaker
    question: str | None = None  # the question it starts (question) or belongs to (probe)
    text: str = ""  # a note's or flag's words, a speaker's pseudonym, or the probe's number


def _view(e: Event) -> MarkView:
    data = e.data
    if e.kind == "speaker":
        text = str(data.get("participant") or "")
    elif e.kind == "probe":
        text = str(data.get("probe") or "")
    else:
        text = str(data.get("text") or "")
    return MarkView(e.seq, e.t, e.kind, data.get("question"), text)


class Marks(ServiceBase):
    """Marks after the fact."""

    def marks(self, sid: str) -> list[MarkView]:
        """SID's marks in time order."""
        from ..core import marking

        return [_view(e) for e in marking.marks(self.vault, sid)]

    def add_mark(self, sid: str, kind: str, at: float, **given: Any) -> MarkView:
        """Stamp a mark of KIND (question, probe, note, flag, speaker) AT seconds into SID's
        recording; GIVEN: question, probe, text, preset, participant. Refused in one sentence
        when it does not fit the session (an unknown question, past the end …)."""
        from ..core import marking

        return _view(marking.add_mark(self.vault, sid, kind, at, **given))

    def remove_mark(self, sid: str, seq: int) -> MarkView:
        """Take back mark SEQ of SID."""
        from ..core import marking

        return _view(marking.remove_mark(self.vault, sid, seq))
