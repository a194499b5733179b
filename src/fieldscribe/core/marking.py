"""Marks placed after the fact: where each guide question began, probes, field notes,
sensitive moments and focus-group speakers, stamped on a recording that was not made with the
guide open — a handheld recorder's file brought in with `audio import` — or corrected after a
live interview (a question key pressed late, a note forgotten).

A mark is an ordinary timeline event, stamped at a position on the recording. Adding or
removing one re-attributes every transcript version of the session from the whole timeline
with the same rule the transcription used (`transcripts.attribute`), and re-names focus-group
voices from the K marks (`speakers.rename_from_marks`), in the same transaction as the event —
so codes, documents and the review read the same as if the mark had been placed live. Text a
person typed is never touched, and a speaker a reviewer set on a segment stays.

Marks do not re-open the identifier review: they change no transcript words, and note texts
are scrubbed of every known identifier when they are exported, as live notes are.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict
from typing import Any

from . import ledger, sessions, timeline
from .errors import InvalidInput
from .guides import load_guide
from .recordings import recording_info
from .sanitise import one_line
from .transcripts import attribute, list_transcripts, load_segments
from .vault import Vault

MARKABLE = (timeline.QUESTION, timeline.PROBE, timeline.NOTE, timeline.FLAG, timeline.SPEAKER)
NOTE_MAX = 1000  # characters of a typed note: a sentence or two, not a memo
END_SLACK_S = 0.5
_NUMBER = re.compile(
    r"[0-9]+(\.[0-9]*)?"
)  # a mark placed at "the end" as a clock shows it may round past the last sample


def parse_time(text: str) -> float:
    """Seconds ("750", "12.5"), mm:ss ("12:30") or hh:mm:ss ("1:02:03"); nan, inf and negative
    parts are not times (float() takes them, and nan would slip past every comparison with the
    recording's length)."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    pieces = text.strip().split(":") if len(text) <= 40 else []
    # digits with an optional fraction only (float() also takes "1_0", "1e3", "nan", "inf");
    # after the first part, minutes and seconds stay under 60 ("1:75" is no time)
    if not pieces or len(pieces) > 3 or not all(_NUMBER.fullmatch(p) for p in pieces):
        raise InvalidInput(f"{shown!r} is not a time; use seconds, mm:ss or hh:mm:ss.")
    parts = [float(p) for p in pieces]
    if any(p >= 60 for p in parts[1:]):
        raise InvalidInput(f"{shown!r} is not a time: minutes and seconds go up to 59; use mm:ss or hh:mm:ss.")
    value = 0.0
    for p in parts:
        value = value * 60 + p
    return value


def clock(seconds: float) -> str:
    """ "0:12:30": how a position on the recording is shown in messages."""
    h, rest = divmod(int(max(0.0, seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{h:d}:{m:02d}:{s:02d}"


def _recording_length(vault: Vault, sid: str) -> float:
    rec = recording_info(vault, sid)
    if rec is None:
        raise InvalidInput(
            f"Session {sid} has no recording yet; import it with `fieldscribe audio import {sid} FILE` first."
        )
    if rec.state == "recording":
        raise InvalidInput(f"Session {sid} is being recorded now; place marks with the interview keys until it stops.")
    return rec.seconds


def _question(vault: Vault, session: sessions.Session, ref: str) -> tuple[str, str, list[str]]:
    """(question id, domain id, probes) of REF in the session's guide version."""
    study = load_guide(vault, session.guide_sha256).study
    found = {q.id.casefold(): (q.id, d.id, list(q.probes)) for d, q in study.questions()}
    hit = found.get(ref.strip().casefold())
    if hit is None:
        ids = ", ".join(q.id for _d, q in study.questions())
        raise InvalidInput(f"{ref!r} is not a question of this session's guide; its questions are {ids}.")
    return hit


def _current_question(events: list[timeline.Event], t: float) -> str | None:
    asked = [e for e in events if e.kind == timeline.QUESTION and e.t <= t]
    latest = max(asked, key=lambda e: (e.t, e.seq), default=None)  # marks come in any order
    return str(latest.data.get("question")) if latest else None


def _note_text(text: str | None) -> str:
    cleaned = one_line(text or "")
    if len(cleaned) > NOTE_MAX:
        raise InvalidInput(f"The note is {len(cleaned)} characters long; keep it under {NOTE_MAX}.")
    return cleaned


def mark_data(
    vault: Vault,
    session: sessions.Session,
    kind: str,
    at: float,
    *,
    question: str | None = None,
    probe: int | None = None,
    text: str | None = None,
    preset: str | None = None,
    participant: str | None = None,
) -> dict[str, Any]:
    """What the event of a mark of KIND holds, checked against the session and its guide."""
    if kind not in MARKABLE:
        raise InvalidInput(f"{kind!r} is not a mark; marks are {', '.join(MARKABLE)}.")
    if kind == timeline.QUESTION:
        if not question:
            raise InvalidInput("Say which question starts here, e.g. --question q3.")
        qid, domain, _probes = _question(vault, session, question)
        return {"question": qid, "domain": domain}
    if kind == timeline.PROBE:
        ref = question or _current_question(timeline.events(vault, session.id), at)
        if not ref:
            raise InvalidInput(f"No question has begun by {clock(at)}; say which with --question.")
        qid, _domain, probes = _question(vault, session, ref)
        if not probes:
            raise InvalidInput(f"Question {qid} has no probes in this guide.")
        if probe is None or not 1 <= probe <= len(probes):
            raise InvalidInput(f"Question {qid} has probes 1 to {len(probes)}; say which with --probe.")
        return {"question": qid, "probe": probe}
    if kind == timeline.NOTE:
        if preset is not None and preset not in timeline.NOTE_PRESETS:
            raise InvalidInput(f"{preset!r} is not a quick note; use one of {', '.join(timeline.NOTE_PRESETS)}.")
        note = _note_text(text)
        if not note and preset is None:
            raise InvalidInput("The note is empty; type what you noticed, e.g. --note 'long silence'.")
        return {"text": note or preset, "preset": preset}
    if kind == timeline.FLAG:
        return {"text": _note_text(text)}
    # a speaker: who speaks from here on, in a group
    who = (participant or "").strip()
    allowed = {p.casefold(): p for p in session.participants} | {"interviewer": "interviewer"}
    if len(session.participants) < 2:
        raise InvalidInput(
            f"Speaker marks name the voices of a group; in the one-to-one session {session.id} name a voice with "
            f"`fieldscribe speakers {session.id} --name 1=P4` instead."
        )
    if who.casefold() not in allowed:
        raise InvalidInput(
            f"{who!r} is not in session {session.id}; the speaker is one of {', '.join(allowed.values())}."
        )
    return {"participant": allowed[who.casefold()]}


def add_mark(vault: Vault, session_ref: str, kind: str, at: float, **given: Any) -> timeline.Event:
    """Stamp a mark of KIND at AT seconds into the session's recording and re-attribute its
    transcripts. GIVEN: question, probe, text, preset, participant (as `mark_data` takes them)."""
    return add_marks(vault, session_ref, at, [(kind, given)])[0]


def add_marks(
    vault: Vault, session_ref: str, at: float, wanted: list[tuple[str, dict[str, Any]]]
) -> list[timeline.Event]:
    """Stamp several marks at AT at once (a question that begins with a note): every one is
    checked before any is stored, and all are stored in one transaction, so a mistake in one
    leaves none behind (and a retry makes no duplicates)."""
    session = sessions.get_session(vault, session_ref)
    sid = session.id
    length = _recording_length(vault, sid)
    if not math.isfinite(at) or at < 0:
        raise InvalidInput("A mark's time is a position on the recording, from 0:00:00.")
    if at > length + END_SLACK_S:
        raise InvalidInput(
            f"{clock(at)} is past the end of the recording of {sid} ({clock(length)}); choose a time within it."
        )
    at = min(at, length)
    checked = [(kind, mark_data(vault, session, kind, at, **given)) for kind, given in wanted]
    ledger.check_session(vault, sid)
    key = sessions.session_key(vault, sid)
    with vault.db.atomic():
        placed = [timeline.insert_event(vault, sid, kind, at, key, data) for kind, data in checked]
        changed = reattribute(vault, sid, key)
        _not_yet_with_the_team(vault, sid)
        for event in placed:  # the audit log is not encrypted: what kind of mark and where, never its words
            ledger.update_session(vault, sid, "timeline.mark", sid, kind=event.kind, t=event.t, segments=changed)
    return placed


def _not_yet_with_the_team(vault: Vault, sid: str) -> None:
    """A mark placed after the session was exported changes what the team should have (a
    question's codes, a note): the session goes back to reviewed, so it is exported again and
    can be neither reported as received nor purged before then. Its words did not change, so
    the identifier review stays done."""
    if sessions.get_session(vault, sid).status in (sessions.EXPORTED, sessions.SYNCED, sessions.RECEIVED):
        sessions.set_status(vault, sid, sessions.REVIEWED)


def remove_mark(vault: Vault, session_ref: str, seq: int) -> timeline.Event:
    """Take back mark number SEQ (as `marks` lists them) and re-attribute the transcripts. The
    row stays, emptied, so the number is never given to another mark: a second `--remove N`
    typed from an old list cannot take back the wrong one."""
    session = sessions.get_session(vault, session_ref)
    sid = session.id
    _recording_length(vault, sid)  # not while it is being recorded: the timeline is still growing
    ledger.check_session(vault, sid)
    key = sessions.session_key(vault, sid)
    event = next((e for e in timeline.events(vault, sid, key) if e.seq == seq), None)
    if event is None or event.kind not in MARKABLE:
        raise InvalidInput(f"Session {sid} has no mark {seq}; `fieldscribe marks {sid}` lists them.")
    with vault.db.atomic():
        vault.db.execute(
            "UPDATE session_events SET kind = ?, sealed = ? WHERE session_id = ? AND seq = ?",
            (timeline.REMOVED, vault.seal_json(key, {}, "event", sid, str(seq), timeline.REMOVED), sid, seq),
        )
        changed = reattribute(vault, sid, key)
        _not_yet_with_the_team(vault, sid)
        ledger.update_session(vault, sid, "timeline.unmark", sid, kind=event.kind, t=event.t, segments=changed)
    return event


def marks(vault: Vault, session_ref: str) -> list[timeline.Event]:
    """The session's marks in time order (pauses, warnings and recoveries are not marks)."""
    sid = sessions.get_session(vault, session_ref).id
    return sorted((e for e in timeline.events(vault, sid) if e.kind in MARKABLE), key=lambda e: (e.t, e.seq))


def reattribute(vault: Vault, sid: str, key: bytes) -> int:
    """Re-attribute every transcript version of SID from its timeline (inside the caller's
    transaction): each segment's question, domain and notes, and — where no voices were found
    and no person set it — its focus-group speaker; voices found by diarization are re-named
    from the K marks. Returns how many segments changed."""
    from . import speakers

    events = timeline.events(vault, sid, key)
    found = speakers.rename_from_marks(vault, sid, events)
    changed = 0
    for t in list_transcripts(vault, sid):
        segments = load_segments(vault, t, key)
        for seg, extra in zip(segments, attribute(segments, events, complete=t.state != "running"), strict=True):
            # only these change (asdict of every segment would copy all its word timings)
            before = (seg.question, seg.domain, seg.notes, seg.speaker)
            seg.question, seg.domain, seg.notes = extra["question"], extra["domain"], extra["notes"]
            if not speakers.speaker_set_by_person(seg):
                if found is not None and seg.voice is not None:
                    seg.speaker = found.names.get(seg.voice)
                elif found is None:
                    seg.speaker = extra["speaker"]
            if (seg.question, seg.domain, seg.notes, seg.speaker) != before:
                changed += 1
                vault.db.execute(
                    "UPDATE transcript_segments SET sealed = ? WHERE transcript_id = ? AND idx = ?",
                    (
                        vault.seal_json(key, asdict(seg), "segment", sid, str(t.version), str(seg.idx)),
                        t.id,
                        seg.idx,
                    ),
                )
    return changed
