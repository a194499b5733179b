"""Is the microphone working? Levels for the meter, and warnings a person must act on.

Pure functions of the samples and the clock, so they are tested without any device: the
recorder feeds every block it receives and forwards what comes out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FULL_SCALE = 32768.0


@dataclass(frozen=True)
class Level:
    """One meter reading over ~100 ms: dBFS per channel (−inf for digital silence)."""

    t: float
    rms_db: tuple[float, ...]
    peak_db: tuple[float, ...]


@dataclass(frozen=True)
class Warning:
    kind: str  # silence | sound_back | clipping | lost_audio | overflow | disk_low | disk_full
    message: str
    t: float  # position in the recording (seconds)
    seconds: float = 0.0


def to_db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


@dataclass
class HealthConfig:
    meter_interval: float = 0.1
    silence_after: float = 10.0  # warn after this long below silence_db
    silence_db: float = -55.0
    clip_level: float = 0.99  # of full scale
    clip_min_samples: int = 3  # consecutive-ish clipped samples in one meter window
    clip_repeat: float = 5.0  # do not repeat the clipping warning more often


class HealthMonitor:
    def __init__(self, rate: int, channels: int, config: HealthConfig | None = None) -> None:
        self.rate = rate
        self.channels = channels
        self.config = config or HealthConfig()
        self._window = max(1, int(rate * self.config.meter_interval))
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0
        self._frames = 0
        self._quiet_since: float | None = 0.0
        self._silence_warned = False
        self._last_clip_warning = -math.inf

    def feed(self, block: np.ndarray) -> tuple[list[Level], list[Warning]]:
        """Feed int16 frames (n, channels); return completed meter readings and new warnings."""
        levels: list[Level] = []
        warnings: list[Warning] = []
        self._pending.append(block)
        self._pending_frames += len(block)
        if self._pending_frames < self._window:
            return levels, warnings
        data = np.concatenate(self._pending)
        self._pending, self._pending_frames = [], 0
        usable = len(data) - len(data) % self._window
        if usable < len(data):
            self._pending, self._pending_frames = [data[usable:]], len(data) - usable
        for start in range(0, usable, self._window):
            window = data[start : start + self._window].astype(np.float32) / FULL_SCALE
            self._frames += len(window)
            t = self._frames / self.rate
            rms = np.sqrt(np.mean(window * window, axis=0))
            peak = np.max(np.abs(window), axis=0)
            level = Level(t, tuple(to_db(float(r)) for r in rms), tuple(to_db(float(p)) for p in peak))
            levels.append(level)
            warnings.extend(self._judge(t, window, max(level.rms_db)))
        return levels, warnings

    def _judge(self, t: float, window: np.ndarray, loudest_db: float) -> list[Warning]:
        out = []
        cfg = self.config
        if loudest_db < cfg.silence_db:
            if self._quiet_since is None:
                self._quiet_since = t - cfg.meter_interval
            elif not self._silence_warned and t - self._quiet_since >= cfg.silence_after:
                self._silence_warned = True
                out.append(
                    Warning(
                        "silence",
                        f"No sound from the microphone for {t - self._quiet_since:.0f} s: check it is plugged in, "
                        "switched on and not muted.",
                        t,
                        t - self._quiet_since,
                    )
                )
        else:
            if self._silence_warned:
                out.append(Warning("sound_back", "The microphone is picking up sound again.", t))
            self._quiet_since = None
            self._silence_warned = False
        clipped = int(np.count_nonzero(np.abs(window) >= cfg.clip_level))
        if clipped >= cfg.clip_min_samples and t - self._last_clip_warning >= cfg.clip_repeat:
            self._last_clip_warning = t
            out.append(
                Warning(
                    "clipping",
                    "The input is too loud and is clipping: move the microphone away or lower the input gain.",
                    t,
                )
            )
        return out
