"""Interviews captured on a separate handheld recorder, brought into the vault.

PyAV (FFmpeg) decodes WAV, FLAC, MP3, M4A/AAC, Ogg and the rest, and resamples to the
session format in memory; the audio is then cut into the same sealed chunks as a live
recording. The original file is only read, never changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .. import ledger, sessions
from ..audit import now_iso
from ..errors import InvalidInput
from ..recordings import audio_path, recording_info
from ..vault import Vault
from . import codec as codec_mod
from .chunkfile import AudioFormat, ChunkWriter


def decode_file(path: Path, rate: int, channels: int) -> Iterator[np.ndarray]:
    """Yield int16 blocks (n, channels) at `rate`, decoded and resampled from any audio file."""
    import av

    layout = "mono" if channels == 1 else "stereo"
    if channels not in (1, 2):
        raise InvalidInput("Imported audio can be stored with 1 or 2 channels.")
    try:
        container = av.open(str(path))
    except (av.error.InvalidDataError, av.error.FileNotFoundError, av.error.PermissionError) as exc:
        raise InvalidInput(f"{path.name} could not be read as audio ({exc}); check the file.") from None
    with container:
        if not container.streams.audio:
            raise InvalidInput(f"{path.name} contains no audio track.")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1, channels)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1, channels)
        except av.error.InvalidDataError as exc:
            raise InvalidInput(f"{path.name} is damaged after some audio ({exc}); nothing was imported.") from None


def import_file(
    vault: Vault,
    session_id: str,
    path: Path,
    *,
    codec: str = "flac",
    rate: int = 16000,
    channels: int = 1,
    on_progress: Callable[[float], None] | None = None,
) -> float:
    """Seal an audio file into a session; returns seconds imported. All-or-nothing: the
    sealed file is written next to the session's and moved into place only when complete."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist or is not a file.")
    session = sessions.get_session(vault, session_id)
    sid = session.id
    if recording_info(vault, sid) is not None:
        raise InvalidInput(f"Session {sid} already has audio; create a new session for another recording.")
    codec_mod.check_codec(codec, rate)
    sessions.start_recording(vault, sid)  # the same consent gate as a live recording
    key = sessions.session_key(vault, sid)
    final = audio_path(vault, sid)
    partial = final.with_suffix(".audio.partial")
    partial.unlink(missing_ok=True)
    fmt = AudioFormat(codec, rate, channels)
    writer = ChunkWriter(partial, sid, fmt, key, vault.aad)
    try:
        pending: list[np.ndarray] = []
        n = 0
        for block in decode_file(path, rate, channels):
            pending.append(block)
            n += len(block)
            while n >= rate:
                data = np.concatenate(pending)
                writer.append(rate, codec_mod.encode(data[:rate], rate, codec))
                pending, n = [data[rate:]], len(data) - rate
                if on_progress:
                    on_progress(writer.next_frame / rate)
        if n:
            data = np.concatenate(pending)
            writer.append(len(data), codec_mod.encode(data, rate, codec))
        writer.close()
        if writer.next_frame == 0:
            raise InvalidInput(f"{path.name} contains no audio samples.")
        os.replace(partial, final)
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        with vault.db.atomic():
            sessions.set_status(vault, sid, sessions.PLANNED, reason="the import failed")
            ledger.update_session(vault, sid, "audio.import_failed", sid)
        raise
    with vault.db.atomic():
        vault.db.table("recordings").insert(
            {
                "session_id": sid,
                "blob": final.name,
                "codec": codec,
                "rate": rate,
                "channels": channels,
                "state": "complete",
                "chunks": writer.next_index,
                "frames": writer.next_frame,
                "started_at": now_iso(),
                "updated_at": now_iso(),
                "pid": None,
            }
        )
        sessions.set_status(vault, sid, sessions.RECORDED)
        # the chunk count and length are sealed with the session's history
        ledger.update_session(vault, sid, "audio.import", sid, seconds=round(writer.next_frame / rate, 1), codec=codec)
    return writer.next_frame / rate
