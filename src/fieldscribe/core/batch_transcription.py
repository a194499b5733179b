"""Transcribing a finished recording: the session's sealed audio is decrypted in memory and
run through Whisper, and each segment is committed to the transcript store as it comes, so
the run resumes after a crash or Ctrl-C and can be cancelled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import ledger, sessions, timeline
from .audio.store import read_audio
from .errors import InvalidInput, InvalidTransition
from .recordings import recording_info
from .transcription.engine import SAMPLE_RATE, transcribe_array
from .transcripts import (
    Committed,
    TranscriptInfo,
    begin_transcript,
    commit_segment,
    complete_transcript,
    list_transcripts,
    load_segments,
    settings_for,
)
from .vault import Vault


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


def transcribe_session(
    vault: Vault,
    session_id: str,
    *,
    model: str | None = None,
    language: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    replaces_current: Callable[[], bool] | None = None,
) -> TranscriptInfo:
    """Transcribe a session's sealed audio; resumable, cancellable, and nothing touches disk
    but sealed segments. When it finishes, the new version becomes the current one unless
    `replaces_current` (asked then) says no: it is kept as an alternative beside it."""
    sid = sessions.get_session(vault, session_id).id
    rec = recording_info(vault, sid)
    if rec is None:
        raise InvalidInput(f"Session {sid} has no audio to transcribe yet.")
    if rec.state == "recording":
        raise InvalidTransition(
            f"Session {sid} is being recorded (or was interrupted); run `fieldscribe recover` first."
        )
    if rec.rate != SAMPLE_RATE:
        raise InvalidInput(f"Session {sid} was recorded at {rec.rate} Hz; transcription needs 16 kHz audio.")
    settings, info = settings_for(vault, sid, model, language)
    assert info.path is not None  # resolve_model returns installed models only
    key = sessions.session_key(vault, sid)
    total = rec.frames / rec.rate
    t = begin_transcript(vault, sid, settings, total)
    previous: list[Committed] = list(load_segments(vault, t, key))
    started = time.monotonic()
    done = t.done_s
    audio, _ = read_audio(vault, sid, start=done, as_float=True, mono=True)
    audio = audio[:, 0].copy()
    if on_progress:
        on_progress(Progress(done, total, 0.0))
    for seg in transcribe_array(audio, info.path, settings, offset=done, cancel=cancel):
        # commit every segment: a crash or Ctrl-C resumes after the last one. The timeline is
        # read again for each (a few small records): a mark placed after the fact while this
        # runs (`fieldscribe mark`, the review's Q) codes the segments still to come as well
        events = timeline.events(vault, sid, key)
        checked = commit_segment(vault, t, key, seg, previous, events, settings.prompt())
        done = checked.end
        if on_progress:
            on_progress(Progress(done, total, time.monotonic() - started))
    if cancel is not None and cancel.is_set():
        ledger.update_session(vault, sid, "transcript.paused", sid, version=t.version, done_s=round(done, 1))
        return next(x for x in list_transcripts(vault, sid) if x.id == t.id)
    complete_transcript(vault, t, make_current=replaces_current() if replaces_current else True)
    if on_progress:
        on_progress(Progress(total, total, time.monotonic() - started))
    return next(x for x in list_transcripts(vault, sid) if x.id == t.id)
