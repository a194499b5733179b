"""Everything the app's screens and workers tell each other, as Textual messages.

Every message here derives from :class:`AppEvent` and bubbles to the App (all but the
meter's :class:`LevelChanged`); the App keeps no copy of them. Tests watch them go by with
``app.run_test(message_hook=...)`` instead. Messages posted many times a second (input
level, progress) replace a pending one of their kind instead of queueing up.

The messages are dataclasses (see :func:`app_message`): the generated ``__init__`` sets the
fields, then calls ``Message.__post_init__``, which does all of Textual's ``Message.__init__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar, dataclass_transform

from textual.message import Message

from ..services.views import SuggestionView

_M = TypeVar("_M", bound=Message)


@dataclass_transform(eq_default=False)
def app_message(cls: type[_M]) -> type[_M]:
    """A dataclass message. ``eq=False``: compared and hashed by identity, like every other
    Textual message. ``repr=False``: Textual's field-less repr, so decrypted text (a note, a
    live transcript line) does not end up in a log line or a traceback."""
    return dataclass(eq=False, repr=False)(cls)


class AppEvent(Message):
    """Base of fieldscribe's messages."""


class _Coalescing(AppEvent):
    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)


# -- vault -------------------------------------------------------------------------------------
@app_message
class Unlocked(AppEvent):
    recovered: list[str]


@app_message
class UnlockFailed(AppEvent):
    error: str


@app_message
class LockedNow(AppEvent):
    reason: str


# -- enrolment ---------------------------------------------------------------------------------
@app_message
class ParticipantEnrolled(AppEvent):
    pid: str


@app_message
class SessionCreated(AppEvent):
    sid: str


# -- the interview -----------------------------------------------------------------------------
@app_message
class RecordingStarted(AppEvent):
    sid: str
    live: bool


@app_message
class LevelChanged(_Coalescing, bubble=False):
    """Ten a second: only the screen's meter needs it (hence no bubbling)."""

    db: float


@app_message
class Marked(AppEvent):
    """A timeline event was stamped (question, probe, note, flag, speaker, pause, resume)."""

    kind: str
    t: float
    data: dict[str, Any]


@app_message
class RecorderWarning(AppEvent):
    message: str


@app_message
class LiveSegment(AppEvent):
    start: float
    text: str


@app_message
class RecordingStopped(AppEvent):
    sid: str
    seconds: float
    transcript_ready: bool
    finish_seconds: float | None


# -- long work ---------------------------------------------------------------------------------
@dataclass
class ProgressInfo:
    done: float
    total: float
    eta_s: float | None = None
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@app_message
class WorkProgress(_Coalescing):
    task: str
    info: ProgressInfo

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WorkProgress) and message.task == self.task


@app_message
class WorkDone(AppEvent):
    task: str
    summary: str


@app_message
class WorkFailed(AppEvent):
    """A typed error from the core: shown as its one sentence, never as a traceback."""

    task: str
    error: str
    retry_in: float | None = None


@app_message
class FinalPassProgress(_Coalescing, bubble=False):
    """The background final pass moved on (a few times a second)."""

    sid: str
    done: float
    total: float
    eta_s: float | None


@app_message
class FinalPassDone(AppEvent):
    """A final pass finished ("replaced" or "alternative"), paused, or failed (`error`)."""

    sid: str
    outcome: str
    error: str | None = None


@app_message
class SpeakersStarted(AppEvent, bubble=False):
    """The background line began finding who speaks in a session."""

    sid: str


@app_message
class SpeakersDone(AppEvent):
    """Who speaks in a session was found (and written into its transcript), was cancelled,
    or failed (`error`)."""

    sid: str
    outcome: str  # found | cancelled | failed
    error: str | None = None


# -- review ------------------------------------------------------------------------------------
@app_message
class SegmentEdited(AppEvent):
    sid: str
    idx: int
    what: str


@app_message
class RedactionsChanged(AppEvent):
    sid: str
    pending: int


@app_message
class SuggestionsReady(AppEvent):
    """The name finders went through a transcript (in a worker) and found these."""

    sid: str
    suggestions: list[SuggestionView]
    missing_layers: list[str]


@app_message
class DecisionSaved(AppEvent):
    """A redaction decision was saved (in a worker), or refused with `error`; `suggestions` are
    the transcript's as they now stand (None if they could not be read)."""

    sid: str
    suggestions: list[SuggestionView] | None
    error: str | None = None


@app_message
class TranscriptReviewed(AppEvent):
    sid: str


@app_message
class PlaybackAt(_Coalescing):
    """Playback has reached AT seconds of the session (a few times a second)."""

    at: float
    end: float
