"""Every key binding's id, the names a user keymap file may remap (see :mod:`.settings`).

The App's own bindings live here so the settings can list them without importing the App,
which imports the settings."""

from __future__ import annotations

from textual.binding import Binding, BindingType

APP_BINDINGS: list[BindingType] = [
    Binding("f1", "help", "Help", id="app.help", tooltip="Help for what has focus, and the keys here"),
    Binding("ctrl+l", "lock", "Lock", id="app.lock", tooltip="Lock the vault and clear the screen"),
    Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit (all work is saved; asks first while recording)"),
]


SCREEN_MODULES = (
    "dialogs",
    "enrol",
    "help",
    "home",
    "interview",
    "participant",
    "planning",
    "review",
    "review_marks",
    "study_settings",
    "unlock",
    "voice_profiles",
)


def binding_ids() -> frozenset[str]:
    """The ids of the App's bindings and of every screen's own bindings (the screens are
    imported here, not at start-up: the unlock screen needs none of them)."""
    import importlib

    ids: set[str] = set()
    for b in APP_BINDINGS:
        if isinstance(b, Binding) and b.id:
            ids.add(b.id)
    modules = [importlib.import_module(f"{__package__}.screens.{name}") for name in SCREEN_MODULES]
    for module in modules:
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__:
                for b in vars(obj).get("BINDINGS", ()):
                    if isinstance(b, Binding) and b.id:
                        ids.add(b.id)
    return frozenset(ids)
