"""One recording run of a session, wired to the vault: the consent gate, the sealed chunk
file, the timeline, and what happens at stop — or after a crash.

The recorder's worker thread only touches the audio file; everything that goes into SQLite
(timeline events, warnings, status) happens on the owner's thread through this object.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import ledger, sessions, timeline
from .audio import codec as codec_mod
from .audio import health
from .audio.chunkfile import AudioFormat, ChunkWriter, read_header
from .audio.recorder import Recorder, RecorderConfig, Source
from .audit import now_iso
from .errors import InvalidInput, InvalidTransition, RecordingFailed
from .live_transcription import LiveTranscriber
from .recordings import RecordingInfo, audio_path, recording_info
from .transcription.engine import EngineSettings
from .transcription.guard import Segment
from .transcripts import settings_for
from .vault import Vault


class RecordingRun:
    """Owns a Recorder for one session; call :meth:`poll` regularly and :meth:`stop` at the end."""

    def __init__(
        self, vault: Vault, session_id: str, recorder: Recorder, key: bytes, live: LiveTranscriber | None = None
    ) -> None:
        self.vault = vault
        self.session_id = session_id
        self.recorder = recorder
        self._key = key
        self.live = live
        self.warnings: list[health.Warning] = []
        self.finish_seconds: float | None = None  # stop -> complete live transcript

    @property
    def position(self) -> float:
        return self.recorder.position

    def mark(self, kind: str, *, at: float | None = None, **data: Any) -> timeline.Event:
        """Stamp an event at the current audio position (question shown, note, flag …), or at
        `at`: the moment a key was pressed, for a note typed over the following seconds."""
        t = self.recorder.position if at is None else at
        return timeline.add_event(self.vault, self.session_id, kind, t, key=self._key, **data)

    def pause(self) -> None:
        self.recorder.pause()
        self.mark(timeline.PAUSE)

    def resume(self) -> None:
        self.recorder.resume()
        self.mark(timeline.RESUME)

    def poll(self) -> list[health.Warning]:
        """Persist new health warnings to the timeline; return them for display."""
        new = self.recorder.take_warnings()
        for w in new:
            if w.kind in ("lost_audio", "disk_full", "disk_low", "write_failed", "silence", "clipping"):
                timeline.add_event(
                    self.vault,
                    self.session_id,
                    timeline.WARNING,
                    w.t,
                    key=self._key,
                    warning=w.kind,
                    message=w.message,
                    seconds=round(w.seconds, 3),
                )
        self.warnings.extend(new)
        return new

    @property
    def running(self) -> bool:
        return self.recorder.running

    def stop(self) -> RecordingInfo:
        stats = self.recorder.stop()
        self.poll()
        ledger.check_session(self.vault, self.session_id)
        with self.vault.db.atomic():
            self.vault.db.execute(
                "UPDATE recordings SET state = 'complete', chunks = ?, frames = ?, updated_at = ?, pid = NULL "
                "WHERE session_id = ?",
                (self.recorder.writer.next_index, self.recorder.writer.next_frame, now_iso(), self.session_id),
            )
            sessions.set_status(self.vault, self.session_id, sessions.RECORDED)
            # the final chunk count and length are sealed here, with the timeline
            ledger.update_session(
                self.vault,
                self.session_id,
                "recording.stop",
                self.session_id,
                seconds=round(self.recorder.writer.next_frame / self.recorder.config.rate, 1),
                chunks_this_run=stats.chunks_written,
                frames_dropped=stats.frames_dropped,
                lost_seconds=round(stats.seconds_lost_clock, 2),
                stopped_for_disk=self.recorder.stopped_for_disk,
            )
        if self.live is not None and self.recorder.error is None:
            started = time.monotonic()
            self.live.finish(self.recorder.writer.next_frame)
            self.finish_seconds = time.monotonic() - started
        elif self.live is not None:
            self.live.abandon()
        if self.recorder.error is not None:
            err = self.recorder.error
            saved = self.recorder.writer.next_frame / self.recorder.config.rate
            raise RecordingFailed(
                f"Recording stopped early because the audio could not be written "
                f"({getattr(err, 'strerror', None) or err}); the first {saved:.0f} s are saved — "
                "free disk space or check the drive, then record again to continue the session."
            ) from err
        info = recording_info(self.vault, self.session_id)
        assert info is not None
        return info


def begin_recording(
    vault: Vault,
    session_id: str,
    config: RecorderConfig | None = None,
    *,
    source: Source | None = None,
    on_level: Callable[[health.Level], None] | None = None,
    on_warning: Callable[[health.Warning], None] | None = None,
    free_space: Callable[[Path], int] | None = None,
    live: bool = False,
    live_model: str | None = None,
    on_segment: Callable[[Segment], None] | None = None,
) -> RecordingRun:
    """Check consent, open (or continue) the session's sealed audio file and start recording."""
    config = config or RecorderConfig()
    session = sessions.get_session(vault, session_id)
    sid = session.id
    if session.status == sessions.RECORDING:
        raise InvalidTransition(f"Session {sid} was interrupted while recording; run `fieldscribe recover` first.")
    existing = recording_info(vault, sid)
    path = audio_path(vault, sid)
    if existing is not None:
        _sid, fmt, _ = read_header(path)
        if (fmt.rate, fmt.channels) != (config.rate, config.channels):
            raise InvalidInput(
                f"Session {sid} was recorded at {fmt.rate} Hz with {fmt.channels} channel(s); "
                "continue it with the same --rate and --channels."
            )
        config.codec = fmt.codec  # one file, one codec
    fmt = AudioFormat(config.codec, config.rate, config.channels)
    codec_mod.check_codec(fmt.codec, fmt.rate)
    live_settings: EngineSettings | None = None
    live_model_path: Path | None = None
    if live:  # resolve the model before anything changes, so a missing model changes nothing
        live_settings, live_info = settings_for(vault, sid, live_model, None)
        # one thread: the other core stays free for the recorder and the interface
        live_settings = replace(live_settings, cpu_threads=1)
        live_model_path = live_info.path
    sessions.start_recording(vault, sid)  # the consent gate; status -> recording
    key = sessions.session_key(vault, sid)
    writer = ChunkWriter(
        path,
        sid,
        fmt,
        key,
        vault.aad,
        next_index=existing.chunks if existing else 0,
        next_frame=existing.frames if existing else 0,
    )
    with vault.db.atomic():
        vault.db.table("recordings").upsert(
            {
                "session_id": sid,
                "blob": path.name,
                "codec": fmt.codec,
                "rate": fmt.rate,
                "channels": fmt.channels,
                "state": "recording",
                "chunks": writer.next_index,
                "frames": writer.next_frame,
                "started_at": now_iso(),
                "updated_at": now_iso(),
                "pid": os.getpid(),
            },
            pk="session_id",
        )
        ledger.update_session(
            vault,
            sid,
            "recording.start",
            sid,
            codec=fmt.codec,
            rate=fmt.rate,
            channels=fmt.channels,
            resumed_at=round(writer.next_frame / fmt.rate, 1),
        )
    recorder = Recorder(writer, config, source=source, on_level=on_level, on_warning=on_warning, free_space=free_space)
    try:
        recorder.start()
    except BaseException:
        writer.close()
        with vault.db.atomic():
            # nothing was recorded: back to where the session was, so it can be recorded again
            sessions.set_status(
                vault, sid, sessions.RECORDED if existing else sessions.PLANNED, reason="the recorder failed to start"
            )
            vault.db.execute(
                "UPDATE recordings SET state = ?, updated_at = ? WHERE session_id = ?",
                ("complete" if existing else "failed", now_iso(), sid),
            )
            ledger.update_session(vault, sid, "recording.failed_to_start", sid)
        raise
    transcriber = None
    if live_settings is not None:
        assert live_model_path is not None  # resolve_model returns installed models only
        transcriber = LiveTranscriber(vault, sid, live_settings, live_model_path, on_segment=on_segment)
        transcriber.start()
    return RecordingRun(vault, sid, recorder, key, live=transcriber)
