"""The app's settings, each read from one environment variable so a study team can set them
once in a shell profile or launcher.

FIELDSCRIBE_IDLE_LOCK   seconds without a key press before the vault locks itself (default
                        300; 0 turns auto-lock off). A running recording is never interrupted:
                        the lock waits until it stops.
FIELDSCRIBE_LIVE        1 (default) transcribes while recording; 0 leaves it for later, which
                        spares the CPU on a slow laptop.
FIELDSCRIBE_UI_LANGUAGE en or zh; by default the study's language once the vault is open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..core.errors import InvalidInput


@dataclass
class Settings:
    idle_lock_s: float = 300.0
    live_transcription: bool = True
    language: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get("FIELDSCRIBE_IDLE_LOCK", "300")
        try:
            idle = float(raw)
        except ValueError:
            raise InvalidInput(f"FIELDSCRIBE_IDLE_LOCK={raw!r} is not a number of seconds; use e.g. 300.") from None
        live = os.environ.get("FIELDSCRIBE_LIVE", "1").strip().lower() not in ("0", "no", "false", "off")
        language = os.environ.get("FIELDSCRIBE_UI_LANGUAGE") or None
        return cls(idle, live, language)
