"""A short recording held in memory only: the interviewer's voice-profile reading.

Nothing here touches disk. The source's callback only copies blocks (as the recorder's does);
the caller's thread waits until enough audio has come, or until it is cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from .recorder import Source


def capture(
    source: Source,
    seconds: float,
    *,
    on_level: Callable[[float], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
    timeout_factor: float = 3.0,
) -> np.ndarray:
    """SECONDS of audio from SOURCE as float32 mono in [-1, 1] (fewer if CANCEL is set).
    ON_LEVEL gets each block's loudness in dBFS (as the recorder's meter) and ON_PROGRESS the seconds captured, both on the
    source's thread. Gives up after TIMEOUT_FACTOR × SECONDS if the source delivers too little."""
    blocks: list[np.ndarray] = []
    have = [0]
    enough = threading.Event()
    wanted = int(seconds * source.rate)

    def on_block(block: np.ndarray, _overflow: bool) -> None:
        if enough.is_set():
            return
        mono = block.astype(np.float32).mean(axis=1) / 32768.0
        blocks.append(mono)
        have[0] += len(mono)
        if on_level is not None:
            rms = float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) if len(mono) else 0.0
            on_level(20 * float(np.log10(max(rms, 1e-6))))
        if on_progress is not None:
            on_progress(have[0] / source.rate)
        if have[0] >= wanted:
            enough.set()

    source.start(on_block)
    deadline = time.monotonic() + seconds * timeout_factor
    try:
        while not enough.wait(0.05):
            if (cancel is not None and cancel.is_set()) or time.monotonic() > deadline:
                break
    finally:
        source.stop()
        enough.set()
    audio = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return audio[:wanted]
