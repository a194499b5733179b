"""Transcripts in the vault: versions, sealed segments, resumable runs, guide attribution.

A session can be transcribed more than once (a better model later); the newest *complete*
version is the current one, so a re-run that is interrupted or still running never hides
a usable transcript. A run commits each segment as it is produced, so after a crash or
Ctrl-C it resumes from the end of the last committed segment.

This is the store: the runs that fill it are above it (`batch_transcription` for a
finished recording, `live_transcription` during one), and so is the rule that an edit
re-opens the identifier review (`editing`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from . import ledger, sessions, timeline
from .audit import now_iso
from .errors import InvalidInput
from .guides import load_guide
from .transcription.engine import EngineSettings
from .transcription.guard import Segment, guard
from .transcription.models import ModelInfo, resolve_model
from .vault import Vault

DEFAULT_MODEL = "base"


@dataclass(frozen=True)
class TranscriptInfo:
    id: int
    session_id: str
    version: int
    model: str
    language: str
    state: str  # running | complete | alternative | superseded
    done_s: float
    total_s: float


@dataclass
class StoredSegment:
    idx: int
    start: float
    end: float
    text: str
    words: list[list[str | float]] = field(default_factory=list)  # [word, start, end, probability]
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    flags: list[str] = field(default_factory=list)
    question: str | None = None
    domain: str | None = None
    speaker: str | None = None  # "interviewer", a participant's pseudonym, or None (unnamed)
    notes: list[dict[str, Any]] = field(default_factory=list)
    # what Whisper heard, kept (sealed) once a person corrects the text, and who did it
    original_text: str | None = None
    edited: dict[str, Any] | None = None
    # the voice diarization heard (0, 1, … in order of first appearance; None before it ran) and
    # whether another voice spoke during part of it
    voice: int | None = None
    overlap: bool = False

    @property
    def dropped(self) -> bool:
        return any(f.startswith("dropped:") for f in self.flags)

    @property
    def label(self) -> str:
        """Who speaks, as a transcript shows it: "Interviewer", the participant's pseudonym,
        "Speaker A" for a voice nobody has named yet, or "" before speakers were found."""
        return speaker_label(self.speaker, self.voice)


INTERVIEWER = "interviewer"


def voice_letter(voice: int) -> str:
    """A, B, … Z, AA, AB … — how an unnamed voice is shown."""
    letters = ""
    voice += 1
    while voice:
        voice, rest = divmod(voice - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def speaker_label(speaker: str | None, voice: int | None) -> str:
    if speaker == INTERVIEWER:
        return "Interviewer"
    if speaker:
        return speaker
    return f"Speaker {voice_letter(voice)}" if voice is not None else ""


# A run's committed segments: those stored by an earlier run (resumed), then those it commits.
Committed = StoredSegment | Segment


# -- attribution ------------------------------------------------------------------------------------
# what a segment keeps of each mark stamped while it was spoken
NOTE_KEYS = {
    timeline.NOTE: ("text", "preset"),
    timeline.FLAG: ("text",),
    timeline.PROBE: ("question", "probe"),
}


class Timed(Protocol):
    """Anything with a place on the recording: a new Whisper segment or a stored one."""

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


def attribute(
    segments: Sequence[Timed],
    events: list[timeline.Event],
    prev_end: float = float("-inf"),
    *,
    complete: bool = False,
) -> list[dict[str, Any]]:
    """For each segment: the guide question (and domain) current at its midpoint, the focus
    group speaker noted then, and the notes, flags and probes stamped while it was spoken —
    or in the pause just before it, since a note is typed a moment after the moment. When the
    SEGMENTS are a COMPLETE transcript, the last one also takes the marks after it (a note
    typed in the closing silence), which would otherwise sit beside no words at all."""
    # in time order: marks placed after the fact come in any order (q3 first, then q1 before it)
    events = sorted(events, key=lambda e: (e.t, e.seq))
    questions = [e for e in events if e.kind == timeline.QUESTION]
    speakers = [e for e in events if e.kind == timeline.SPEAKER]
    marks = [e for e in events if e.kind in (timeline.NOTE, timeline.FLAG, timeline.PROBE)]
    out: list[dict[str, Any]] = []
    for seg in segments:
        mid = (seg.start + seg.end) / 2
        q = next((e for e in reversed(questions) if e.t <= mid), None)
        sp = next((e for e in reversed(speakers) if e.t <= mid), None)
        last = complete and seg is segments[-1]
        inside = [
            # a probe keeps its question: it may be asked just after the next question began
            {"kind": e.kind, "t": e.t, **{k: v for k, v in e.data.items() if k in NOTE_KEYS.get(e.kind, ())}}
            for e in marks
            if prev_end <= e.t and (e.t < seg.end or last)
        ]
        prev_end = seg.end
        out.append(
            {
                "question": q.data.get("question") if q else None,
                "domain": q.data.get("domain") if q else None,
                "speaker": sp.data.get("participant") if sp else None,
                "notes": inside,
            }
        )
    return out


# -- storage ------------------------------------------------------------------------------------------
def _row(r: tuple[int, str, int, str, str, str, float, float]) -> TranscriptInfo:  # the _COLS, in order
    return TranscriptInfo(*r)


_COLS = "id, session_id, version, model, language, state, done_s, total_s"


def list_transcripts(vault: Vault, session_id: str) -> list[TranscriptInfo]:
    sid = sessions.get_session(vault, session_id).id
    return [
        _row(r)
        for r in vault.db.execute(
            f"SELECT {_COLS} FROM transcripts WHERE session_id = ? ORDER BY version", (sid,)
        ).fetchall()
    ]


def current_transcript(vault: Vault, session_id: str) -> TranscriptInfo | None:
    complete = [t for t in list_transcripts(vault, session_id) if t.state == "complete"]
    return complete[-1] if complete else None


def load_segments(vault: Vault, transcript: TranscriptInfo, key: bytes | None = None) -> list[StoredSegment]:
    """A transcript version's segments in order; refused if any were deleted, put back from
    an older copy or edited in the clear (the session's history names the version)."""
    key = key or sessions.session_key(vault, transcript.session_id)
    rows = vault.db.execute(
        "SELECT idx, sealed FROM transcript_segments WHERE transcript_id = ? ORDER BY idx", (transcript.id,)
    ).fetchall()
    segments = [
        StoredSegment(
            **vault.open_json(key, sealed, "segment", transcript.session_id, str(transcript.version), str(idx))
        )
        for idx, sealed in rows
    ]
    ledger.check_session(vault, transcript.session_id)  # each segment authenticates; now the set of them
    return segments


def settings_for(vault: Vault, sid: str, model: str | None, language: str | None) -> tuple[EngineSettings, ModelInfo]:
    study = load_guide(vault, sessions.get_session(vault, sid).guide_sha256).study
    language = language or study.study.language
    name = model or study.transcription.model or DEFAULT_MODEL
    info = resolve_model(name)
    if language != "en" and not info.multilingual:
        raise InvalidInput(
            f"The {info.name} model understands English only, but this interview is in {language!r}; "
            "choose a multilingual model, e.g. --model base."
        )
    settings = EngineSettings(model=info.name, language=language, initial_prompt=study.transcription.initial_prompt)
    return settings, info


def begin_transcript(vault: Vault, sid: str, settings: EngineSettings, total_s: float) -> TranscriptInfo:
    """Resume the unfinished run with the same model and language, or start a new version."""
    for t in reversed(list_transcripts(vault, sid)):
        if t.state == "running" and t.model == settings.model and t.language == settings.language:
            return t
    ledger.check_session(vault, sid)
    with vault.db.atomic():
        version = (
            vault.db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM transcripts WHERE session_id = ?", (sid,)
            ).fetchone()[0]
            + 1
        )
        vault.db.table("transcripts").insert(
            {
                "session_id": sid,
                "version": version,
                "model": settings.model,
                "language": settings.language,
                "state": "running",
                "done_s": 0.0,
                "total_s": total_s,
                "settings": json.dumps(asdict(settings)),
                "created_at": now_iso(),
                "completed_at": None,
            }
        )
        ledger.update_session(
            vault, sid, "transcript.start", sid, version=version, model=settings.model, language=settings.language
        )
    return next(t for t in list_transcripts(vault, sid) if t.version == version)


