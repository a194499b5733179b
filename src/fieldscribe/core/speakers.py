"""Who said what in a session: its voices found once, named, and written into its transcripts.

After a recording stops (never while a microphone is open) the session's sealed audio is
decrypted in memory and diarized (`diarization`); the voices are named — the interviewer by
their voice profile (or, without one, by a guess the review screen owns up to), the participant
of a one-to-one interview by their pseudonym, focus-group voices from the interviewer's K marks,
the rest "Speaker A/B…" until a reviewer names them. With two lapel microphones the louder
channel decides per word. The result (turns, names, how the interviewer was found) is one
document sealed with the session key and covered by the session's history.

Each transcript version is then labelled from it: a Whisper segment is split where the voice
changes (by its word timestamps), so a stored segment never straddles two speakers. A version a
person has begun to review is only labelled, never split (redaction decisions point into its
segments). Names the reviewer gives a voice apply to every segment of it and are kept for the
next version (a final pass); a speaker the reviewer set on one segment is never overwritten.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import ledger, sessions, timeline
from .audit import now_iso
from .deid.review import reopen_review, review_started
from .diarization.attribution import SpokenTurn
from .diarization.pipeline import Turn
from .errors import InvalidInput, InvalidTransition, RecordTampered
from .paths import actor
from .recordings import recording_info
from .transcripts import INTERVIEWER, StoredSegment, TranscriptInfo, current_transcript, load_segments
from .vault import Vault

FOUND_BY_PROFILE = "profile"  # a voice profile matched a voice
FOUND_BY_GUESS = "guess"  # no profile matched: the voice heard just after the guide's questions
FOUND_NOT = "none"  # nobody could be taken for the interviewer (one voice, no marks)

# statuses whose transcripts are labelled by the app by itself; a reviewed or exported session
# changes only when someone asks (`fieldscribe speakers`), since that re-opens its review
WAITING_STATUSES = (sessions.RECORDED, sessions.TRANSCRIBED)


@dataclass
class SessionSpeakers:
    """A session's voices: turns on the audio clock and who each voice is."""

    turns: list[tuple[float, float, int]]  # (start, end, voice)
    names: dict[int, str]  # voice → "interviewer" or a pseudonym; missing: unnamed
    interviewer: str  # FOUND_BY_PROFILE | FOUND_BY_GUESS | FOUND_NOT
    channels: int  # 2: turns were attributed by lapel microphone first
    voices: int
    named_by_person: list[int] = field(default_factory=list)  # voices a reviewer named
    labelled: list[int] = field(default_factory=list)  # transcript versions written from it
    found_at: str = ""

    @property
    def guessed(self) -> bool:
        """The interviewer was not recognised by their profile and no reviewer has named their
        voice yet: say so in review."""
        named = any(self.names.get(v) == INTERVIEWER for v in self.named_by_person)
        return self.interviewer != FOUND_BY_PROFILE and INTERVIEWER in self.names.values() and not named


# -- the sealed document ---------------------------------------------------------------------------
def _context(sid: str) -> tuple[str, ...]:
    return ("session", sid, "speakers")


