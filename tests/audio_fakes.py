"""Test doubles for the recorder's sound source (the real one is tested in test_e2e_record).

`ArraySource` delivers a numpy array in blocks from its own thread — like PortAudio's
callback thread — either in real time (for crash and clock tests) or as fast as possible.
"""

from __future__ import annotations

import threading
import time

import numpy as np


def speechlike(seconds: float, rate: int = 16000, channels: int = 1, seed: int = 7) -> np.ndarray:
    """Deterministic, non-repeating int16 audio with syllable-like bursts and pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    envelope = (np.sin(2 * np.pi * 3.1 * t) > -0.2).astype(np.float32) * (
        0.4 + 0.6 * np.abs(np.sin(2 * np.pi * 0.37 * t))
    )
    tone = np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * 0.5 * t)) * t)
    noise = rng.normal(0, 0.15, n)
    mono = ((tone + noise) * envelope * 9000).astype(np.int16)
    if channels == 1:
        return mono.reshape(-1, 1)
    other = (np.roll(mono, 977) // 2).astype(np.int16)
    return np.stack([mono, other], axis=1)


class ArraySource:
    def __init__(
        self, data: np.ndarray, rate: int = 16000, block: int = 1600, realtime: bool = False, skip_every: int = 0
    ) -> None:
        self.data = data
        self.rate = rate
        self.channels = data.shape[1]
        self.block = block
        self.realtime = realtime
        self.skip_every = skip_every  # drop every Nth block silently (a stalled sound server)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = threading.Event()

    def start(self, callback) -> None:
        def run() -> None:
            start = time.monotonic()
            for i, pos in enumerate(range(0, len(self.data), self.block)):
                if self._stop.is_set():
                    break
                if self.realtime:
                    due = start + (pos + self.block) / self.rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                if self.skip_every and i % self.skip_every == self.skip_every - 1:
                    continue
                callback(self.data[pos : pos + self.block].copy(), False)
            self.done.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
