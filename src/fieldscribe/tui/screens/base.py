"""What every screen shares: the services, one way to report errors, and its help text."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.screen import ModalScreen, Screen

from ...services import FieldscribeError

if TYPE_CHECKING:
    from ...services import Services

T = TypeVar("T")


class Attempt:
    """Run one core call from the UI thread; a typed error becomes one notification sentence."""

    def attempt(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return fn(*args, **kwargs)
        except FieldscribeError as exc:
            from ..strings import error_text

            self.app.notify(error_text(exc), severity="error", timeout=8)  # type: ignore[attr-defined]
            return None

    def emit(self, message) -> None:
        """Tell the App what happened (tests watch it with a message hook), even if this
        screen is about to close."""
        self.app.post_message(message)  # type: ignore[attr-defined]

    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined]


def localise_bindings(node) -> None:
    """Footer labels and help tips from the catalogue of the UI language. Bindings are copied
    per instance by Textual, so this changes this node's labels only (Textual is pinned; a test
    covers it)."""
    from dataclasses import replace

    from ..strings import key_label, key_tip

    node._bindings.key_to_bindings = {
        key: [
            replace(b, description=key_label(b.id, b.description), tooltip=key_tip(b.id, b.tooltip)) for b in bindings
        ]
        for key, bindings in node._bindings.key_to_bindings.items()
    }


class BaseScreen(Attempt, Screen):
    # shown by F1 when the focused widget has no help of its own
    HELP = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localise_bindings(self)


class BaseModal(Attempt, ModalScreen):
    HELP = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localise_bindings(self)
