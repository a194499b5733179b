"""What the app said, seen from the test side: pass a :class:`Messages` to
``app.run_test(message_hook=...)`` and assert on the messages the app's screens and workers
posted. The App itself keeps no copy of them (they can carry decrypted text)."""

from __future__ import annotations

from typing import TypeVar

from textual.message import Message

from fieldscribe.tui.messages import AppEvent

E = TypeVar("E", bound=AppEvent)


class Messages:
    """Every :class:`AppEvent` dispatched anywhere in the app, once each, in order.

    Textual calls the hook each time a node dispatches a message, so a message that bubbles
    (screen, then App) passes by more than once: it is kept the first time only."""

    def __init__(self) -> None:
        self.seen: list[AppEvent] = []
        self._ids: set[int] = set()

    def __call__(self, message: Message) -> None:
        if isinstance(message, AppEvent) and id(message) not in self._ids:
            self._ids.add(id(message))  # the message is in `seen`, so its id is not reused
            self.seen.append(message)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.seen if isinstance(e, kind)]

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.seen]
