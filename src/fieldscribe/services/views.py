"""What the app is shown: frozen, typed values built from the core's records.

A screen holds these and nothing of the core, so it can neither change a record behind the
core's back nor come to depend on how the core stores it. Each view carries exactly what a
screen displays or passes back (ids, numbers, words), already decided (which questions a
participant's group is asked, in which wording; which consent item is the audio one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# -- the dashboard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantRow:
    id: str
    group: str
    wave: int | None
    consent: str  # complete | partial | none | no audio | withdrawn | tampered
    sessions: tuple[tuple[str, str], ...]  # (session id, status) of each of their sessions


@dataclass(frozen=True)
class SessionRow:
    id: str
    kind: str
    wave: int
    participants: tuple[str, ...]
    status: str  # a session status (sessions.STATUSES) or "tampered"
    transcribed_share: float | None = None  # 0–1 while a transcription has stopped part-way


@dataclass(frozen=True)
class AttentionItem:
    """Something to do or know about, worded by the front end: ``kind`` is interrupted,
    consent (``detail`` is the consent state), a session status that needs a follow-up,
    tampered or models (``detail`` is then a whole sentence from the core)."""

    kind: str
    subject: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Dashboard:
    study_title: str
    sites: list[str]
    participants: list[ParticipantRow]
    sessions: list[SessionRow]
    attention: list[AttentionItem] = field(default_factory=list)


# -- enrolment ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str  # what is stored (a group id, a choice code, a site name)
    label: str  # what the interviewer reads


@dataclass(frozen=True)
class Criterion:
    id: str
    text: str


@dataclass(frozen=True)
class ConsentItemView:
    id: str
    text: str
    required: bool
    audio_recording: bool


@dataclass(frozen=True)
class FormField:
    """One baseline-questionnaire field, as a form shows it."""

    id: str
    label: str  # with its range and unit, e.g. "Age (18–99 years)"
    required: bool
    input: Literal["integer", "number", "text", "choice"]
    choices: tuple[Choice, ...] = ()
    low: float | None = None  # the range a number must lie in, so a form can say it in its own words
    high: float | None = None


@dataclass(frozen=True)
class EnrolmentForm:
    groups: tuple[Choice, ...]
    sites: tuple[str, ...]
    inclusion: tuple[Criterion, ...]
    exclusion: tuple[Criterion, ...]
    consent: tuple[ConsentItemView, ...]  # in reading order: the audio item last, on its own
    fields: tuple[FormField, ...]


# -- sessions and the interview ----------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    id: str
    kind: str  # interview | focus_group
    wave: int
    status: str
    participants: tuple[str, ...]


@dataclass(frozen=True)
class GuideQuestion:
    """One question of the guide as this session's participant is asked it."""

    domain_id: str
    domain_title: str
    id: str
    text: str  # the wording for the participant's group
    probes: tuple[str, ...]


@dataclass(frozen=True)
class Mark:
    """A moment stamped on the session's timeline."""

    kind: str  # question | probe | note | flag | speaker | pause | resume
    t: float  # seconds into the recording


@dataclass(frozen=True)
class RecordingResult:
    seconds: float  # audio saved for the session so far
    transcript_ready: bool  # live transcription finished the transcript
    finish_seconds: float | None  # stop -> finished transcript
    error: str | None = None  # the recording stopped early: this sentence says why and what is saved


# -- long work ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: float
    total: float
    eta_s: float | None = None


@dataclass(frozen=True)
class TranscriptionResult:
    complete: bool  # False: paused (cancelled); the next run resumes
    done_s: float
    total_s: float


@dataclass(frozen=True)
class FinalPassView:
    """A session waiting for (or part-way through) its final transcript with the better model."""

    session_id: str
    model: str
    done_s: float
    total_s: float


@dataclass(frozen=True)
class FinalPassResult:
    session_id: str
    model: str
    outcome: Literal["replaced", "alternative", "paused"]
    done_s: float
    total_s: float


@dataclass(frozen=True)
class SyncResult:
    uploaded: int
    already_there: int
    received: int
    notices_sent: int
    rejected: int  # receipts not signed by a receipt key the study lists
    no_receipt_key: bool
    cancelled: bool
    withdrawn_elsewhere: tuple[str, ...] = ()  # handed-over participants who withdrew on another laptop
    handed_over_in: tuple[str, ...] = ()  # participants taken in from this laptop's inbox on the store
    hand_overs_refused: tuple[str, ...] = ()  # files in that inbox refused, "NAME: why" (one sentence each)


# -- review ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldNote:
    kind: str  # note | flag | probe …
    text: str


@dataclass(frozen=True)
class SegmentView:
    idx: int
    start: float
    end: float
    text: str
    speaker: str | None
    question: str | None
    notes: tuple[FieldNote, ...]
    original_text: str | None  # what Whisper heard, once a person corrected it
    voice: int | None = None  # the voice heard (None before speakers were found)
    overlap: bool = False  # another voice spoke during part of it
    label: str = ""  # "Interviewer", "P1", "Speaker A", or "" when nothing is known

    @property
    def flagged(self) -> bool:
        return any(n.kind == "flag" for n in self.notes)


@dataclass(frozen=True)
class SuggestionView:
    """One occurrence of a suggested redaction; `n` is its group, decided as one."""

    n: int
    segment: int
    start: int
    end: int
    original: str
    kind: str
    descriptor: str
    status: str  # suggested | accepted | rejected
    layer: str  # list | rule | model
    weak: bool


@dataclass(frozen=True)
class Transcript:
    """A session's current transcript as the review screen shows it."""

    segments: tuple[SegmentView, ...]
    reviewed: bool
    participants: tuple[str, ...]
