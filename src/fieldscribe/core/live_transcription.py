"""Live transcription: while the interview is recorded, a low-priority worker transcribes
each newly sealed stretch of audio, cut at a pause, so that pressing stop leaves only the
last few seconds to do.

It reads the same sealed file the recorder appends to (decrypting in memory), never the
recorder's queue, so it cannot make the recorder lose audio; if it falls behind it simply
has more to do after stop. Its segments are committed as it goes: a crash leaves a
'running' transcript that `fieldscribe transcribe` resumes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import numpy as np

from . import sessions, timeline
from .audio import codec
from .audio.chunkfile import ChunkTail
from .recordings import audio_path, recording_info
from .transcription.engine import SAMPLE_RATE, EngineSettings, transcribe_array
from .transcription.guard import Segment
from .transcripts import (
    Committed,
    begin_transcript,
    commit_segment,
    complete_transcript,
    load_segments,
)
from .vault import Vault

MIN_WINDOW_S = 8.0  # transcribe once this much new audio has arrived …
MAX_WINDOW_S = 20.0  # … cut at the quietest moment, at the latest after this much
QUIET_FRAME_S = 0.3


def find_cut(
    audio: np.ndarray,
    rate: int = SAMPLE_RATE,
    min_s: float = MIN_WINDOW_S,
    max_s: float = MAX_WINDOW_S,
    force: bool = False,
) -> int | None:
    """Where to cut the buffer: the quietest QUIET_FRAME_S after min_s, if it is a pause
    (well below the buffer's speech level) or the buffer is longer than max_s."""
    n = len(audio)
    if n < min_s * rate and not force:
        return None
    frame = int(QUIET_FRAME_S * rate)
    lo = int(min(min_s * rate, n))
    region = audio[lo:]
    if len(region) < frame:
        return n if force else None
    usable = len(region) - len(region) % frame
    energy = np.sqrt(np.mean(region[:usable].reshape(-1, frame) ** 2, axis=1))
    best = int(np.argmin(energy))
    speech_level = float(np.sqrt(np.mean(audio**2))) or 1e-9
    if energy[best] < 0.1 * speech_level or n >= max_s * rate or force:
        return lo + best * frame + frame // 2
    return None


class LiveTranscriber:
    def __init__(
        self,
        vault: Vault,
        session_id: str,
        settings: EngineSettings,
        model_path: Path,
        on_segment: Callable[[Segment], None] | None = None,
    ) -> None:
        self.vault = vault
        self.session_id = session_id
        self.settings = settings
        self.model_path = model_path
        self.on_segment = on_segment
        self._key = sessions.session_key(vault, session_id)
        rec = recording_info(vault, session_id)
        self.transcript = begin_transcript(vault, session_id, settings, rec.seconds if rec else 0.0)
        done = self.transcript.done_s
        self._previous: list[Committed] = list(load_segments(vault, self.transcript, self._key))
        self._tail = ChunkTail(audio_path(vault, session_id), session_id, self._key, vault.aad)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0.0  # session time of _buffer[0]
        self._skip_until = done  # audio already transcribed by an earlier run
        self._stop = threading.Event()
        self._finish = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.windows = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fieldscribe-live", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for chunk in self._tail.read_new():
            fmt = self._tail.format
            assert fmt is not None  # read_new returns chunks only once the file's header is read
            pcm = codec.decode(chunk.payload, fmt.channels).astype(np.float32) / 32768.0
            mono = pcm.mean(axis=1)
            t0 = chunk.start_frame / fmt.rate
            if t0 + len(mono) / fmt.rate <= self._skip_until:
                self._buffer_start = t0 + len(mono) / fmt.rate
                continue
            if not len(self._buffer):
                self._buffer_start = t0
            self._buffer = np.concatenate([self._buffer, mono])

    def transcribe_window(self, cut: int) -> None:
        window = self._buffer[:cut]
        offset = self._buffer_start
        events = timeline.events(self.vault, self.session_id, self._key)
        for seg in transcribe_array(window, self.model_path, self.settings, offset=offset, cancel=self._stop):
            checked = commit_segment(
                self.vault, self.transcript, self._key, seg, self._previous, events, self.settings.prompt()
            )
            if self.on_segment:
                self.on_segment(checked)
        done = offset + cut / SAMPLE_RATE
        with self.vault.db.atomic():
            self.vault.db.execute("UPDATE transcripts SET done_s = ? WHERE id = ?", (done, self.transcript.id))
        self._buffer = self._buffer[cut:]
        self._buffer_start = done
        self.windows += 1

    def _run(self) -> None:
        # below the recorder and the UI: this work may wait, the recording may not (elsewhere
        # than Linux, thread priorities cannot be set; the recorder's queue still protects it)
        with suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        try:
            while not self._stop.is_set():
                self._read()
                finishing = self._finish.is_set()
                cut = find_cut(self._buffer, force=finishing and len(self._buffer) > 0)
                if cut:
                    self.transcribe_window(cut)
                    continue
                if finishing:
                    break
                time.sleep(0.5)
        except BaseException as exc:  # noqa: BLE001 — reported to the owner by finish(); never lost
            self.error = exc

    def finish(self, total_frames: int) -> None:
        """After the recorder stopped: transcribe what is left and complete the transcript."""
        self._finish.set()
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise self.error
        with self.vault.db.atomic():
            self.vault.db.execute(
                "UPDATE transcripts SET total_s = ? WHERE id = ?", (total_frames / SAMPLE_RATE, self.transcript.id)
            )
        complete_transcript(self.vault, self.transcript)

    def abandon(self) -> None:
        """Stop without completing (the transcript stays 'running', resumable)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
