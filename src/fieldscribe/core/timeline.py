"""The interview timeline: what happened when, on the audio clock.

Events are stamped with their position in the recorded audio (pauses excluded), so a
question change at 12:03 points at 12:03 of the recording whatever the wall clock did.
The kind of event is stored in the clear (so a reviewer's list can be built without
decrypting); everything said about it — question ids, note text, speakers — is sealed
with the session key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ledger
from .audit import now_iso
from .errors import InvalidInput
from .sanitise import one_line
from .sessions import session_key
from .vault import Vault

QUESTION = "question"  # data: question (id), domain (id)
PROBE = "probe"  # data: question, probe (index)
NOTE = "note"  # data: text, preset (laughs, tearful, …) or None
FLAG = "flag"  # sensitive moment; data: text (optional)
PAUSE = "pause"
RESUME = "resume"
SPEAKER = "speaker"  # focus groups; data: participant
WARNING = "warning"  # recorder health: data: kind (silence, clipping, lost_audio, disk), message, seconds
RECOVERED = "recovered"  # a crash was recovered here; data: dropped_bytes
KINDS = (QUESTION, PROBE, NOTE, FLAG, PAUSE, RESUME, SPEAKER, WARNING, RECOVERED)
# a mark taken back: its row stays (empty) so that its number is never given to another mark
REMOVED = "removed"

NOTE_PRESETS = ("laughs", "tearful", "long pause", "interruption", "non-verbal")


@dataclass(frozen=True)
class Event:
    seq: int
    t: float
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""


def add_event(vault: Vault, session_id: str, kind: str, t: float, key: bytes | None = None, **data: Any) -> Event:
    """Stamp an event. While the session is being recorded the timeline grows with the audio
    and is sealed into the session's history when the recording stops (one ledger per
    event would be one audit entry per note); otherwise it is sealed now."""
    if _recording_now(vault, session_id):
        return insert_event(vault, session_id, kind, t, key, data)
    ledger.check_session(vault, session_id)
    with vault.db.atomic():
        event = insert_event(vault, session_id, kind, t, key, data)
        ledger.update_session(vault, session_id)
    return event


def _recording_now(vault: Vault, session_id: str) -> bool:
    row = vault.db.execute("SELECT state FROM recordings WHERE session_id = ?", (session_id,)).fetchone()
    return row is not None and row[0] == "recording"


def insert_event(vault: Vault, session_id: str, kind: str, t: float, key: bytes | None, data: dict[str, Any]) -> Event:
    """Store an event without sealing the session's history: for callers that seal it
    themselves in the same transaction (recovery), and for running recordings."""
    if kind not in KINDS:
        raise InvalidInput(f"Unknown timeline event {kind!r}; use one of {', '.join(KINDS)}.")
    if t < 0:
        raise InvalidInput("A timeline position cannot be negative.")
    if kind in (NOTE, FLAG) and isinstance(data.get("text"), str):
        # typed words are one line of text: a control character would make every document
        # the note is exported into unreadable (XML forbids them)
        data = {**data, "text": one_line(data["text"])}
    key = key or session_key(vault, session_id)
    with vault.db.atomic():
        seq = (
            vault.db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM session_events WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            + 1
        )
        created = now_iso()
        vault.db.table("session_events").insert(
            {
                "session_id": session_id,
                "seq": seq,
                "t": round(t, 3),
                "kind": kind,
                "sealed": vault.seal_json(key, data, "event", session_id, str(seq), kind),
                "created_at": created,
            }
        )
    return Event(seq, round(t, 3), kind, data, created)


def events(vault: Vault, session_id: str, key: bytes | None = None) -> list[Event]:
    key = key or session_key(vault, session_id)
    rows = vault.db.execute(
        "SELECT seq, t, kind, sealed, created_at FROM session_events WHERE session_id = ? ORDER BY seq",
        (session_id,),
    ).fetchall()
    return [
        Event(seq, t, kind, vault.open_json(key, sealed, "event", session_id, str(seq), kind), created)
        for seq, t, kind, sealed, created in rows
    ]