def load(vault: Vault, session_id: str) -> SessionSpeakers | None:
    """The session's voices, or None when they have not been found yet."""
    sid = sessions.get_session(vault, session_id).id
    row = vault.db.execute("SELECT speakers FROM sessions WHERE id = ?", (sid,)).fetchone()
    if row is None or row[0] is None:
        return None
    ledger.check_session(vault, sid)
    value = vault.open_json(sessions.session_key(vault, sid), row[0], *_context(sid))
    try:
        return SessionSpeakers(
            turns=[(float(s), float(e), int(v)) for s, e, v in value["turns"]],
            names={int(k): str(v) for k, v in value["names"].items()},
            interviewer=str(value["interviewer"]),
            channels=int(value["channels"]),
            voices=int(value["voices"]),
            named_by_person=[int(v) for v in value.get("named_by_person", [])],
            labelled=[int(v) for v in value.get("labelled", [])],
            found_at=str(value.get("found_at", "")),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise RecordTampered(f"speakers of {sid}") from e


def _save(vault: Vault, sid: str, found: SessionSpeakers) -> None:
    value = asdict(found)
    value["names"] = {str(k): v for k, v in found.names.items()}
    sealed = vault.seal_json(sessions.session_key(vault, sid), value, *_context(sid))
    vault.db.execute("UPDATE sessions SET speakers = ? WHERE id = ?", (sealed, sid))


# -- finding the voices ----------------------------------------------------------------------------
def _audio(vault: Vault, sid: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The session's audio as 16 kHz mono float, and the two channels when there are two."""
    from .audio.store import read_audio
    from .diarization.embedding import RATE

    rec = recording_info(vault, sid)
    if rec is None:
        raise InvalidInput(f"Session {sid} has no audio; speakers are found in its recording.")
    if rec.state == "recording":
        raise InvalidTransition(
            f"Session {sid} is being recorded (or was interrupted); speakers are found once it has stopped "
            "(run `fieldscribe recover` first if it was interrupted)."
        )
    if rec.rate != RATE:
        raise InvalidInput(f"Session {sid} was recorded at {rec.rate} Hz; finding speakers needs 16 kHz audio.")
    audio, _ = read_audio(vault, sid, as_float=True)
    stereo = audio if audio.shape[1] == 2 else None
    mono = audio.mean(axis=1).astype(np.float32)
    return mono, stereo


def _interviewer_by_profile(vault: Vault, centroids: dict[int, np.ndarray]) -> int | None:
    """The voice that best matches any interviewer's profile on this laptop, if one does."""
    from .diarization.profiles import interviewer_voice, list_profiles, load_profile

    best: tuple[float, int] | None = None
    for profile in list_profiles(vault):
        vector = load_profile(vault, profile.name)
        voice = interviewer_voice(centroids, vector)
        if voice is None:
            continue
        c = centroids[voice]
        score = float(c @ vector) / max(float(np.linalg.norm(c)), 1e-9)
        if best is None or score > best[0]:
            best = (score, voice)
    return best[1] if best else None


def _interviewer_by_questions(turns: list[Any], events: list[timeline.Event]) -> int | None:
    """Without a profile: the voice that speaks most in the seconds after each guide question
    was marked (the interviewer presses the key as they ask it); failing that, the first voice
    heard (an interviewer opens the interview)."""
    votes: dict[int, float] = {}
    for e in events:
        if e.kind not in (timeline.QUESTION, timeline.PROBE):
            continue
        for t in turns:
            shared = min(t.end, e.t + 4.0) - max(t.start, e.t - 0.5)
            if shared > 0:
                votes[t.voice] = votes.get(t.voice, 0.0) + shared
    if votes:
        return max(votes, key=lambda v: votes[v])
    return turns[0].voice if turns else None


def _by_channel(stereo: np.ndarray, diarized: Any) -> Any:
    """Renumber the diarized voices as the channels they are loudest on (voice 0 = the first
    lapel microphone), so words attributed by channel and by voice agree."""
    from .diarization.attribution import Word, channel_voices
    from .diarization.pipeline import Diarization

    votes: dict[tuple[int, int], float] = {}
    words = [Word(t.start, t.end, "") for t in diarized.turns]
    for t, channel in zip(diarized.turns, channel_voices(stereo, words), strict=True):
        if channel is not None:
            votes[(t.voice, channel)] = votes.get((t.voice, channel), 0.0) + t.duration
    mapping: dict[int, int] = {}
    for (voice, channel), _ in sorted(votes.items(), key=lambda kv: -kv[1]):
        if voice not in mapping and channel not in mapping.values():
            mapping[voice] = channel
    spare = iter(c for c in range(2, 2 + len(diarized.centroids)) if c not in mapping.values())
    for voice in sorted(diarized.centroids):
        if voice not in mapping:
            mapping[voice] = next(spare)
    turns = [Turn(t.start, t.end, mapping[t.voice]) for t in diarized.turns]
    return Diarization(turns, {mapping[v]: c for v, c in diarized.centroids.items()})


def find(vault: Vault, session_id: str, *, cancel: threading.Event | None = None) -> SessionSpeakers | None:
    """Find and name the session's voices (replacing what was found before, but keeping the
    names a reviewer gave). Call from a worker: about 1.5 s per minute of audio on two cores.
    Returns None if CANCEL was set before the result was stored."""
    from .diarization.pipeline import diarize_voices

    session = sessions.get_session(vault, session_id)
    sid = session.id
    ledger.check_session(vault, sid)
    mono, stereo = _audio(vault, sid)
    one_to_one = len(session.participants) == 1
    # a one-to-one interview has two voices: telling one voice from two is the estimate most
    # often wrong on short recordings, so it is not asked here (a reviewer names both voices)
    if one_to_one:
        diarized = diarize_voices(mono, voices=2, cancel=cancel)
    else:
        diarized = diarize_voices(mono, max_voices=len(session.participants) + 1, cancel=cancel)
    if cancel is not None and cancel.is_set():
        return None  # a recording is starting: nothing is kept, the next look starts afresh
    if stereo is not None:
        diarized = _by_channel(stereo, diarized)
    events = timeline.events(vault, sid)
    names: dict[int, str] = {}
    how = FOUND_NOT
    interviewer = _interviewer_by_profile(vault, diarized.centroids)
    if interviewer is not None:
        how = FOUND_BY_PROFILE
    voices = sorted(diarized.centroids)
    if one_to_one:
        if interviewer is None and len(voices) == 2:
            interviewer, how = _interviewer_by_questions(diarized.turns, events), FOUND_BY_GUESS
        if interviewer is not None:
            names[interviewer] = INTERVIEWER
        others = [v for v in voices if v != interviewer]
        if (interviewer is not None and len(others) == 1) or (interviewer is None and len(voices) == 1):
            names[others[0]] = session.participants[0]
    else:
        names.update(_names_from_marks(diarized.turns, interviewer, events, session.participants))
        if interviewer is not None:
            names[interviewer] = INTERVIEWER
    previous = load(vault, sid)
    found = SessionSpeakers(
        turns=[(t.start, t.end, t.voice) for t in diarized.turns],
        names=names,
        interviewer=how,
        channels=2 if stereo is not None else 1,
        voices=len(voices),
        found_at=now_iso(),
    )
    if previous is not None:  # a reviewer's names outlive a second look at the audio
        for voice in previous.named_by_person:
            if voice in previous.names and voice in voices:
                found.names = {v: n for v, n in found.names.items() if n != previous.names[voice]}
                found.names[voice] = previous.names[voice]
                found.named_by_person.append(voice)
    with vault.db.atomic():
        _save(vault, sid, found)
        # the audit log is not encrypted: counts and how, never who
        ledger.update_session(
            vault, sid, "speakers.found", sid, voices=found.voices, found_by=how, channels=found.channels
        )
    return found


def _names_from_marks(
    turns: list[Turn], interviewer: int | None, events: list[timeline.Event], participants: tuple[str, ...]
) -> dict[int, str]:
    """A group's voices named from the interviewer's K marks (who speaks from when)."""
    from .diarization.attribution import names_from_marks

    marks = [
        (e.t, str(e.data.get("participant")))
        for e in events
        if e.kind == timeline.SPEAKER and e.data.get("participant") in participants
    ]
    return names_from_marks([t for t in turns if t.voice != interviewer], marks)


def rename_from_marks(vault: Vault, session_id: str, events: list[timeline.Event]) -> SessionSpeakers | None:
    """After a K mark was placed or taken back later: name a group's voices from the marks
    again (inside the caller's transaction). The interviewer's voice and voices a reviewer named
    keep their names. Returns the session's speakers (None if not found yet)."""
    session = sessions.get_session(vault, session_id)
    found = load(vault, session.id)
    if found is None or len(session.participants) < 2:
        return found
    interviewer = next((v for v, n in found.names.items() if n == INTERVIEWER), None)
    kept = {v: n for v, n in found.names.items() if v == interviewer or v in found.named_by_person}
    marked = _names_from_marks([Turn(s, e, v) for s, e, v in found.turns], interviewer, events, session.participants)
    names = {**{v: n for v, n in marked.items() if v not in kept and n not in kept.values()}, **kept}
    if names != found.names:
        found.names = names
        _save(vault, session.id, found)
    return found


# -- writing them into a transcript ------------------------------------------------------------------
def speaker_set_by_person(seg: StoredSegment) -> bool:
    """A reviewer chose this segment's speaker by hand: nothing found later overwrites it."""
    return bool(seg.edited and "speaker" in seg.edited.get("changed", ()))


def _pieces(
    seg: StoredSegment, found: SessionSpeakers, stereo: np.ndarray | None, *, split: bool = True
) -> list[StoredSegment]:
    """SEG split where the voice changes (by its words), each piece with its voice; a segment
    without word timings (corrected by hand, or dropped), or one not to be SPLIT, takes the
    voice heard most in it."""
    from .diarization.attribution import Word, attribute, attribute_two_channels

    turns = [Turn(s, e, v) for s, e, v in found.turns]
    words = [Word(float(w[1]), float(w[2]), str(w[0])) for w in seg.words]
    if not split or not words or seg.dropped or speaker_set_by_person(seg):
        heard: dict[int, float] = {}
        for t in turns:
            shared = min(seg.end, t.end) - max(seg.start, t.start)
            if shared > 0:
                heard[t.voice] = heard.get(t.voice, 0.0) + shared
        seg.voice = max(heard, key=lambda v: heard[v]) if heard else _nearest(turns, seg.start, seg.end, seg.voice)
        seg.overlap = sum(1 for s in heard.values() if s > 0.3) > 1
        return [seg]
    spoken = _voiced(attribute_two_channels(stereo, words, turns) if stereo is not None else attribute(words, turns))
    if all(part.voice is None for part in spoken):
        voice = _nearest(turns, seg.start, seg.end, None)
        spoken = [SpokenTurn(p.start, p.end, voice, p.text, p.overlap) for p in spoken]
    out: list[StoredSegment] = []
    rest = list(zip(words, seg.words, strict=True))
    for i, part in enumerate(spoken):
        mine = [raw for w, raw in rest if w.end <= part.end + 1e-6]
        rest = rest[len(mine) :]
        if i == len(spoken) - 1:
            mine += [raw for _, raw in rest]
        piece = StoredSegment(**{**asdict(seg), "words": mine})
        piece.start = seg.start if i == 0 else part.start
        piece.end = seg.end if i == len(spoken) - 1 else part.end
        piece.text = part.text.strip()
        piece.voice = part.voice
        piece.overlap = part.overlap
        # a note belongs to the piece spoken when it was typed (the first, if before all)
        piece.notes = [n for n in seg.notes if _note_in(n, piece, i == 0, i == len(spoken) - 1)]
        if piece.text:
            out.append(piece)
    return out or [seg]


def _voiced(spoken: list[SpokenTurn]) -> list[SpokenTurn]:
    """Words no voice's turn covers (a breath's distance from speech, as Whisper times them)
    join the turn before them, or the one after at the start."""
    out: list[SpokenTurn] = []
    for part in spoken:
        if out and (part.voice is None or out[-1].voice is None or part.voice == out[-1].voice):
            last = out[-1]
            voice = last.voice if last.voice is not None else part.voice
            out[-1] = SpokenTurn(last.start, part.end, voice, last.text + part.text, last.overlap or part.overlap)
        else:
            out.append(part)
    return out


def _nearest(turns: list[Turn], start: float, end: float, default: int | None) -> int | None:
    """The voice of the turn nearest to [START, END], for words no turn covers."""
    if not turns:
        return default
    return min(turns, key=lambda t: max(t.start - end, start - t.end, 0.0)).voice


def _note_in(note: dict[str, Any], piece: StoredSegment, first: bool, last: bool) -> bool:
    t = float(note.get("t", piece.start))
    return (first or t >= piece.start) and (last or t < piece.end)


def _name(seg: StoredSegment, found: SessionSpeakers) -> None:
    if speaker_set_by_person(seg) or seg.voice is None:
        return
    seg.speaker = found.names.get(seg.voice)


def label(vault: Vault, session_id: str, *, version: int | None = None) -> int:
    """Write the session's voices into transcript VERSION (the current one by default): split
    segments at speaker changes unless its review has begun, and name each piece. Returns the
    number of segments the transcript has afterwards."""
    sid = sessions.get_session(vault, session_id).id
    found = load(vault, sid)
    if found is None:
        raise InvalidInput(f"The speakers of session {sid} have not been found yet; run `fieldscribe speakers {sid}`.")
    t = _version(vault, sid, version)
    key = sessions.session_key(vault, sid)
    segments = load_segments(vault, t, key)
    split = not review_started(vault, sid, t)
    stereo = _audio(vault, sid)[1] if found.channels == 2 and split else None
    out: list[StoredSegment] = []
    for seg in segments:
        for piece in _pieces(seg, found, stereo, split=split):
            _name(piece, found)
            out.append(piece)
    with vault.db.atomic():
        _rewrite(vault, t, key, out)
        if t.version not in found.labelled:
            found.labelled.append(t.version)
        _save(vault, sid, found)
        ledger.update_session(vault, sid, "transcript.speakers", sid, version=t.version, segments=len(out), split=split)
    return len(out)


def _version(vault: Vault, sid: str, version: int | None) -> TranscriptInfo:
    from .transcripts import list_transcripts

    if version is None:
        t = current_transcript(vault, sid)
        if t is None:
            raise InvalidInput(f"Session {sid} has no finished transcript yet; transcribe it first.")
        return t
    for t in list_transcripts(vault, sid):
        if t.version == version and t.state != "running":
            return t
    raise InvalidInput(f"Session {sid} has no finished transcript version {version}.")


def _rewrite(vault: Vault, t: TranscriptInfo, key: bytes, segments: list[StoredSegment]) -> None:
    """Replace the version's segments with SEGMENTS, renumbered in order (inside a transaction)."""
    vault.db.execute("DELETE FROM transcript_segments WHERE transcript_id = ?", (t.id,))
    for idx, seg in enumerate(segments):
        seg.idx = idx
        vault.db.table("transcript_segments").insert(
            {
                "transcript_id": t.id,
                "idx": idx,
                "start": seg.start,
                "end": seg.end,
                "sealed": vault.seal_json(key, asdict(seg), "segment", t.session_id, str(t.version), str(idx)),
            }
        )


# -- the reviewer's names ------------------------------------------------------------------------------
def name_voice(vault: Vault, session_id: str, voice: int, speaker: str) -> int:
    """Name VOICE (the interviewer or one of the session's participants) in every segment of
    the current transcript it speaks, and in later versions. Segments a reviewer labelled one by one keep their label. Re-opens the review
    like any edit. Returns how many segments changed."""
    session = sessions.get_session(vault, session_id)
    sid = session.id
    found = load(vault, sid)
    if found is None:
        raise InvalidInput(f"The speakers of session {sid} have not been found yet; run `fieldscribe speakers {sid}`.")
    wanted = _speaker_id(session, speaker)
    if not any(v == voice for _s, _e, v in found.turns):
        raise InvalidInput(f"Session {sid} has no voice {voice}; its voices are 0 to {found.voices - 1}.")
    # two voices may be one person (a voice that changed as they grew upset, a monologue
    # heard as two): a name given here stays wherever else it was given
    found.names[voice] = wanted
    found.named_by_person = [v for v in found.named_by_person if found.names.get(v)] + [voice]
    found.named_by_person = sorted(set(found.named_by_person))
    t = _version(vault, sid, None)
    key = sessions.session_key(vault, sid)
    segments = load_segments(vault, t, key)
    changed = 0
    who, when = actor(), now_iso()
    for seg in segments:
        before = seg.speaker
        _name(seg, found)
        if seg.speaker != before:
            changed += 1
            seg.edited = {**(seg.edited or {}), "by": who, "at": when}
    with vault.db.atomic():
        _rewrite(vault, t, key, segments)
        _save(vault, sid, found)
        if changed:
            reopen_review(vault, sid, t.version)
        ledger.update_session(vault, sid, "speakers.named", sid, version=t.version, voice=voice, segments=changed)
    return changed


def _speaker_id(session: sessions.Session, speaker: str) -> str:
    text = speaker.strip()
    if text.upper() in session.participants:
        return text.upper()
    if text.lower() == INTERVIEWER:
        return INTERVIEWER
    allowed = ", ".join([INTERVIEWER, *session.participants])
    raise InvalidInput(f"{speaker!r} is not in session {session.id}; name the voice as one of {allowed}.")


# -- what the app does by itself -------------------------------------------------------------------------
def waiting(vault: Vault) -> list[str]:
    """Sessions whose speakers are still to be found or written into their current transcript,
    oldest first: stopped recordings not yet reviewed."""
    out = []
    for s in sessions.list_sessions(vault):
        if s.status not in WAITING_STATUSES:
            continue
        rec = recording_info(vault, s.id)
        if rec is None or rec.state == "recording":
            continue
        row = vault.db.execute("SELECT speakers FROM sessions WHERE id = ?", (s.id,)).fetchone()
        if row[0] is None:
            out.append(s.id)
            continue
        t = current_transcript(vault, s.id)
        if t is not None:
            found = load(vault, s.id)
            if found is not None and t.version not in found.labelled:
                out.append(s.id)
    return out


def run(vault: Vault, session_id: str, *, cancel: threading.Event | None = None) -> SessionSpeakers | None:
    """Find the session's voices if not yet found, and write them into its current transcript
    if it has one and it is not labelled yet. None if cancelled."""
    sid = sessions.get_session(vault, session_id).id
    found = load(vault, sid)
    if found is None:
        found = find(vault, sid, cancel=cancel)
        if found is None:
            return None
    t = current_transcript(vault, sid)
    if t is not None and t.version not in found.labelled:
        label(vault, sid, version=t.version)
        found = load(vault, sid)
    return found
