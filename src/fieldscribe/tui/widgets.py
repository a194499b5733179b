"""Small widgets the screens share: the input level meter and the recording-state badge."""

from __future__ import annotations

import math

from textual.reactive import reactive
from textual.widgets import Static


class LevelMeter(Static):
    """Input level in dBFS as a bar, so a dead microphone is noticed within seconds."""

    HELP_KEY = "help.level"  # F1: the microphone's loudness; a flat bar while someone speaks means trouble
    db: reactive[float] = reactive(-math.inf)

    def render(self) -> str:
        from .strings import tr

        mic = tr("meter.mic")
        width = max(10, self.size.width - 14 - len(mic))
        if self.db == -math.inf:
            return f"{mic}  " + "·" * width + f"  {tr('meter.silent')}"
        filled = max(0, min(width, int((self.db + 60) / 60 * width)))
        return f"{mic}  {'█' * filled}{'·' * (width - filled)}  {self.db:5.0f} dB"

    def watch_db(self, db: float) -> None:
        self.set_class(db > -3, "-clipping")
        self.set_class(db == -math.inf or db < -55, "-silent")


class StateBadge(Static):
    """Big, coloured recording state: ready, recording, paused, stopped."""

    state: reactive[str] = reactive("ready")

    def watch_state(self, old: str, new: str) -> None:
        from .strings import tr

        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
        self.update(tr(f"state.{new}"))
