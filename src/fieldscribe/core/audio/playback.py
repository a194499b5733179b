"""Playing a stretch of a session through the speakers, decrypted in memory only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..vault import Vault
from .devices import sounddevice
from .store import read_audio

TICK_S = 0.05  # how often the playing thread looks at `cancel` (so a stop takes at most this)
POSITION_EVERY_S = 0.2  # how often `on_position` is called while playing


def play(
    vault: Vault,
    session_id: str,
    start: float = 0.0,
    end: float | None = None,
    device: int | str | None = None,
    cancel: threading.Event | None = None,
    on_position: Callable[[float], None] | None = None,
) -> float:
    """Play [start, end) and block until done or cancelled; returns seconds played.

    ``on_position(seconds)`` is called from the calling thread (never from the audio
    callback) about five times a second, and once more at the end, with the seconds heard so
    far counted from ``start`` (the device's output latency taken off); add ``start`` for the
    position in the session. Setting ``cancel`` stops the sound within about 50 ms: what is
    still buffered in the device is dropped, not played out."""
    sd = sounddevice()
    pcm, rate = read_audio(vault, session_id, start, end)
    if not len(pcm):
        if on_position is not None:
            on_position(0.0)
        return 0.0
    done = threading.Event()
    position = 0
    # Stopping a stream can drop what is still buffered in the sound server, so play half a
    # second of silence after the end: the last words of a segment are the ones that matter.
    end_frame = len(pcm) + rate // 2
    length = len(pcm) / rate

    def callback(outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        nonlocal position
        chunk = pcm[position : position + frames]
        outdata[: len(chunk)] = chunk
        outdata[len(chunk) :] = 0
        position += frames
        if cancel is not None and cancel.is_set():
            raise sd.CallbackAbort  # drop what the device still holds: a stop is heard as a stop
        if position >= end_frame:
            raise sd.CallbackStop  # play out what the device holds, then finish

    def heard(latency: float) -> float:
        return min(max(position / rate - latency, 0.0), length)

    with sd.OutputStream(
        samplerate=rate,
        channels=pcm.shape[1],
        dtype="int16",
        device=device,
        callback=callback,
        finished_callback=done.set,
    ) as stream:
        latency = _latency(stream)
        next_report = time.monotonic()
        while not done.wait(TICK_S):
            if cancel is not None and cancel.is_set():
                break
            if on_position is not None and time.monotonic() >= next_report:
                on_position(heard(latency))
                next_report = time.monotonic() + POSITION_EVERY_S
        cancelled = cancel is not None and cancel.is_set()
        if cancelled:
            stream.abort()  # at once, even if the callback has not run since
    played = heard(latency) if cancelled else min(position, len(pcm)) / rate
    if on_position is not None:
        on_position(played)
    return played


def _latency(stream: Any) -> float:
    """The stream's output latency in seconds (0 where the backend does not say)."""
    try:
        latency = float(stream.latency)
    except (AttributeError, TypeError, ValueError):
        return 0.0
    return latency if 0.0 <= latency < 5.0 else 0.0