def store_segments(
    vault: Vault,
    t: TranscriptInfo,
    key: bytes,
    segs: list[Segment],
    events: list[timeline.Event],
    done_s: float,
    prev_end: float = float("-inf"),
) -> int:
    """Attribute and seal segments, and move the resume point, in one transaction."""
    with vault.db.atomic():
        idx: int = (
            vault.db.execute(
                "SELECT COALESCE(MAX(idx), -1) FROM transcript_segments WHERE transcript_id = ?", (t.id,)
            ).fetchone()[0]
            + 1
        )
        for seg, extra in zip(segs, attribute(segs, events, prev_end), strict=True):
            stored = StoredSegment(
                idx=idx,
                start=seg.start,
                end=seg.end,
                text=seg.text,
                words=[list(w) for w in seg.words],
                avg_logprob=seg.avg_logprob,
                no_speech_prob=seg.no_speech_prob,
                flags=list(seg.flags),
                **extra,
            )
            vault.db.table("transcript_segments").insert(
                {
                    "transcript_id": t.id,
                    "idx": idx,
                    "start": seg.start,
                    "end": seg.end,
                    "sealed": vault.seal_json(key, asdict(stored), "segment", t.session_id, str(t.version), str(idx)),
                }
            )
            idx += 1
        vault.db.execute("UPDATE transcripts SET done_s = ? WHERE id = ?", (done_s, t.id))
    return idx


