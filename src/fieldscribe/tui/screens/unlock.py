"""Unlock: the only screen shown before the passphrase; nothing decrypted exists yet."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.widgets import Input, Label, Static

from ...services import FieldscribeError
from ..messages import Unlocked, UnlockFailed
from ..strings import error_text, tr
from ..widgets import FieldFooter
from .base import BaseScreen


class UnlockScreen(BaseScreen):
    BINDINGS = [
        Binding(
            "ctrl+r",
            "toggle_recovery",
            "Recovery key",
            id="unlock.recovery",
            tooltip="Unlock with the recovery key instead of the passphrase",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.recovery = False

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="unlock-box"):
            yield Static("fieldscribe", id="brand")
            yield Label(tr("unlock.title"), id="unlock-title")
            yield Label(tr("unlock.prompt"), id="unlock-label")
            yield Input(password=True, id="passphrase", placeholder="••••••••")
            yield Static("", id="unlock-error")
            yield Static(tr("unlock.hint"), id="unlock-hint")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Ready for a passphrase again (after a lock)."""
        field = self.query_one("#passphrase", Input)
        field.disabled = False
        field.value = ""
        field.focus()
        self.query_one("#unlock-error", Static).update("")

    def action_toggle_recovery(self) -> None:
        self.recovery = not self.recovery
        field = self.query_one("#passphrase", Input)
        field.value = ""
        field.password = not self.recovery
        field.placeholder = "XXXX-XXXX-…" if self.recovery else "••••••••"
        self.query_one("#unlock-label", Label).update(tr("unlock.recovery" if self.recovery else "unlock.prompt"))

    @on(Input.Submitted, "#passphrase")
    def submit(self, event: Input.Submitted) -> None:
        if not event.value:
            self.query_one("#unlock-error", Static).update(tr("unlock.empty"))
            return
        self.query_one("#unlock-error", Static).update(tr("unlock.working"))
        event.input.disabled = True
        self.unlock(event.value, self.recovery)

    @work(thread=True, exclusive=True, exit_on_error=False, group="unlock")
    def unlock(self, secret: str, recovery: bool) -> None:
        # Argon2id takes a noticeable moment: never on the UI thread
        try:
            if recovery:
                recovered = self.services.unlock_with_recovery_key(secret)
            else:
                recovered = self.services.unlock(secret)
        except FieldscribeError as exc:
            self.post_message(UnlockFailed(error_text(exc)))
            return
        self.post_message(Unlocked(recovered))

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR and event.worker.group == "unlock":
            self.reset()  # the App has said what went wrong; the passphrase can be typed again

    def on_unlock_failed(self, message: UnlockFailed) -> None:
        self.reset()
        self.query_one("#unlock-error", Static).update(message.error)
