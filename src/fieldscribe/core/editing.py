"""Correcting a finished transcript by hand. Above the transcript store and the identifier
review, because an edit re-opens the review: new words may name someone."""

from __future__ import annotations

from dataclasses import asdict

from . import ledger, sessions
from .audit import now_iso
from .deid.review import reopen_review
from .errors import InvalidInput
from .paths import actor
from .sanitise import one_line
from .transcripts import StoredSegment, current_transcript
from .vault import Vault


def edit_segment(
    vault: Vault, session_id: str, idx: int, *, text: str | None = None, speaker: str | None = None
) -> StoredSegment:
    """Correct a segment of the current transcript (its words or its speaker).

    The first machine text is kept sealed beside the correction, so a reviewer can see what
    Whisper heard; any edit re-opens the identifier review, because new words may name
    someone the reviewed version did not.
    """
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
        text = one_line(text)  # no control characters: the text goes into DOCX and .qdpx XML
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
    # what a person changed: a speaker set here is never overwritten by the speakers found later
    before = (seg.edited or {}).get("changed", [])
    seg.edited = {"by": actor(), "at": now_iso(), "changed": sorted({*before, *changed})}
    with vault.db.atomic():
        vault.db.execute(
            "UPDATE transcript_segments SET sealed = ? WHERE transcript_id = ? AND idx = ?",
            (vault.seal_json(key, asdict(seg), *context), t.id, idx),
        )
        reopen_review(vault, session.id, t.version)
        ledger.update_session(
            vault, session.id, "transcript.edit", session.id, version=t.version, segment=idx, changed=changed
        )
    return seg
