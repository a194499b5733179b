"""After a crash, kill -9 or power cut: find interrupted recordings and make them whole.

The vault's exclusive lock means that a recording still marked 'recording' when we open
the vault belongs to a process that is gone. Recovery keeps every chunk that authenticates,
cuts off a torn final record, marks the session recorded (so it can be reviewed, or
recording can continue), notes the gap in the timeline and records it in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ledger, sessions, timeline
from .audit import now_iso
from .errors import FieldscribeError
from .recordings import audio_path
from .vault import Vault


@dataclass(frozen=True)
class Recovered:
    session_id: str
    chunks: int
    seconds: float
    dropped_bytes: int
    events: int


def interrupted_sessions(vault: Vault) -> list[str]:
    return [
        r[0]
        for r in vault.db.execute(
            "SELECT session_id FROM recordings WHERE state = 'recording' ORDER BY session_id"
        ).fetchall()
    ]


def recover_all(vault: Vault) -> list[Recovered]:
    return [recover_session(vault, sid) for sid in interrupted_sessions(vault)]


def recover_each(vault: Vault) -> tuple[list[Recovered], list[str]]:
    """Recover every interrupted recording on its own: one that cannot be recovered (its
    history was edited on disk, say) is reported in one sentence and never keeps the vault —
    and the tools to look into it — from opening."""
    done, problems = [], []
    for sid in interrupted_sessions(vault):
        try:
            done.append(recover_session(vault, sid))
        except FieldscribeError as exc:
            problems.append(f"The interrupted recording of {sid} could not be recovered: {exc}")
    return done, problems


def recover_session(vault: Vault, session_id: str) -> Recovered:
    from .audio.chunkfile import read_header, scan, truncate_torn_tail

    path = audio_path(vault, session_id)
    key = sessions.session_key(vault, session_id)
    # before anything changes: the history up to the crash must be intact. The chunks and
    # events written since the recording started were not sealed yet; they are now.
    ledger.check_session(vault, session_id)
    if path.exists():
        _sid, fmt, _ = read_header(path)
        result = scan(path, session_id, key, vault.aad)
        truncate_torn_tail(path, result)
        chunks, frames, dropped, rate = result.chunks, result.frames, result.torn_bytes, fmt.rate
    else:
        chunks = frames = dropped = 0
        rate = 16000
    n_events = len(timeline.events(vault, session_id, key))
    with vault.db.atomic():
        if sessions.get_session(vault, session_id).status == sessions.RECORDING:
            sessions.set_status(vault, session_id, sessions.RECORDED, reason="recovered after an interruption")
        vault.db.execute(
            "UPDATE recordings SET state = 'recovered', chunks = ?, frames = ?, updated_at = ?, pid = NULL "
            "WHERE session_id = ?",
            (chunks, frames, now_iso(), session_id),
        )
        timeline.insert_event(
            vault, session_id, timeline.RECOVERED, frames / rate, key, {"dropped_bytes": dropped, "chunks": chunks}
        )
        ledger.update_session(
            vault,
            session_id,
            "recording.recovered",
            session_id,
            chunks=chunks,
            seconds=round(frames / rate, 1),
            dropped_bytes=dropped,
            events=n_events,
        )
    return Recovered(session_id, chunks, frames / rate, dropped, n_events)
