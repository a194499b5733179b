"""Everything the app's screens and workers tell each other, as Textual messages.

Every message here derives from :class:`AppEvent` and bubbles to the App, which keeps the
recent ones in ``app.events``: functional tests assert on what the app *did* (a question was
stamped, a segment was edited) instead of on pixels. Messages posted many times a second
(input level, progress) replace a pending one of their kind instead of queueing up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


class AppEvent(Message):
    """Base of fieldscribe's messages (recorded by the App for tests and the status line)."""


class _Coalescing(AppEvent):
    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)


# -- vault -------------------------------------------------------------------------------------
class Unlocked(AppEvent):
    def __init__(self, recovered: list[str]) -> None:
        super().__init__()
        self.recovered = recovered


class UnlockFailed(AppEvent):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class LockedNow(AppEvent):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


# -- enrolment ---------------------------------------------------------------------------------
class ParticipantEnrolled(AppEvent):
    def __init__(self, pid: str) -> None:
        super().__init__()
        self.pid = pid


class SessionCreated(AppEvent):
    def __init__(self, sid: str) -> None:
        super().__init__()
        self.sid = sid


# -- the interview -----------------------------------------------------------------------------
class RecordingStarted(AppEvent):
    def __init__(self, sid: str, live: bool) -> None:
        super().__init__()
        self.sid, self.live = sid, live


class LevelChanged(_Coalescing, bubble=False):
    """Ten a second: the meter needs it, the App's record does not (hence no bubbling)."""

    def __init__(self, db: float) -> None:
        super().__init__()
        self.db = db


class Marked(AppEvent):
    """A timeline event was stamped (question, probe, note, flag, speaker, pause, resume)."""

    def __init__(self, kind: str, t: float, data: dict[str, Any]) -> None:
        super().__init__()
        self.kind, self.t, self.data = kind, t, data


class RecorderWarning(AppEvent):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class LiveSegment(AppEvent):
    def __init__(self, start: float, text: str) -> None:
        super().__init__()
        self.start, self.text = start, text


class RecordingStopped(AppEvent):
    def __init__(self, sid: str, seconds: float, transcript_ready: bool, finish_seconds: float | None) -> None:
        super().__init__()
        self.sid, self.seconds = sid, seconds
        self.transcript_ready, self.finish_seconds = transcript_ready, finish_seconds


# -- long work ---------------------------------------------------------------------------------
@dataclass
class ProgressInfo:
    done: float
    total: float
    eta_s: float | None = None
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class WorkProgress(_Coalescing):
    def __init__(self, task: str, info: ProgressInfo) -> None:
        super().__init__()
        self.task, self.info = task, info

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WorkProgress) and message.task == self.task


class WorkDone(AppEvent):
    def __init__(self, task: str, summary: str) -> None:
        super().__init__()
        self.task, self.summary = task, summary


class WorkFailed(AppEvent):
    """A typed error from the core: shown as its one sentence, never as a traceback."""

    def __init__(self, task: str, error: str, retry_in: float | None = None) -> None:
        super().__init__()
        self.task, self.error, self.retry_in = task, error, retry_in


# -- review ------------------------------------------------------------------------------------
class SegmentEdited(AppEvent):
    def __init__(self, sid: str, idx: int, what: str) -> None:
        super().__init__()
        self.sid, self.idx, self.what = sid, idx, what


class RedactionsChanged(AppEvent):
    def __init__(self, sid: str, pending: int) -> None:
        super().__init__()
        self.sid, self.pending = sid, pending


class SuggestionsReady(AppEvent):
    """The name finders went through a transcript (in a worker) and found these."""

    def __init__(self, sid: str, suggestions: list, missing_layers: list[str]) -> None:
        super().__init__()
        self.sid, self.suggestions, self.missing_layers = sid, suggestions, missing_layers


class TranscriptReviewed(AppEvent):
    def __init__(self, sid: str) -> None:
        super().__init__()
        self.sid = sid
