"""The recorder: a sound source's callback only copies blocks into a bounded queue; one
worker thread encodes ~1 s chunks, seals and appends them with fsync, and watches health.

Why this shape: PortAudio calls back on a real-time thread, and any work there (or a GIL
held elsewhere for too long) loses audio. PulseAudio never reports overflows, so lost audio
is also measured independently: frames received against a monotonic clock.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import codec
from .chunkfile import ChunkWriter
from .health import HealthConfig, HealthMonitor, Level, Warning

BlockCallback = Callable[[np.ndarray, bool], None]


class Source(Protocol):
    """Something that delivers int16 blocks of shape (n, channels) on its own thread."""

    rate: int
    channels: int

    def start(self, callback: BlockCallback) -> None: ...
    def stop(self) -> None: ...


@dataclass
class RecorderConfig:
    rate: int = 16000
    channels: int = 1
    device: int | str | None = None
    codec: str = "flac"
    chunk_seconds: float = 1.0
    # 250 ms blocks with high latency delivered every frame under load in our tests
    block_seconds: float = 0.25
    queue_seconds: float = 60.0
    lost_tolerance: float = 0.5  # seconds of clock deficit before we call audio lost
    clock_drift: float = 0.002  # sound-card clocks differ from the monotonic clock
    min_free_bytes: int = 64 * 1024 * 1024
    warn_free_bytes: int = 512 * 1024 * 1024
    disk_check_every: float = 5.0
    health: HealthConfig = field(default_factory=HealthConfig)


class SoundDeviceSource:
    """The real microphone, through sounddevice/PortAudio."""

    def __init__(self, config: RecorderConfig) -> None:
        from .devices import resolve_input, sounddevice

        self._sd = sounddevice()
        self.rate = config.rate
        self.channels = config.channels
        self._device = resolve_input(config.device)
        self._blocksize = max(1, int(config.rate * config.block_seconds))
        self._stream: Any = None  # a sounddevice.InputStream (untyped)

    def start(self, callback: BlockCallback) -> None:
        def on_audio(indata: np.ndarray, _frames: int, _time: Any, status: Any) -> None:  # PortAudio thread: copy only
            callback(indata.copy(), bool(status.input_overflow))

        try:
            self._stream = self._sd.InputStream(
                samplerate=self.rate,
                channels=self.channels,
                dtype="int16",
                device=self._device,
                blocksize=self._blocksize,
                latency="high",
                callback=on_audio,
            )
            self._stream.start()
        except self._sd.PortAudioError as exc:
            from .devices import AudioUnavailable

            raise AudioUnavailable(
                f"The microphone could not be opened at {self.rate} Hz with {self.channels} channel(s) ({exc}); "
                "check `fieldscribe devices` and the --device, --rate and --channels options."
            ) from exc

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


@dataclass
class RecorderStats:
    frames_written: int = 0
    chunks_written: int = 0
    frames_dropped: int = 0  # queue full: the worker could not keep up
    seconds_lost_clock: float = 0.0  # frames the clock says should have come but did not
    overflows: int = 0


class Recorder:
    def __init__(
        self,
        writer: ChunkWriter,
        config: RecorderConfig,
        source: Source | None = None,
        on_level: Callable[[Level], None] | None = None,
        on_warning: Callable[[Warning], None] | None = None,
        free_space: Callable[[Path], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        codec.check_codec(config.codec, config.rate)
        self.config = config
        self.writer = writer
        self.source = source
        self.stats = RecorderStats()
        self.error: BaseException | None = None
        self._on_level = on_level
        self._on_warning = on_warning
        self._free_space = free_space or (lambda p: shutil.disk_usage(p).free)
        self._clock = clock
        block = max(1, int(config.rate * config.block_seconds))
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(
            maxsize=max(4, int(config.queue_seconds * config.rate / block))
        )
        self._chunk_frames = max(1, int(config.rate * config.chunk_seconds))
        self._health = HealthMonitor(config.rate, config.channels, config.health)
        self._warnings: queue.SimpleQueue[Warning] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._paused = False
        self._flush_now = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._accepted = 0  # frames accepted into the queue (not paused, not dropped)
        self._received = 0  # every frame the source delivered, paused ones included
        self._started_at = 0.0
        self._base_frames = writer.next_frame
        self._reported_loss = 0.0
        self._disk_warned = False
        self.stopped_for_disk = False

    # -- control (owner's thread) -------------------------------------------------------------
    def start(self) -> None:
        if self.source is None:
            self.source = SoundDeviceSource(self.config)
        self._check_disk(initial=True)
        self._started_at = self._clock()
        self._worker = threading.Thread(target=self._run, name="fieldscribe-recorder", daemon=True)
        self._worker.start()
        self.source.start(self._on_block)

    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self._flush_now.set()  # make everything before the pause durable now

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def position(self) -> float:
        """Seconds of audio recorded so far in this session (pauses excluded)."""
        return (self._base_frames + self._accepted) / self.config.rate

    def stop(self) -> RecorderStats:
        if self.source is not None:
            self.source.stop()
        self._stop.set()
        while self._worker is not None and self._worker.is_alive():
            try:
                self._queue.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        if self._worker is not None:
            self._worker.join()
        self.writer.close()
        return self.stats

    def take_warnings(self) -> list[Warning]:
        out = []
        while True:
            try:
                out.append(self._warnings.get_nowait())
            except queue.Empty:
                return out

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    # -- the source's thread: copy and count, nothing else ---------------------------------------
    def _on_block(self, block: np.ndarray, overflow: bool) -> None:
        n = len(block)
        self._received += n
        if overflow:
            self.stats.overflows += 1
        if self._paused or self._stop.is_set():
            return
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            self.stats.frames_dropped += n
            return
        self._accepted += n

    # -- the worker -----------------------------------------------------------------------------------
    def _run(self) -> None:
        pending: list[np.ndarray] = []
        pending_frames = 0
        last_disk = last_clock = self._clock()
        dropped_reported = 0
        try:
            while True:
                try:
                    block = self._queue.get(timeout=0.1)
                except queue.Empty:
                    block = np.empty((0, self.config.channels), dtype=np.int16)
                if block is None:
                    break
                if len(block):
                    pending.append(block)
                    pending_frames += len(block)
                    levels, warnings = self._health.feed(block)
                    for level in levels:
                        if self._on_level:
                            self._on_level(level)
                    for w in warnings:
                        self._warn(w)
                while pending_frames >= self._chunk_frames:
                    data = np.concatenate(pending)
                    self._write(data[: self._chunk_frames])
                    rest = data[self._chunk_frames :]
                    pending, pending_frames = ([rest] if len(rest) else []), len(rest)
                if self._flush_now.is_set() and self._queue.empty():
                    self._flush_now.clear()
                    if pending_frames:
                        self._write(np.concatenate(pending))
                        pending, pending_frames = [], 0
                now = self._clock()
                if self.stats.frames_dropped > dropped_reported:
                    lost = (self.stats.frames_dropped - dropped_reported) / self.config.rate
                    dropped_reported = self.stats.frames_dropped
                    self._warn(
                        Warning(
                            "lost_audio",
                            f"About {lost:.1f} s of audio were lost because the computer was too busy; "
                            "close other programs if this repeats.",
                            self.position,
                            lost,
                        )
                    )
                if now - last_clock >= 1.0:
                    last_clock = now
                    self._check_clock(now)
                if now - last_disk >= self.config.disk_check_every:
                    last_disk = now
                    if not self._check_disk():
                        break
            # drain whatever is still queued after stop
            while True:
                try:
                    block = self._queue.get_nowait()
                except queue.Empty:
                    break
                if block is not None and len(block):
                    pending.append(block)
                    pending_frames += len(block)
            tail: np.ndarray | None = np.concatenate(pending) if pending else None
            while tail is not None and len(tail):
                self._write(tail[: self._chunk_frames])
                tail = tail[self._chunk_frames :]
        except OSError as exc:
            self.error = exc
            self._warn(
                Warning(
                    "write_failed",
                    f"Recording stopped: the audio could not be written ({exc.strerror}); everything before "
                    "this moment is saved.",
                    self.position,
                )
            )
        finally:
            self._stop.set()

    def _write(self, pcm: np.ndarray) -> None:
        payload = codec.encode(pcm, self.config.rate, self.config.codec)
        self.writer.append(len(pcm), payload)
        self.stats.frames_written += len(pcm)
        self.stats.chunks_written += 1

    def _warn(self, w: Warning) -> None:
        self._warnings.put(w)
        if self._on_warning:
            self._on_warning(w)

    def _check_clock(self, now: float) -> None:
        elapsed = now - self._started_at
        expected = elapsed * self.config.rate
        block = self.config.rate * self.config.block_seconds
        tolerance = self.config.rate * (self.config.lost_tolerance + self.config.clock_drift * elapsed) + block
        deficit_s = max(0.0, (expected - self._received - tolerance) / self.config.rate)
        if deficit_s - self._reported_loss >= self.config.lost_tolerance:
            lost = deficit_s - self._reported_loss
            self._reported_loss = deficit_s
            self.stats.seconds_lost_clock = deficit_s
            self._warn(
                Warning(
                    "lost_audio",
                    f"About {lost:.1f} s of audio did not arrive from the microphone "
                    "(the sound system stalled); check the recording afterwards.",
                    self.position,
                    lost,
                )
            )

    def _check_disk(self, initial: bool = False) -> bool:
        free = self._free_space(self.writer.path.parent)
        if free < self.config.min_free_bytes:
            from ..errors import DiskFull

            msg = (
                f"The disk is almost full ({free // (1024 * 1024)} MiB free); recording "
                + ("cannot start" if initial else "stopped to keep what was recorded safe")
                + ": free some space."
            )
            if initial:
                raise DiskFull(msg)
            self.stopped_for_disk = True
            self._warn(Warning("disk_full", msg, self.position))
            return False
        if free < self.config.warn_free_bytes and not self._disk_warned:
            self._disk_warned = True
            minutes = free / (self.config.rate * self.config.channels * 2 * 60)
            self._warn(
                Warning(
                    "disk_low",
                    f"Disk space is low ({free // (1024 * 1024)} MiB free, about {minutes:.0f} min of audio); "
                    "free some space soon.",
                    self.position,
                )
            )
        return True
