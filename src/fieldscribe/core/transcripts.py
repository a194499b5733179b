"""Transcripts in the vault: versions, sealed segments, resumable runs, guide attribution.

A session can be transcribed more than once (a better model later); the newest *complete*
version is the current one, so a re-run that is interrupted or still running never hides
a usable transcript. A run commits each segment as it is produced, so after a crash or
Ctrl-C it resumes from the end of the last committed segment.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import ledger, sessions, timeline
from .audit import now_iso
from .errors import InvalidInput, InvalidTransition
from .guides import load_guide
from .vault import Vault

DEFAULT_MODEL = "base"


@dataclass(frozen=True)
class TranscriptInfo:
    id: int
    session_id: str
    version: int
    model: str
    language: str
    state: str            # running | complete | superseded
    done_s: float
    total_s: float


@dataclass
class StoredSegment:
    idx: int
    start: float
    end: float
    text: str
    words: list = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    flags: list[str] = field(default_factory=list)
    question: str | None = None
    domain: str | None = None
    speaker: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    # what Whisper heard, kept (sealed) once a person corrects the text, and who did it
    original_text: str | None = None
    edited: dict[str, Any] | None = None

    @property
    def dropped(self) -> bool:
        return any(f.startswith("dropped:") for f in self.flags)


@dataclass(frozen=True)
class Progress:
    done_s: float
    total_s: float
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return 1.0 if self.total_s <= 0 else min(1.0, self.done_s / self.total_s)

    @property
    def eta_s(self) -> float | None:
        if self.done_s <= 0 or self.elapsed_s <= 0:
            return None
        return (self.total_s - self.done_s) * self.elapsed_s / self.done_s


# -- attribution ------------------------------------------------------------------------------------
def attribute(segments: list, events: list[timeline.Event], prev_end: float = float("-inf")) -> list[dict[str, Any]]:
    """For each segment: the guide question (and domain) current at its midpoint, the focus
    group speaker noted then, and the notes, flags and probes stamped while it was spoken —
    or in the pause just before it, since a note is typed a moment after the moment."""
    questions = [e for e in events if e.kind == timeline.QUESTION]
    speakers = [e for e in events if e.kind == timeline.SPEAKER]
    marks = [e for e in events if e.kind in (timeline.NOTE, timeline.FLAG, timeline.PROBE)]
    out = []
    for seg in segments:
        mid = (seg.start + seg.end) / 2
        q = next((e for e in reversed(questions) if e.t <= mid), None)
        sp = next((e for e in reversed(speakers) if e.t <= mid), None)
        inside = [
            {"kind": e.kind, "t": e.t, **{k: v for k, v in e.data.items() if k in ("text", "preset", "probe")}}
            for e in marks
            if prev_end <= e.t < seg.end
        ]
        prev_end = seg.end
        out.append({
            "question": q.data.get("question") if q else None,
            "domain": q.data.get("domain") if q else None,
            "speaker": sp.data.get("participant") if sp else None,
            "notes": inside,
        })
    return out


# -- storage ------------------------------------------------------------------------------------------
def _row(r) -> TranscriptInfo:
    return TranscriptInfo(*r)


_COLS = "id, session_id, version, model, language, state, done_s, total_s"


def list_transcripts(vault: Vault, session_id: str) -> list[TranscriptInfo]:
    sid = sessions.get_session(vault, session_id).id
    return [_row(r) for r in vault.db.execute(
        f"SELECT {_COLS} FROM transcripts WHERE session_id = ? ORDER BY version", (sid,)
    ).fetchall()]


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
        StoredSegment(**vault.open_json(key, sealed, "segment", transcript.session_id, str(transcript.version), str(idx)))
        for idx, sealed in rows
    ]
    ledger.check_session(vault, transcript.session_id)  # each segment authenticates; now the set of them
    return segments


def settings_for(vault: Vault, sid: str, model: str | None, language: str | None):
    from .transcription.engine import EngineSettings
    from .transcription.models import resolve_model

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


def begin_transcript(vault: Vault, sid: str, settings, total_s: float) -> TranscriptInfo:
    """Resume the unfinished run with the same model and language, or start a new version."""
    for t in reversed(list_transcripts(vault, sid)):
        if t.state == "running" and t.model == settings.model and t.language == settings.language:
            return t
    ledger.check_session(vault, sid)
    with vault.db.atomic():
        version = vault.db.execute(
            "SELECT COALESCE(MAX(version), 0) FROM transcripts WHERE session_id = ?", (sid,)
        ).fetchone()[0] + 1
        vault.db["transcripts"].insert({
            "session_id": sid, "version": version, "model": settings.model, "language": settings.language,
            "state": "running", "done_s": 0.0, "total_s": total_s,
            "settings": json.dumps(asdict(settings)), "created_at": now_iso(), "completed_at": None,
        })
        ledger.update_session(vault, sid, "transcript.start", sid, version=version, model=settings.model,
                              language=settings.language)
    return next(t for t in list_transcripts(vault, sid) if t.version == version)


def store_segments(vault: Vault, t: TranscriptInfo, key: bytes, segs: list, events: list, done_s: float,
                   prev_end: float = float("-inf")) -> int:
    """Attribute and seal segments, and move the resume point, in one transaction."""
    with vault.db.atomic():
        idx = vault.db.execute(
            "SELECT COALESCE(MAX(idx), -1) FROM transcript_segments WHERE transcript_id = ?", (t.id,)
        ).fetchone()[0] + 1
        for seg, extra in zip(segs, attribute(segs, events, prev_end), strict=True):
            stored = StoredSegment(
                idx=idx, start=seg.start, end=seg.end, text=seg.text, words=[list(w) for w in seg.words],
                avg_logprob=seg.avg_logprob, no_speech_prob=seg.no_speech_prob, flags=list(seg.flags), **extra,
            )
            vault.db["transcript_segments"].insert({
                "transcript_id": t.id, "idx": idx, "start": seg.start, "end": seg.end,
                "sealed": vault.seal_json(key, asdict(stored), "segment", t.session_id, str(t.version), str(idx)),
            })
            idx += 1
        vault.db.execute("UPDATE transcripts SET done_s = ? WHERE id = ?", (done_s, t.id))
    return idx


def complete_transcript(vault: Vault, t: TranscriptInfo) -> None:
    """Make T the current version; its segments are sealed into the session's history here
    (while it ran, segments past the last sealed count were tolerated)."""
    ledger.check_session(vault, t.session_id)
    with vault.db.atomic():
        vault.db.execute(
            "UPDATE transcripts SET state = 'superseded' WHERE session_id = ? AND state = 'complete'", (t.session_id,)
        )
        vault.db.execute(
            "UPDATE transcripts SET state = 'complete', done_s = total_s, completed_at = ? WHERE id = ?",
            (now_iso(), t.id),
        )
        if sessions.get_session(vault, t.session_id).status == sessions.RECORDED:
            sessions.set_status(vault, t.session_id, sessions.TRANSCRIBED)
        ledger.update_session(vault, t.session_id, "transcript.complete", t.session_id, version=t.version,
                              model=t.model)


def transcribe_session(
    vault: Vault,
    session_id: str,
    *,
    model: str | None = None,
    language: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> TranscriptInfo:
    """Transcribe a session's sealed audio; resumable, cancellable, and nothing touches disk
    but sealed segments."""
    from .audio.store import read_audio
    from .recording import recording_info
    from .transcription.engine import SAMPLE_RATE, transcribe_array
    from .transcription.guard import guard

    sid = sessions.get_session(vault, session_id).id
    rec = recording_info(vault, sid)
    if rec is None:
        raise InvalidInput(f"Session {sid} has no audio to transcribe yet.")
    if rec.state == "recording":
        raise InvalidTransition(f"Session {sid} is being recorded (or was interrupted); run `fieldscribe recover` first.")
    if rec.rate != SAMPLE_RATE:
        raise InvalidInput(f"Session {sid} was recorded at {rec.rate} Hz; transcription needs 16 kHz audio.")
    settings, info = settings_for(vault, sid, model, language)
    key = sessions.session_key(vault, sid)
    events = timeline.events(vault, sid, key)
    total = rec.frames / rec.rate
    t = begin_transcript(vault, sid, settings, total)
    previous = load_segments(vault, t, key)
    started = time.monotonic()
    done = t.done_s
    audio, _ = read_audio(vault, sid, start=done, as_float=True, mono=True)
    audio = audio[:, 0].copy()
    if on_progress:
        on_progress(Progress(done, total, 0.0))
    prev_end = previous[-1].end if previous else float("-inf")
    for seg in transcribe_array(audio, info.path, settings, offset=done, cancel=cancel):
        (checked,) = guard([seg], previous)
        # commit every segment: a crash or Ctrl-C resumes after the last one
        store_segments(vault, t, key, [checked], events, checked.end, prev_end)
        previous.append(checked)
        prev_end = done = checked.end
        if on_progress:
            on_progress(Progress(done, total, time.monotonic() - started))
    if cancel is not None and cancel.is_set():
        ledger.update_session(vault, sid, "transcript.paused", sid, version=t.version, done_s=round(done, 1))
        return next(x for x in list_transcripts(vault, sid) if x.id == t.id)
    complete_transcript(vault, t)
    if on_progress:
        on_progress(Progress(total, total, time.monotonic() - started))
    return next(x for x in list_transcripts(vault, sid) if x.id == t.id)


def edit_segment(vault: Vault, session_id: str, idx: int, *, text: str | None = None,
                 speaker: str | None = None) -> StoredSegment:
    """Correct a segment of the current transcript (its words or its speaker).

    The first machine text is kept sealed beside the correction, so a reviewer can see what
    Whisper heard; any edit re-opens the identifier review, because new words may name
    someone the reviewed version did not.
    """
    from .deid.review import reopen_review
    from .paths import actor

    session = sessions.get_session(vault, session_id)
    t = current_transcript(vault, session.id)
    if t is None:
        raise InvalidInput(f"Session {session.id} has no finished transcript to edit.")
    key = sessions.session_key(vault, session.id)
    ledger.check_session(vault, session.id)
    row = vault.db.execute(
        "SELECT sealed FROM transcript_segments WHERE transcript_id = ? AND idx = ?", (t.id, idx)
    ).fetchone()
    if row is None:
        raise InvalidInput(f"Session {session.id} has no segment {idx}.")
    context = ("segment", session.id, str(t.version), str(idx))
    seg = StoredSegment(**vault.open_json(key, row[0], *context))
    changed = []
    if text is not None:
        text = " ".join(text.split())
        if not text:
            raise InvalidInput("A segment cannot be left empty; type what was said, or (inaudible).")
        if text != seg.text:
            if seg.original_text is None:
                seg.original_text = seg.text
            seg.text, seg.words = text, []  # word timings belonged to the old words
            changed.append("text")
    if speaker is not None:
        speaker = speaker.strip()
        allowed = {"interviewer", *session.participants}
        wanted = speaker.upper() if speaker.upper() in session.participants else speaker.lower()
        if wanted not in allowed:
            raise InvalidInput(
                f"{speaker!r} is not in session {session.id}; the speaker is one of {', '.join(sorted(allowed))}."
            )
        if wanted != seg.speaker:
            seg.speaker = wanted
            changed.append("speaker")
    if not changed:
        return seg
    seg.edited = {"by": actor(), "at": now_iso()}
    with vault.db.atomic():
        vault.db.execute(
            "UPDATE transcript_segments SET sealed = ? WHERE transcript_id = ? AND idx = ?",
            (vault.seal_json(key, asdict(seg), *context), t.id, idx),
        )
        reopen_review(vault, session.id, t.version)
        ledger.update_session(vault, session.id, "transcript.edit", session.id, version=t.version, segment=idx,
                              changed=changed)
    return seg
