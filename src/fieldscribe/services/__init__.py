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

import importlib
from typing import TYPE_CHECKING, Any

from ..core.errors import FieldscribeError, InvalidInput, NotEligible, StoreUnreachable

if TYPE_CHECKING:
    from ..core.vault import Locked
    from . import views
    from .app_services import TAMPERED, Services
    from .interview import NOTE_PRESETS, Interview

# Loaded on first use, not when the package is imported: the app imports this package before
# it draws the unlock screen, and the core behind Services (the database layer, the study
# models) is most of the start-up time (scripts/bench_startup.py).
_LAZY = {
    "Locked": "..core.vault",
    "views": ".views",
    "TAMPERED": ".app_services",
    "Services": ".app_services",
    "NOTE_PRESETS": ".interview",
    "Interview": ".interview",
}

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


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(where, __name__)
    value = module if name == "views" else getattr(module, name)
    globals()[name] = value
    return value
