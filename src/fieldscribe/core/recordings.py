"""The recordings table: where a session's sealed audio file lives and what is known about
it (codec, rate, chunks, frames, state). The store below the audio reader, the transcripts
and the recording run; it imports none of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .vault import Vault


def audio_path(vault: Vault, session_id: str) -> Path:
    return vault.blob_dir / f"{session_id}.audio"


@dataclass(frozen=True)
class RecordingInfo:
    session_id: str
    codec: str
    rate: int
    channels: int
    state: str  # recording | complete | recovered
    chunks: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def recording_info(vault: Vault, session_id: str) -> RecordingInfo | None:
    row = vault.db.execute(
        "SELECT session_id, codec, rate, channels, state, chunks, frames FROM recordings WHERE session_id = ?",
        (session_id,),
    ).fetchone()
    return RecordingInfo(*row) if row else None
