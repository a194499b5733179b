"""The interactive app's only door into the core.

The Textual app is handed a :class:`Services` for one vault folder (tests hand it one with a
fake sound source) and calls plain, blocking methods from its thread workers. What comes
back is a view (``views``): frozen values with what a screen shows, never a core record; a
recording is driven through an :class:`Interview`; what can go wrong arrives as one of the
typed errors re-exported here, each with its one sentence for the user. Nothing in this
package imports Textual, so another front end could use it, and import-linter keeps the app
from going around it (pyproject: "the app reaches the core only through services").
"""

from __future__ import annotations

from ..core.errors import FieldscribeError, InvalidInput, NotEligible, StoreUnreachable
from ..core.vault import Locked
from . import views
from .app_services import TAMPERED, Services
from .interview import NOTE_PRESETS, Interview

__all__ = [
    "NOTE_PRESETS",
    "TAMPERED",
    "FieldscribeError",
    "Interview",
    "InvalidInput",
    "Locked",
    "NotEligible",
    "Services",
    "StoreUnreachable",
    "views",
]
