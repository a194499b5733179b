"""The final pass: after an interview, the study's better model transcribes it again.

Live transcription has to keep up with speech on a laptop that is also recording, so it runs a
small model. The study file may name a better one (`transcription.final_model`); once the
interview is over, the recording is transcribed again with it, in the background: pausable (a
cancel leaves a resumable run, see batch_transcription) and never while a microphone is open
(the front end pauses it when a recording starts). When it finishes it replaces the live
transcript — unless a person has begun reviewing that one (a corrected word, a redaction
decided): their work is never thrown away behind their back, and the new version waits beside
it as an alternative for them to choose (`transcript use`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from . import sessions
from .batch_transcription import Progress, transcribe_session
from .deid.review import reopen_review, review_started
from .errors import InvalidInput
from .guides import load_guide
from .transcription.models import ModelUnavailable, how_to_get, list_models
from .transcripts import ALTERNATIVE, TranscriptInfo, current_transcript, list_transcripts, make_current
from .vault import Vault

# a final pass improves a transcript nobody has passed on yet
_WAITING_STATUSES = (sessions.TRANSCRIBED,)


@dataclass(frozen=True)
class FinalPass:
    session_id: str
    model: str
    done_s: float  # of an interrupted run, 0 if none started
    total_s: float


def final_model(vault: Vault, sid: str) -> str | None:
    """The model the session's study wants for its final transcript, if any."""
    study = load_guide(vault, sessions.get_session(vault, sid).guide_sha256).study
    return study.transcription.final_model


def _wanted(vault: Vault) -> list[tuple[sessions.Session, str]]:
    """(session, final model) for each session a final pass could still improve. Each study
    version is read once, not once per session: the dashboard asks this on every refresh."""
    by_guide: dict[str, str | None] = {}
    out = []
    for s in sessions.list_sessions(vault):
        if s.status not in _WAITING_STATUSES:
            continue
        if s.guide_sha256 not in by_guide:
            by_guide[s.guide_sha256] = load_guide(vault, s.guide_sha256).study.transcription.final_model
        model = by_guide[s.guide_sha256]
        if model:
            out.append((s, model))
    return out


def _installed_names() -> set[str]:
    return {m.name for m in list_models() if m.installed}


def waiting(vault: Vault) -> list[FinalPass]:
    """Sessions whose final pass has still to run (or to finish), oldest first: transcribed,
    not passed on yet, current transcript made by another model, no finished one by the final
    model. Sessions whose final model is not installed are left out (see missing_models)."""
    out = []
    have = _installed_names()
    for s, model in _wanted(vault):
        current = current_transcript(vault, s.id)
        if current is None or current.model == model or model not in have:
            continue
        versions = list_transcripts(vault, s.id)
        if any(t.model == model and t.state in ("complete", ALTERNATIVE) for t in versions):
            continue
        running = [t for t in versions if t.model == model and t.state == "running"]
        done = running[-1].done_s if running else 0.0
        out.append(FinalPass(s.id, model, done, current.total_s))
    return out


def missing_models(vault: Vault) -> list[str]:
    """A sentence for each final model a study version asks for that this laptop lacks."""
    have = _installed_names()
    return [
        f"The study asks for the {name} model for final transcripts, but it is not on this laptop; {how_to_get(name)}."
        for name in sorted({model for _s, model in _wanted(vault)} - have)
    ]


def run(
    vault: Vault,
    sid: str,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> TranscriptInfo:
    """Run (or resume) the session's final pass. Cancelling pauses it; the next run resumes."""
    model = final_model(vault, sid)
    if not model:
        raise InvalidInput(f"The study of session {sid} names no final model (transcription: final_model:).")
    if model not in _installed_names():
        raise ModelUnavailable(f"The {model} model for final transcripts is not on this laptop; {how_to_get(model)}.")
    live = current_transcript(vault, sid)

    def replaces_current() -> bool:
        now = current_transcript(vault, sid)
        return now is None or (now.id == (live.id if live else None) and not review_started(vault, sid, now))

    return transcribe_session(
        vault, sid, model=model, on_progress=on_progress, cancel=cancel, replaces_current=replaces_current
    )


def use_version(vault: Vault, sid: str, version: int) -> TranscriptInfo:
    """Make a finished version (an alternative, or a superseded one) the current transcript;
    its review starts afresh (decisions made study-wide still apply), so a session already
    reviewed or exported goes back to waiting for review."""
    with vault.db.atomic():
        chosen = make_current(vault, sid, version)
        reopen_review(vault, chosen.session_id, chosen.version)
    return chosen