def commit_segment(
    vault: Vault,
    t: TranscriptInfo,
    key: bytes,
    seg: Segment,
    previous: list[Committed],
    events: list[timeline.Event],
    prompt: str | None = None,
) -> Segment:
    """Check one new segment against those before it (PREVIOUS: the run's committed segments
    in order) and against the initial PROMPT Whisper was given, seal it and move the resume point to its end in one transaction, and append
    it to PREVIOUS. The batch run and live transcription both commit through here, one
    segment at a time: a crash or Ctrl-C resumes after the last one."""
    prev_end = previous[-1].end if previous else float("-inf")
    (checked,) = guard([seg], previous, prompt)
    store_segments(vault, t, key, [checked], events, checked.end, prev_end)
    previous.append(checked)
    return checked


ALTERNATIVE = "alternative"  # complete, kept beside the current version for the reviewer to choose


def make_current(vault: Vault, sid: str, version: int) -> TranscriptInfo:
    """Make a finished VERSION (an alternative, or one superseded earlier) the current
    transcript; the one it replaces is kept as superseded."""
    sid = sessions.get_session(vault, sid).id
    chosen = next((t for t in list_transcripts(vault, sid) if t.version == version), None)
    if chosen is None or chosen.state not in ("complete", ALTERNATIVE, "superseded"):
        finished = [str(t.version) for t in list_transcripts(vault, sid) if t.state != "running"]
        raise InvalidInput(
            f"Session {sid} has no finished transcript version {version}; finished: {', '.join(finished) or 'none'}."
        )
    if chosen.state == "complete":
        return chosen
    ledger.check_session(vault, sid)
    with vault.db.atomic():
        vault.db.execute(
            "UPDATE transcripts SET state = 'superseded' WHERE session_id = ? AND state = 'complete'", (sid,)
        )
        vault.db.execute("UPDATE transcripts SET state = 'complete' WHERE id = ?", (chosen.id,))
        ledger.update_session(vault, sid, "transcript.use", sid, version=version, model=chosen.model)
    return next(t for t in list_transcripts(vault, sid) if t.id == chosen.id)


def complete_transcript(vault: Vault, t: TranscriptInfo, *, make_current: bool = True) -> None:
    """Make T the current version (or, with make_current=False, a finished alternative beside
    it); its segments are sealed into the session's history here (while it ran, segments past
    the last sealed count were tolerated)."""
    ledger.check_session(vault, t.session_id)
    with vault.db.atomic():
        if make_current:
            vault.db.execute(
                "UPDATE transcripts SET state = 'superseded' WHERE session_id = ? AND state IN ('complete', ?)",
                (t.session_id, ALTERNATIVE),
            )
        vault.db.execute(
            "UPDATE transcripts SET state = ?, done_s = total_s, completed_at = ? WHERE id = ?",
            ("complete" if make_current else ALTERNATIVE, now_iso(), t.id),
        )
        if sessions.get_session(vault, t.session_id).status == sessions.RECORDED:
            sessions.set_status(vault, t.session_id, sessions.TRANSCRIBED)
        _trailing_marks(vault, t)
        ledger.update_session(
            vault, t.session_id, "transcript.complete", t.session_id, version=t.version, model=t.model
        )


def _trailing_marks(vault: Vault, t: TranscriptInfo) -> None:
    """The finished transcript's last segment takes the marks stamped after it (inside the
    caller's transaction): segment by segment, a run could not know which segment is last."""
    key = sessions.session_key(vault, t.session_id)
    segments = load_segments(vault, t, key)
    if not segments:
        return
    last = segments[-1]
    after = attribute(segments[-1:], timeline.events(vault, t.session_id, key), last.start, complete=True)[0]
    extra = [n for n in after["notes"] if n["t"] >= last.end]
    if extra:
        last.notes = [*last.notes, *extra]
        vault.db.execute(
            "UPDATE transcript_segments SET sealed = ? WHERE transcript_id = ? AND idx = ?",
            (
                vault.seal_json(key, asdict(last), "segment", t.session_id, str(t.version), str(last.idx)),
                t.id,
                last.idx,
            ),
        )
