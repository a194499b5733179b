"""Playing a stretch of a session through the speakers, decrypted in memory only."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..vault import Vault
from .devices import sounddevice
from .store import read_audio


def play(
    vault: Vault,
    session_id: str,
    start: float = 0.0,
    end: float | None = None,
    device: int | str | None = None,
    cancel: threading.Event | None = None,
) -> float:
    """Play [start, end) and block until done or cancelled; returns seconds played."""
    sd = sounddevice()
    pcm, rate = read_audio(vault, session_id, start, end)
    if not len(pcm):
        return 0.0
    done = threading.Event()
    position = 0
    # Stopping a stream can drop what is still buffered in the sound server, so play half a
    # second of silence after the end: the last words of a segment are the ones that matter.
    end_frame = len(pcm) + rate // 2

    def callback(outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        nonlocal position
        chunk = pcm[position : position + frames]
        outdata[: len(chunk)] = chunk
        outdata[len(chunk) :] = 0
        position += frames
        if position >= end_frame or (cancel is not None and cancel.is_set()):
            raise sd.CallbackStop

    with sd.OutputStream(
        samplerate=rate,
        channels=pcm.shape[1],
        dtype="int16",
        device=device,
        callback=callback,
        finished_callback=done.set,
    ):
        while not done.wait(0.1):
            if cancel is not None and cancel.is_set():
                break
    return min(position, len(pcm)) / rate
